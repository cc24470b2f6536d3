"""Positions: signed size, entry, leverage and margin, and the arithmetic of applying a fill."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from sparkstacker.model.base import ONE, ZERO, FrozenModel, UtcDatetime
from sparkstacker.model.enums import Direction, MarginMode


class Position(FrozenModel):
    """A net position in one market on one account. ``size`` > 0 long, < 0 short, 0 flat."""

    venue: str
    symbol: str
    size: Decimal = ZERO
    entry_price: Decimal | None = None
    leverage: Decimal = ONE
    margin_mode: MarginMode = MarginMode.CROSS
    liquidation_price: Decimal | None = None
    unrealized_pnl: Decimal = ZERO
    margin_used: Decimal = ZERO
    mark_price: Decimal | None = None
    realized_pnl: Decimal = ZERO
    funding_paid: Decimal = Field(default=ZERO, description="Cumulative; negative means received")
    account: str | None = None
    opened_at: UtcDatetime | None = None

    @property
    def direction(self) -> Direction:
        if self.size > 0:
            return Direction.LONG
        if self.size < 0:
            return Direction.SHORT
        return Direction.FLAT

    @property
    def is_flat(self) -> bool:
        return self.size == 0

    @property
    def notional(self) -> Decimal:
        price = self.mark_price if self.mark_price is not None else self.entry_price
        return abs(self.size) * (price or ZERO)

    def liquidation_distance(self) -> Decimal | None:
        """Fractional distance from mark to liquidation price (0.1 = 10 % away)."""
        if self.liquidation_price is None or not self.mark_price or self.is_flat:
            return None
        return abs(self.mark_price - self.liquidation_price) / self.mark_price

    def marked(self, mark_price: Decimal) -> Position:
        """The same position valued at a new mark price."""
        pnl = ZERO
        if self.entry_price is not None and self.size != 0:
            pnl = (mark_price - self.entry_price) * self.size
        return self.model_copy(update={"mark_price": mark_price, "unrealized_pnl": pnl})


def apply_signed_fill(
    size: Decimal, entry: Decimal | None, quantity: Decimal, price: Decimal
) -> tuple[Decimal, Decimal | None, Decimal]:
    """Net a signed fill into ``(size, entry)``. Returns ``(new_size, new_entry, realized_pnl)``.

    Increasing averages the entry; reducing realises PnL at the old entry; crossing through zero
    realises the closed part and opens the rest at the fill price.
    """
    if quantity == 0:
        return size, entry, ZERO
    if size == 0 or (size > 0) == (quantity > 0):
        new_size = size + quantity
        old_value = (entry or ZERO) * abs(size)
        new_entry = (old_value + price * abs(quantity)) / abs(new_size)
        return new_size, new_entry, ZERO
    assert entry is not None, "a non-flat position always has an entry price"
    closed = min(abs(quantity), abs(size))
    realized = closed * (price - entry) * (1 if size > 0 else -1)
    new_size = size + quantity
    if new_size == 0:
        return new_size, None, realized
    if (new_size > 0) == (size > 0):
        return new_size, entry, realized
    return new_size, price, realized
