"""The :class:`~sparkstacker.strategy.StrategyContext` the engine hands a strategy each bar."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from sparkstacker.engine.slots import StrategySlot
from sparkstacker.errors import ModelError
from sparkstacker.model import Direction, Order, OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from sparkstacker.engine.engine import Engine


class BarContext:
    """Bound to one slot and one bar; actions route through the engine's executor."""

    __slots__ = (
        "_engine",
        "_slot",
        "bar_index",
        "close",
        "high",
        "low",
        "open",
        "timestamp_ms",
        "volume",
    )

    def __init__(
        self,
        engine: Engine,
        slot: StrategySlot,
        bar_index: int,
        timestamp_ms: int,
        bar: tuple[float, float, float, float, float],
    ) -> None:
        self._engine = engine
        self._slot = slot
        self.bar_index = bar_index
        self.timestamp_ms = timestamp_ms
        self.open, self.high, self.low, self.close, self.volume = bar

    @property
    def strategy(self) -> str:
        return self._slot.name

    @property
    def venue(self) -> str:
        return self._slot.venue

    @property
    def symbol(self) -> str:
        return self._slot.symbol

    @property
    def slot(self) -> StrategySlot:
        return self._slot

    @property
    def position(self) -> Decimal:
        return self._slot.leg.size

    @property
    def equity(self) -> Decimal:
        return self._engine.accounting.equity()

    def open_orders(self) -> list[Order]:
        return self._engine.orders.open_orders(strategy=self._slot.name)

    async def enter(
        self,
        direction: Direction,
        *,
        confidence: float = 1.0,
        limit_price: float | None = None,
        post_only: bool = False,
        reason: str = "",
    ) -> None:
        await self._engine.signal(
            self._slot,
            direction,
            self,
            confidence=confidence,
            limit_price=limit_price,
            post_only=post_only,
            reason=reason,
        )

    async def exit(self, *, reason: str = "") -> None:
        await self._engine.signal(self._slot, Direction.FLAT, self, reason=reason)

    async def place(
        self,
        side: Side,
        size: Decimal,
        price: Decimal,
        *,
        post_only: bool = True,
        reduce_only: bool = False,
        tag: str = "quote",
    ) -> Order:
        slot = self._slot
        instrument = slot.instrument
        try:
            size = instrument.round_size(size)
            price = instrument.round_price(price, "down" if side is Side.BUY else "up")
        except ModelError as exc:
            raise ModelError(f"{slot.name}: cannot place {side} {size} @ {price}: {exc}") from exc
        orders = self._engine.orders
        order = Order(
            client_order_id=orders.next_client_order_id(tag[:2]),
            venue=slot.venue,
            symbol=slot.symbol,
            side=side,
            type=OrderType.LIMIT,
            tif=TimeInForce.ALO if post_only else TimeInForce.GTC,
            size=size,
            price=price,
            reduce_only=reduce_only,
            leverage=slot.plan.leverage,
            margin_mode=slot.margin_mode,
            strategy=slot.name,
            leg=slot.leg.role,
            created_at=orders.clock.now(),
        )
        # Pre-trade risk (governor state included) runs inside the order manager.
        return await orders.submit(order, reason=tag)

    async def cancel(self, order: Order, *, reason: str = "") -> None:
        await self._engine.orders.cancel(order, reason=reason or "strategy cancel")
