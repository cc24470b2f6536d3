"""The engine's running equity: anchors plus each leg's net PnL since the anchor and its
unrealised PnL at the latest mark, per venue or over every anchored venue."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sparkstacker.engine.accounting import Accounting
from sparkstacker.engine.positions import PositionBook

VENUES = ("hl", "cb", "sim.hedge")
SYMBOLS = ("ETH", "BTC")
money = st.decimals(min_value=-(10**6), max_value=10**6, places=6, allow_nan=False)
price = st.decimals(min_value=1, max_value=10**5, places=2, allow_nan=False)
size = st.decimals(min_value=-50, max_value=50, places=3, allow_nan=False)
leg = st.tuples(st.sampled_from(VENUES), st.sampled_from(SYMBOLS), size, price, money, money, money)


def _expected(book: PositionBook, acc: Accounting, venue: str | None, base: dict) -> Decimal:
    """Equity by definition, leg by leg (the slow, obvious way)."""
    names = [venue] if venue is not None else list(acc.anchors)
    total = Decimal(0)
    for name in names:
        total += acc.anchors.get(name, Decimal(0)) - base.get(name, Decimal(0))
        for item in book.legs():
            if item.venue != name:
                continue
            total += item.realized_pnl - item.fees - item.funding
            mark = acc.mark(item.venue, item.symbol)
            if item.size and mark is not None and item.entry_price is not None:
                total += (mark - item.entry_price) * item.size
    return total


@settings(max_examples=150, deadline=None)
@given(
    legs=st.lists(leg, max_size=8),
    anchored=st.sets(st.sampled_from(VENUES)),
    anchor=money,
    marks=st.dictionaries(st.tuples(st.sampled_from(VENUES), st.sampled_from(SYMBOLS)), price),
    later=st.lists(st.tuples(st.integers(0, 7), money), max_size=4),
)
def test_equity_is_anchor_plus_net_and_unrealized(
    legs: list, anchored: set[str], anchor: Decimal, marks: dict, later: list
) -> None:
    book = PositionBook()
    acc = Accounting(book)
    for k, (venue, symbol, qty, entry, realized, fees, funding) in enumerate(legs):
        item = book.leg(venue, symbol, f"s{k}")
        item.size, item.entry_price = qty, entry if qty else None
        item.realized_pnl, item.fees, item.funding = realized, fees, funding
    for (venue, symbol), mark in marks.items():
        acc.set_mark(venue, symbol, mark)
    for venue in sorted(anchored):
        acc.set_anchor(venue, anchor)
    base = dict(acc._base_net_d)
    all_legs = book.legs()
    for index, amount in later:  # PnL booked after the anchors were set
        if all_legs:
            all_legs[index % len(all_legs)].realized_pnl += amount
    for venue in (None, *VENUES):
        assert acc.equity(venue) == _expected(book, acc, venue, base), venue
    for venue in anchored:  # right after anchoring, a venue's equity is its anchor
        if not later:
            assert acc.equity(venue) == anchor
