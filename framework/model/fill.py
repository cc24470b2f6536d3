"""Executions: one fill is one match of (part of) an order."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from sparkstacker.model.base import ZERO, FrozenModel, UtcDatetime
from sparkstacker.model.enums import Liquidity, Side


class Fill(FrozenModel):
    """A single execution. ``fee`` is signed: positive is paid, negative is a rebate."""

    fill_id: str
    client_order_id: str | None = None
    venue_order_id: str | None = None
    venue: str
    symbol: str
    side: Side
    price: Decimal = Field(gt=0)
    size: Decimal = Field(gt=0)
    fee: Decimal = ZERO
    fee_currency: str = "USD"
    liquidity: Liquidity = Liquidity.TAKER
    timestamp: UtcDatetime
    is_liquidation: bool = False
    closed_pnl: Decimal | None = None
    account: str | None = None

    @property
    def notional(self) -> Decimal:
        return self.price * self.size

    @property
    def signed_size(self) -> Decimal:
        return +self.size if self.side is Side.BUY else -self.size  # as size × ±1
