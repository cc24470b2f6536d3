"""Netting fills into positions: averaging, realising, flipping."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sparkstacker.model import apply_signed_fill

D = Decimal


def test_increase_averages_entry() -> None:
    size, entry, realized = apply_signed_fill(D(1), D(100), D(1), D(110))
    assert (size, entry, realized) == (D(2), D(105), D(0))


def test_reduce_realises_at_old_entry() -> None:
    size, entry, realized = apply_signed_fill(D(2), D(100), D(-1), D(110))
    assert (size, entry, realized) == (D(1), D(100), D(10))


def test_short_close_realises_inverse() -> None:
    assert apply_signed_fill(D(-2), D(100), D(2), D(90)) == (D(0), None, D(20))


def test_flip_opens_the_remainder_at_the_fill_price() -> None:
    assert apply_signed_fill(D(1), D(100), D(-3), D(120)) == (D(-2), D(120), D(20))


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=-5, max_value=5, places=2).filter(lambda q: q != 0),
            st.decimals(min_value=1, max_value=1000, places=2),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_pnl_is_conserved(fills: list[tuple[Decimal, Decimal]]) -> None:
    """Realised + unrealised PnL equals the cash-flow PnL of the fills, whatever the order."""
    size, entry, realized = D(0), None, D(0)
    cash = D(0)
    for quantity, price in fills:
        size, entry, gain = apply_signed_fill(size, entry, quantity, price)
        realized += gain
        cash -= quantity * price
    mark = fills[-1][1]
    unrealized = (mark - entry) * size if entry is not None else D(0)
    assert abs((realized + unrealized) - (cash + size * mark)) < D("1e-12")
