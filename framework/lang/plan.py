"""The compiled plan: what the rule language hands to the engine.

This module is the contract between ``sparkstacker.lang`` (which builds plans from rule files)
and the engine, risk governor, hedge coordinator and backtester (which run them). It holds
plain, frozen data plus two evaluation forms of a strategy's signals:

* ``plan.prepare(frame)`` — vectorised: computes every state-free series over whole arrays
  once (backtests); ``prepared.decide(i, state)`` then reads bar ``i``.
* ``plan.stream()`` — incremental: ``stream.update(bar, state)`` one bar at a time (live).

Both give identical decisions for identical bars and states; state-free entries/exits are also
exposed as whole boolean arrays for the vectorised fast path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

import numpy as np

# ---- data crossing the boundary -------------------------------------------------------------


@dataclass(frozen=True)
class BarFrame:
    """OHLCV arrays of one market at one timeframe; ``timestamp`` is bar open time in epoch ms.

    ``funding`` (rate per interval, aligned to bars, NaN where none) is optional.
    """

    timeframe: str
    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    funding: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.close)

    def field(self, name: str) -> np.ndarray:
        value: np.ndarray = getattr(self, name)
        return value


@dataclass(frozen=True)
class StrategyState:
    """Engine state a rule may read (``position``, ``entry_price``, ``bars_held``, …).

    ``position`` is the signed size in base units (0 when flat). Money is in quote currency.
    """

    position: float = 0.0
    entry_price: float = float("nan")
    bars_held: int = 0
    unrealized_pnl: float = 0.0
    equity: float = 0.0
    funding_rate: float = 0.0
    mark_price: float = float("nan")


FLAT_STATE = StrategyState()


@dataclass(frozen=True)
class OrderStyle:
    """How an entry is executed: at market, or a limit (optionally post-only) at a price."""

    kind: Literal["market", "limit"] = "market"
    post_only: bool = False


@dataclass(frozen=True)
class BarDecision:
    """What the strategy wants at the close of one bar. Prices are floats (engine rounds them)."""

    enter_long: bool = False
    enter_short: bool = False
    exit_long: bool = False
    exit_short: bool = False
    confidence: float = 1.0
    limit_price: float | None = None
    style: OrderStyle = OrderStyle()
    reasons: tuple[str, ...] = ()


NO_DECISION = BarDecision()


class PreparedStrategy(Protocol):
    """A plan evaluated over one :class:`BarFrame` (vectorised)."""

    length: int
    warmup_bars: int
    state_free: bool
    """True when no condition reads engine state: ``entries``/``exits`` are then complete."""

    def decide(self, index: int, state: StrategyState) -> BarDecision: ...

    def arrays(self) -> Mapping[str, np.ndarray]:
        """Named series (indicator outputs, conditions) for ``explain`` and reports."""
        ...

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(enter_long, enter_short) boolean arrays; only meaningful when ``state_free``."""
        ...

    def exits(self) -> tuple[np.ndarray, np.ndarray]:
        """(exit_long, exit_short) boolean arrays; only meaningful when ``state_free``."""
        ...


class StrategyStream(Protocol):
    """A plan evaluated one bar at a time (live and paper runs)."""

    def update(self, bar: Mapping[str, float], state: StrategyState) -> BarDecision:
        """``bar`` has open/high/low/close/volume/timestamp (ms) and, if known, funding."""
        ...


# ---- compiled clauses -----------------------------------------------------------------------


@dataclass(frozen=True)
class SizingSpec:
    sizer: str
    params: Any  # an instance of the sizer's params_model (validated at compile time)


@dataclass(frozen=True)
class HedgeSpec:
    """``hedge ratio 20%, leverage 5x, on hyperliquid, within 10s else unwind``."""

    ratio: Decimal  # fraction of the filled main size, 0 < ratio <= 1
    leverage: Decimal
    venue: str
    symbol: str | None  # None: same market as the main leg
    account: str | None  # sub-account / vault name for one-way venues
    within: timedelta
    on_timeout: Literal["unwind", "retry", "keep"]
    retries: int = 0


