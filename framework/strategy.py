"""The strategy-plugin contract: a named factory with a validated parameter model.

Rule files configure Python strategies by name (``strategy "btc_mm" uses market_maker { … }``);
the ``params`` block is validated against ``params_model`` at compile time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel
from sparkstacker.model import Direction, Order, Side


@dataclass(frozen=True)
class StrategyPlugin:
    """``create(plan)`` returns a :class:`StrategyRuntime` for one compiled strategy block."""

    name: str
    summary: str
    params_model: type[BaseModel]
    create: Callable[..., StrategyRuntime]


class StrategyContext(Protocol):
    """What a running strategy may see and do at the close of one of its bars.

    Every action goes through sizing, pre-trade risk, the journal and the order manager; a
    strategy never talks to a venue directly.
    """

    @property
    def strategy(self) -> str: ...

    @property
    def venue(self) -> str: ...

    @property
    def symbol(self) -> str: ...

    @property
    def bar_index(self) -> int: ...

    @property
    def timestamp_ms(self) -> int: ...

    @property
    def close(self) -> float: ...

    @property
    def position(self) -> Decimal: ...

    @property
    def equity(self) -> Decimal: ...

    def open_orders(self) -> list[Order]: ...

    async def enter(
        self,
        direction: Direction,
        *,
        confidence: float = 1.0,
        limit_price: float | None = None,
        post_only: bool = False,
        reason: str = "",
    ) -> None: ...

    async def exit(self, *, reason: str = "") -> None: ...

    async def place(
        self,
        side: Side,
        size: Decimal,
        price: Decimal,
        *,
        post_only: bool = True,
        reduce_only: bool = False,
        tag: str = "quote",
    ) -> Order: ...

    async def cancel(self, order: Order, *, reason: str = "") -> None: ...


class StrategyRuntime(Protocol):
    """The running form of a strategy: called at each of its bar closes."""

    name: str

    async def on_bar(self, ctx: StrategyContext) -> None: ...
