"""Running equity per venue account, between authoritative account reads.

Equity = starting collateral + realised PnL − fees − funding + unrealised PnL at the latest mark.
Backtests and paper runs start from the simulated accounts; live runs re-anchor on every account
read from the venue, so the estimate never drifts far from what the exchange says. A float form
(``equity_float``) feeds the per-bar governor and margin checks cheaply.
"""

from __future__ import annotations

from decimal import Decimal

from sparkstacker.engine.positions import PositionBook
from sparkstacker.model import ZERO, AccountState


class Accounting:
    def __init__(self, book: PositionBook) -> None:
        self.book = book
        self.anchors: dict[str, Decimal] = {}
        self._anchor_f: dict[str, float] = {}
        self._base_net: dict[str, float] = {}  # legs' net PnL already inside the anchor
        self._base_net_d: dict[str, Decimal] = {}
        self.marks: dict[tuple[str, str], Decimal] = {}
        self._float_marks: dict[tuple[str, str], float] = {}

    # ---- anchors and marks --------------------------------------------------------------------

    def set_anchor(self, venue: str, equity: Decimal) -> None:
        """The venue account's equity now (at start, or after an account read)."""
        self.anchors[venue] = equity - self.unrealized(venue)
        self._anchor_f[venue] = float(self.anchors[venue])
        self._base_net_d[venue] = self.realized_net(venue)
        self._base_net[venue] = float(self._base_net_d[venue])

    def reanchor(self, accounts: list[AccountState]) -> None:
        for account in accounts:
            self.set_anchor(account.venue, account.equity)

    def set_mark(self, venue: str, symbol: str, price: Decimal) -> None:
        self.marks[(venue, symbol)] = price
        self._float_marks[(venue, symbol)] = float(price)

    def set_mark_float(self, venue: str, symbol: str, price: float) -> None:
        """The hot-path form: converted to Decimal only when Decimal equity is asked for."""
        self._float_marks[(venue, symbol)] = price
        self.marks.pop((venue, symbol), None)

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        key = (venue, symbol)
        exact = self.marks.get(key)
        if exact is not None:
            return exact
        value = self._float_marks.get(key)
        if value is None:
            return None
        exact = self.marks[key] = Decimal(repr(value))  # until the next set_mark_float
        return exact

    def mark_float(self, venue: str, symbol: str) -> float | None:
        return self._float_marks.get((venue, symbol))

    # ---- Decimal equity -----------------------------------------------------------------------

    def realized_net(self, venue: str | None = None) -> Decimal:
        total = ZERO
        for leg in self.book.legs():
            if venue is None or leg.venue == venue:
                total += leg.realized_pnl - leg.fees - leg.funding
        return total

    def unrealized(self, venue: str | None = None) -> Decimal:
        total = ZERO
        for leg in self.book.legs():
            if leg.size != 0 and (venue is None or leg.venue == venue):
                mark = self.mark(leg.venue, leg.symbol)
                if mark is not None:
                    total += leg.unrealized(mark)
        return total

    def equity(self, venue: str | None = None) -> Decimal:
        """Anchors plus the legs' net PnL since and their unrealised PnL (one pass: sizing
        asks on every entry)."""
        anchors = self.anchors
        total = ZERO
        for name, anchor in anchors.items():
            if venue is None or name == venue:
                total += anchor - self._base_net_d.get(name, ZERO)
        if venue is not None and venue not in anchors:
            total -= self._base_net_d.get(venue, ZERO)
        for leg in self.book.legs():
            name = leg.venue
            if (venue is None and name not in anchors) or (venue is not None and name != venue):
                continue  # a venue without an anchor counts only when asked for by name
            total += leg.realized_pnl - leg.fees - leg.funding
            if leg.size != 0:
                mark = self.mark(name, leg.symbol)
                if mark is not None:
                    total += leg.unrealized(mark)
        return total

    # ---- float equity (per bar) ---------------------------------------------------------------

    def equity_float(self, venue: str | None = None) -> float:
        total = 0.0
        for name, anchor in self._anchor_f.items():
            if venue is None or name == venue:
                total += anchor - self._base_net.get(name, 0.0)
        marks = self._float_marks
        for leg in self.book.legs():
            if venue is not None and leg.venue != venue:
                continue
            total += leg.net_f
            if leg.size_f:
                mark = marks.get((leg.venue, leg.symbol))
                if mark is not None:
                    total += leg.size_f * (mark - leg.entry_f)
        return total

    def gross_exposure(self) -> Decimal:
        total = ZERO
        for leg in self.book.legs():
            if leg.size != 0:
                mark = self.mark(leg.venue, leg.symbol) or leg.entry_price or ZERO
                total += abs(leg.size) * mark
        return total