@dataclass(frozen=True)
class MarginWarning:
    """When the margin ratio crosses ``level`` (fraction), do ``action``."""

    level: Decimal
    action: Literal["close_hedge_if_profitable", "reduce", "close_all"]
    reduce_fraction: Decimal | None = None


@dataclass(frozen=True)
class MoneyLimit:
    """A limit given either in quote currency (``100 USD``) or as a fraction (``2%``)."""

    amount: Decimal | None = None
    fraction: Decimal | None = None

    def resolve(self, base: Decimal) -> Decimal:
        if self.amount is not None:
            return self.amount
        assert self.fraction is not None
        return base * self.fraction


@dataclass(frozen=True)
class RiskSpec:
    stop_loss: Decimal | None = None  # fraction of entry price
    take_profit: Decimal | None = None
    trailing_stop: Decimal | None = None
    max_position: MoneyLimit | None = None  # notional
    max_leverage: Decimal | None = None
    max_drawdown: Decimal | None = None  # fraction from the strategy's equity peak
    daily_loss: MoneyLimit | None = None
    max_duration: timedelta | None = None
    max_duration_bars: int | None = None
    margin_warnings: tuple[MarginWarning, ...] = ()


@dataclass(frozen=True)
class ExecutionCosts:
    """Backtest settings a rule file may pin; ``None`` means the venue/CLI default."""

    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None
    slippage_model: str | None = None
    slippage_params: Mapping[str, Any] = field(default_factory=dict)
    fill_at: Literal["next_open", "close"] | None = None
    initial_equity: Decimal | None = None


@dataclass(frozen=True)
class SourceRef:
    file: str
    line: int
    column: int


class StrategyPlan(Protocol):
    """One compiled ``strategy`` block."""

    name: str
    venue: str
    symbol: str
    timeframe: str
    extra_timeframes: tuple[str, ...]
    warmup_bars: int
    leverage: Decimal
    sizing: SizingSpec | None
    hedge: HedgeSpec | None
    risk: RiskSpec
    costs: ExecutionCosts
    uses: str | None  # Python strategy plugin configured by ``uses``, else None (rule strategy)
    params: Any  # validated params model instance for ``uses`` strategies
    source: SourceRef

    def prepare(self, frame: BarFrame) -> PreparedStrategy: ...

    def stream(self) -> StrategyStream: ...

    def describe(self) -> Mapping[str, Any]:
        """The plan as data for ``explain``: DAG, warm-up, units, resolved plugins."""
        ...


@dataclass(frozen=True)
class GovernorLevel:
    """``on drawdown 5% reduce_only`` — at ``threshold`` move to ``action``."""

    metric: Literal["drawdown", "daily_loss"]
    threshold: MoneyLimit
    action: Literal["reduce_only", "halt", "flatten"]


@dataclass(frozen=True)
class PortfolioPlan:
    max_gross_exposure: MoneyLimit | None = None
    max_leverage: Decimal | None = None
    levels: tuple[GovernorLevel, ...] = ()
    daily_reset: time = time(0, 0)
    hysteresis: Decimal = Decimal("0.2")  # fraction of a threshold to recover before stepping down
    source: SourceRef | None = None


@dataclass(frozen=True)
class CompiledRules:
    strategies: tuple[StrategyPlan, ...]
    portfolio: PortfolioPlan | None
    files: tuple[str, ...]
    warnings: tuple[Any, ...] = ()  # RuleWarning findings (unused lets, …); compile succeeded

    def strategy(self, name: str) -> StrategyPlan:
        """The strategy called ``name`` (KeyError listing the names when there is none)."""
        for plan in self.strategies:
            if plan.name == name:
                return plan
        raise KeyError(
            f"no strategy {name!r}; the file defines {[s.name for s in self.strategies]}"
        )
