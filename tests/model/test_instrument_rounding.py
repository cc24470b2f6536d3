"""Rounding to tick/lot/significant figures; zero and under-minimum sizes are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sparkstacker.errors import LeverageLimitError, OrderSizeError, PriceRuleError
from sparkstacker.model import Instrument

D = Decimal


def hl_perp(sz_decimals: int, max_leverage: int = 50) -> Instrument:
    """A Hyperliquid-style perp: 5 significant figures, 6 - szDecimals decimals, $10 minimum."""
    return Instrument(
        symbol="ETH-USD",
        venue="hyperliquid",
        base="ETH",
        quote="USD",
        tick_size=D(1).scaleb(-(6 - sz_decimals)),
        price_significant_figures=5,
        lot_size=D(1).scaleb(-sz_decimals),
        min_notional=D(10),
        max_leverage=D(max_leverage),
    )


def test_size_rounding_to_zero_is_refused_with_a_clear_message() -> None:
    eth = hl_perp(4)
    with pytest.raises(OrderSizeError, match=r"rounds to 0 at lot size 0.0001 .*refusing to send"):
        eth.round_size(D("0.00004"))


def test_sizes_round_down_to_the_lot() -> None:
    assert hl_perp(4).round_size(D("0.123456")) == D("0.1234")
    assert hl_perp(0).round_size(D("17.9")) == D("17")


def test_under_minimum_notional_is_refused_but_a_full_close_is_exempt() -> None:
    eth = hl_perp(4)
    with pytest.raises(OrderSizeError, match=r"under the minimum 10 USD"):
        eth.legal_order(D("0.003"), D("2500"))
    assert eth.legal_order(D("0.003"), D("2500"), closes_position=True) == (D("0.003"), D("2500"))


@pytest.mark.parametrize(
    ("sz_decimals", "price", "expected"),
    [
        (4, "2500.123", "2500.1"),  # 5 significant figures
        (4, "1234.56", "1234.6"),
        (0, "0.0012345", "0.001234"),  # half-even on the 6th decimal
        (1, "0.012345", "0.01234"),  # 6 - 1 = 5 decimals
        (5, "123456.7", "123457"),  # integers are always valid
    ],
)
def test_significant_figure_prices(sz_decimals: int, price: str, expected: str) -> None:
    assert hl_perp(sz_decimals).round_price(D(price)) == D(expected)


def test_directional_price_rounding_for_ioc() -> None:
    eth = hl_perp(4)
    assert eth.round_price(D("2500.01"), "up") == D("2500.1")
    assert eth.round_price(D("2500.09"), "down") == D("2500.0")


def test_leverage_above_the_instrument_maximum_is_refused() -> None:
    with pytest.raises(LeverageLimitError, match="exceeds the maximum 25x"):
        hl_perp(4, max_leverage=25).check_leverage(D(30))


def test_zero_price_is_refused() -> None:
    with pytest.raises(PriceRuleError):
        hl_perp(4).round_price(D(0))


@given(
    st.integers(min_value=0, max_value=5),
    st.decimals(min_value=D("0.000001"), max_value=D("1000000"), places=8),
    st.sampled_from(["nearest", "up", "down"]),
)
def test_rounded_prices_are_always_valid(sz_decimals: int, price: Decimal, mode: str) -> None:
    inst = hl_perp(sz_decimals)
    try:
        rounded = inst.round_price(price, mode)  # type: ignore[arg-type]
    except PriceRuleError:
        assert price < inst.tick_size  # only prices below the finest tick can fail
        return
    assert inst.is_valid_price(rounded)
    digits = rounded.normalize().as_tuple().digits
    assert rounded == rounded.to_integral_value() or len(digits) <= 5
    if mode == "up":
        assert rounded >= price
    if mode == "down":
        assert rounded <= price


@given(st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=6))
def test_rounded_sizes_are_lot_multiples_and_never_zero(size: Decimal) -> None:
    inst = hl_perp(3)
    try:
        rounded = inst.round_size(size)
    except OrderSizeError:
        assert size < inst.lot_size
        return
    assert rounded > 0
    assert rounded <= size
    assert inst.is_valid_size(rounded)
