"""How far each position is from liquidation: per strategy leg and per hedged group.

A venue liquidates a *net* position of one account in one market, so every strategy leg held on
that account and market shares one liquidation price. It comes from the venue's own account
state when the venue reported one for the size the engine holds (Hyperliquid's
``liquidationPx``, the simulated venue's ledger), else from the engine's estimate for a cross
margin account: with equity ``E`` and mark ``m`` now, the account's equity at price ``p`` is
``E + n·(p − m)`` and its maintenance margin ``M_other + mmr·|n|·p`` (``n`` the net size,
``M_other`` the other markets' maintenance at their marks), so liquidation is at

    p = (M_other − E + n·m) / (n − mmr·|n|)

(no liquidation when ``p ≤ 0``). The distance is ``|m − p| / m``; a group's is the smaller of
its two legs' distances — the leg nearer liquidation decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sparkstacker.model import ZERO, AccountState

if TYPE_CHECKING:
    from sparkstacker.engine.engine import Engine

VENUE = "venue"
ESTIMATE = "estimate"


@dataclass(frozen=True)
class Liquidation:
    """One account's net position in one market and its liquidation price."""

    venue: str
    symbol: str
    net: Decimal
    mark: Decimal
    price: Decimal | None  # None: the position cannot be liquidated (enough equity)
    source: str  # "venue" or "estimate"

    @property
    def distance(self) -> Decimal | None:
        """``|mark − liquidation price| / mark`` (None when it cannot be liquidated)."""
        if self.price is None or self.mark <= 0:
            return None
        return abs(self.mark - self.price) / self.mark


@dataclass(frozen=True)
class LegLiquidation:
    """A strategy leg's view of its account's liquidation."""

    strategy: str
    leg: str  # "main" or "hedge"
    size: Decimal
    liquidation: Liquidation

    @property
    def distance(self) -> Decimal | None:
        return self.liquidation.distance


def estimate_price(
    net: Decimal, mark: Decimal, equity: Decimal, other_maintenance: Decimal, mmr: Decimal
) -> Decimal | None:
    """The cross-margin liquidation price of a net position (see the module docstring)."""
    if net == 0:
        return None
    denominator = net - mmr * abs(net)
    if denominator == 0:
        return None
    price = (other_maintenance - equity + net * mark) / denominator
    return price if price > 0 else None


class LiquidationWatch:
    """Liquidation prices of the engine's positions, preferring what the venue reported."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reported: dict[tuple[str, str], tuple[Decimal, Decimal | None]] = {}

    def note_accounts(self, accounts: Iterable[AccountState]) -> None:
        """Remember each account's reported positions and liquidation prices."""
        for account in accounts:
            for key in [k for k in self._reported if k[0] == account.venue]:
                del self._reported[key]
            for position in account.positions:
                if not position.is_flat:
                    self._reported[(account.venue, position.symbol)] = (
                        position.size,
                        position.liquidation_price,
                    )

    def _mmr(self, venue: str, symbol: str) -> Decimal:
        instrument = self.engine.instruments.get((venue, symbol))
        return instrument.maintenance_margin if instrument is not None else Decimal("0.05")

    def of(self, venue: str, symbol: str) -> Liquidation | None:
        """The liquidation of ``venue``'s net position in ``symbol`` (None: flat or no mark)."""
        engine = self.engine
        net = engine.book.net(venue, symbol)
        mark = engine.accounting.mark(venue, symbol)
        if net == 0 or mark is None:
            return None
        reported = self._reported.get((venue, symbol))
        if reported is not None and reported[0] == net:
            return Liquidation(venue, symbol, net, mark, reported[1], VENUE)
        other = ZERO
        nets: dict[str, Decimal] = {}
        for leg in engine.book.legs():
            if leg.venue == venue and leg.symbol != symbol and leg.size != 0:
                nets[leg.symbol] = nets.get(leg.symbol, ZERO) + leg.size
        for other_symbol, size in nets.items():
            other_mark = engine.accounting.mark(venue, other_symbol)
            if other_mark is not None:
                other += self._mmr(venue, other_symbol) * abs(size) * other_mark
        price = estimate_price(
            net, mark, engine.accounting.equity(venue), other, self._mmr(venue, symbol)
        )
        return Liquidation(venue, symbol, net, mark, price, ESTIMATE)

    def legs(self) -> list[LegLiquidation]:
        """Every open strategy leg with its account's liquidation."""
        out = []
        for leg in self.engine.book.legs():
            if leg.size == 0:
                continue
            found = self.of(leg.venue, leg.symbol)
            if found is not None:
                out.append(LegLiquidation(leg.strategy or "", leg.role, leg.size, found))
        return out

    def groups(self) -> dict[str, tuple[Decimal | None, str]]:
        """Per hedged strategy with an open leg: the nearer of its legs' distances to
        liquidation (None: neither can be liquidated) and where that leg's price came from."""
        out: dict[str, tuple[Decimal | None, str]] = {}
        for name, group in self.engine.hedges.groups.items():
            found = [
                self.of(leg.venue, leg.symbol) for leg in (group.main, group.leg) if leg.size != 0
            ]
            known = [f for f in found if f is not None]
            if not known:
                continue
            priced = [f for f in known if f.distance is not None]
            if not priced:
                out[name] = (None, known[0].source)
                continue
            nearest = min(priced, key=lambda f: f.distance or ZERO)
            out[name] = (nearest.distance, nearest.source)
        return out
