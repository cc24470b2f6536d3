"""The engine's own view of positions, built from fills: per strategy leg and per market.

The venue is the source of truth; this book is what the engine knows between account reads,
and what reconciliation compares with the venue. Strategy attribution lets several strategies
share one account: the venue sees their net, the book keeps each one's own position.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sparkstacker.model import ZERO, Fill, Order, apply_signed_fill
from sparkstacker.model.members import BUY


@dataclass
class Leg:
    """One strategy's position in one market on one venue account (mutable, engine-internal)."""

    venue: str
    symbol: str
    strategy: str
    role: str = "main"
    size: Decimal = ZERO
    entry_price: Decimal | None = None
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    opened_ms: int | None = None
    opened_bar: int | None = None
    trades: int = 0
    size_f: float = 0.0  # float mirrors for the per-bar hot path (equity, governor)
    entry_f: float = 0.0
    net_f: float = 0.0  # realised PnL − fees − funding, as float

    @property
    def is_flat(self) -> bool:
        return self.size == 0

    def unrealized(self, mark: Decimal) -> Decimal:
        if self.entry_price is None or self.size == 0:
            return ZERO
        return (mark - self.entry_price) * self.size


class PositionBook:
    """Legs keyed by (venue, symbol, strategy, role) plus the net per (venue, symbol)."""

    def __init__(self) -> None:
        self._legs: dict[tuple[str, str, str, str], Leg] = {}
        self._net: dict[tuple[str, str], Decimal] = {}

    def leg(self, venue: str, symbol: str, strategy: str, role: str = "main") -> Leg:
        key = (venue, symbol, strategy, role)
        leg = self._legs.get(key)
        if leg is None:
            leg = self._legs[key] = Leg(venue, symbol, strategy, role)
        return leg

    def legs(self) -> list[Leg]:
        return list(self._legs.values())

    def net(self, venue: str, symbol: str) -> Decimal:
        return self._net.get((venue, symbol), ZERO)

    def apply_fill(
        self, fill: Fill, order: Order, *, now_ms: int, bar: int | None = None
    ) -> Decimal:
        """Net a fill into its strategy leg; returns the realised PnL (before fees)."""
        venue, symbol = fill.venue, fill.symbol
        key = (venue, symbol, order.strategy or "", order.leg or "main")
        leg = self._legs.get(key)
        if leg is None:
            leg = self._legs[key] = Leg(*key)
        old, fee = leg.size, fill.fee
        signed = +fill.size if fill.side is BUY else -fill.size  # fill.signed_size
        size, entry, realized = apply_signed_fill(old, leg.entry_price, signed, fill.price)
        leg.size, leg.entry_price = size, entry
        leg.realized_pnl += realized
        leg.fees += fee
        leg.size_f = float(size)
        leg.entry_f = float(entry) if entry is not None else 0.0
        leg.net_f += float(realized - fee)
        if size == 0:
            leg.opened_ms = leg.opened_bar = None
            leg.trades += 1
        elif old == 0 or (size > 0) != (old > 0):
            leg.opened_ms, leg.opened_bar = now_ms, bar
        net_key = (venue, symbol)
        self._net[net_key] = self._net.get(net_key, ZERO) + signed
        return realized

    def apply_liquidation(self, fill: Fill, venue: str, symbol: str, *, now_ms: int) -> list[Leg]:
        """Split a liquidation of the account's whole position in ``symbol`` over the strategy
        legs open there: each closes in full at the fill's price, with its share of the fee.
        Returns the legs it closed."""
        net = self.net(venue, symbol)
        closed = []
        for leg in self.legs():
            if leg.venue != venue or leg.symbol != symbol or leg.size == 0:
                continue
            share = abs(leg.size / net) if net else Decimal(1)
            order = Order(
                client_order_id=f"liquidation-{fill.fill_id}-{leg.strategy}-{leg.role}",
                venue=leg.venue,
                symbol=leg.symbol,
                side=fill.side,
                size=abs(leg.size),
                price=fill.price,
                strategy=leg.strategy,
                leg=leg.role,
            )
            part = fill.model_copy(
                update={
                    "size": abs(leg.size),
                    "fee": fill.fee * share,
                    "client_order_id": order.client_order_id,
                }
            )
            self.apply_fill(part, order, now_ms=now_ms)
            closed.append(leg)
        return closed

    def apply_funding(self, venue: str, symbol: str, payment_per_unit_size: Decimal) -> None:
        """Attribute a funding payment (per unit of signed size) to each open leg."""
        for leg in self._legs.values():
            if leg.venue == venue and leg.symbol == symbol and leg.size != 0:
                paid = leg.size * payment_per_unit_size
                leg.funding += paid
                leg.net_f -= float(paid)
