"""Account state: equity, margin and positions as one venue account reports them."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from sparkstacker.model.base import ZERO, FrozenModel, UtcDatetime
from sparkstacker.model.position import Position


class Balance(FrozenModel):
    asset: str
    total: Decimal
    available: Decimal


class AccountState(FrozenModel):
    """One account on one venue. ``simulated`` says whether the numbers come from a simulation.

    Paper runs show the simulated account's equity, never the real exchange balance (the sibling
    market maker displayed the wrong equity because it mixed the two).
    """

    venue: str
    account: str = "main"
    equity: Decimal = Field(description="Account value: collateral plus unrealised PnL")
    collateral: Decimal = Field(description="Cash / deposited collateral before unrealised PnL")
    margin_used: Decimal = ZERO
    maintenance_margin: Decimal = ZERO
    positions: tuple[Position, ...] = ()
    balances: tuple[Balance, ...] = ()
    timestamp: UtcDatetime
    simulated: bool = False

    @property
    def available_margin(self) -> Decimal:
        return self.equity - self.margin_used

    @property
    def margin_ratio(self) -> Decimal:
        """Maintenance margin over equity; 1.0 means liquidation (infinite when equity <= 0)."""
        if self.equity <= 0:
            return Decimal("Infinity")
        return self.maintenance_margin / self.equity

    @property
    def gross_exposure(self) -> Decimal:
        return sum((p.notional for p in self.positions), ZERO)

    def position(self, symbol: str) -> Position | None:
        for position in self.positions:
            if position.symbol == symbol and not position.is_flat:
                return position
        return None
