"""What a backtest produces: the contract between the runner and metrics / reports.

Arrays are numpy; money in trades and fills is Decimal (exact), the equity curve is float64
(for plotting and statistics). ``trades``, ``fills``, ``orders`` and ``funding`` are sequences:
the event engine hands over lists, the fast path :class:`LazyRecords` that know their length
at once and build their (exact, ``Decimal``) objects the first time an item is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, overload

import numpy as np
from sparkstacker.model import Fill, Order

T = TypeVar("T")


class LazyRecords(Sequence[T]):
    """A sequence whose length is known up front and whose items are built on first read.

    ``len()`` and truthiness cost nothing; indexing, iterating or comparing builds every item
    once (``build`` returns them all, in order) and keeps them. Compares equal to any sequence
    with the same items, like a list.
    """

    __slots__ = ("_build", "_items", "_length")

    def __init__(self, length: int, build: Callable[[], list[T]]) -> None:
        self._length = length
        self._build: Callable[[], list[T]] | None = build
        self._items: list[T] | None = None

    @property
    def built(self) -> bool:
        """Whether the items exist yet."""
        return self._items is not None

    def _all(self) -> list[T]:
        if self._items is None:
            assert self._build is not None
            items = self._build()
            if len(items) != self._length:
                raise RuntimeError(
                    f"a lazy record sequence announced {self._length} items and built {len(items)}"
                )
            self._items, self._build = items, None
        return self._items

    def __len__(self) -> int:
        return self._length

    def __bool__(self) -> bool:
        return self._length > 0

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        return self._all()[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == self._length and list(other) == self._all()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        state = "built" if self._items is not None else "not built yet"
        return f"LazyRecords({self._length} items, {state})"


class LazyCurves(Mapping[str, np.ndarray]):
    """Named curves (``equity_by_leg``), each computed the first time it is read."""

    __slots__ = ("_build", "_done")

    def __init__(self, build: Mapping[str, Callable[[], np.ndarray]]) -> None:
        self._build = dict(build)
        self._done: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = self._build[key]()
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._build)

    def __len__(self) -> int:
        return len(self._build)

    def __repr__(self) -> str:
        return f"LazyCurves({list(self._build)})"


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One closed (or still open at the end) position of one strategy leg."""

    strategy: str
    leg: str  # "main" or "hedge"
    venue: str
    symbol: str
    direction: str  # "long" or "short"
    size: Decimal  # largest absolute size held
    entry_time: datetime
    entry_price: Decimal  # volume-weighted
    exit_time: datetime | None
    exit_price: Decimal | None
    pnl: Decimal  # realised price PnL, before fees and funding
    fees: Decimal
    funding: Decimal  # paid (negative: received)
    bars_held: int
    exit_reason: str | None = None
    liquidated: bool = False

    @property
    def net_pnl(self) -> Decimal:
        return self.pnl - self.fees - self.funding

    @property
    def is_open(self) -> bool:
        return self.exit_time is None


@dataclass(frozen=True, slots=True)
class FundingPayment:
    timestamp: datetime
    venue: str
    symbol: str
    rate: Decimal
    payment: Decimal  # paid by us; negative = received


@dataclass(frozen=True)
class MarketSeries:
    """Prices of one market on the run's timeline, for charts (entries/exits over price)."""

    venue: str
    symbol: str
    timeframe: str
    timestamp: np.ndarray  # epoch ms, bar open
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    synthetic: bool = False
    origin: str = ""


@dataclass
class BacktestResult:
    """Everything a report needs. ``equity`` is account equity at each bar close of
    ``timestamp`` (the run's base timeline), summed over every simulated account."""

    run_id: str
    rule_files: tuple[str, ...]
    strategies: tuple[str, ...]
    initial_equity: Decimal
    timestamp: np.ndarray  # epoch ms, bar close times of the base timeline
    equity: np.ndarray  # float64, same length
    equity_by_leg: Mapping[str, np.ndarray]  # "main" / "hedge" → equity contribution (PnL)
    trades: Sequence[RoundTrip]
    fills: Sequence[Fill]
    orders: Sequence[Order]
    funding: Sequence[FundingPayment]
    markets: list[MarketSeries]
    liquidations: int = 0
    risk_events: list[dict[str, Any]] = field(default_factory=list)
    governor_actions: list[dict[str, Any]] = field(default_factory=list)
    assumptions: dict[str, str] = field(default_factory=dict)
    engine: str = "event"  # "event" or "fast"
    bars: int = 0
    elapsed_seconds: float = 0.0

    def __repr__(self) -> str:
        return (
            f"BacktestResult(run_id={self.run_id!r}, engine={self.engine!r}, bars={self.bars}, "
            f"trades={len(self.trades)}, fills={len(self.fills)}, "
            f"final_equity={self.final_equity:.2f})"
        )

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if len(self.equity) else float(self.initial_equity)

    @property
    def synthetic_data(self) -> bool:
        return any(m.synthetic for m in self.markets)
