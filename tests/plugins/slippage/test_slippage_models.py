"""Built-in slippage models: formulas checked against hand calculations."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sparkstacker.errors import ConfigError
from sparkstacker.model import BookLevel, OrderBook, Side, utcnow
from sparkstacker_plugins.slippage.models import BookWalk, FixedBps, VolumeImpact

D = Decimal


def test_registered_models(registry) -> None:  # type: ignore[no-untyped-def]
    assert set(registry.slippage_models.names()) >= {"fixed_bps", "volume_impact", "book_walk"}
    assert "falls back to fixed 0" in registry.slippage_models.get("book_walk").summary


def test_fixed_bps_moves_against_the_taker() -> None:
    model = FixedBps(2.5)
    assert model.fill_price(Side.BUY, 2000.0, 1.0, 100.0) == pytest.approx(2000.5)
    assert model.fill_price(Side.SELL, 2000.0, 1.0, 100.0) == pytest.approx(1999.5)


def test_volume_impact_power_law_and_cap() -> None:
    model = VolumeImpact(k=0.1, exponent=0.5, max_impact=0.05, bps=1)
    # 4 of 100 units: 0.1 × sqrt(0.04) = 0.02, plus 1 bp → ×1.0201.
    assert model.fill_price(Side.BUY, 1000.0, 4.0, 100.0) == pytest.approx(1020.1)
    assert model.fill_price(Side.SELL, 1000.0, 4.0, 100.0) == pytest.approx(979.9)
    # Half the bar: 0.1 × sqrt(0.5) = 0.0707 → capped at 5 %.
    assert model.impact(50.0, 100.0) == 0.05
    assert model.impact(1.0, 0.0) == 0.05  # no volume: the cap
    assert model.impact(0.0, 100.0) == 0.0


@given(st.floats(0.001, 1e4), st.floats(0.001, 1e4), st.floats(0.001, 1e4))
def test_volume_impact_never_exceeds_the_cap_and_grows_with_size(
    size: float, more: float, volume: float
) -> None:
    model = VolumeImpact(k=0.3, exponent=0.7, max_impact=0.02)
    small, big = model.impact(size, volume), model.impact(size + more, volume)
    assert 0 <= small <= big <= 0.02


def _book() -> OrderBook:
    asks = ((D("100"), D("1")), (D("101"), D("2")), (D("103"), D("1")))
    bids = ((D("99"), D("3")),)
    return OrderBook(
        venue="sim",
        symbol="ETH-USD",
        timestamp=utcnow(),
        bids=tuple(BookLevel(price=p, size=s) for p, s in bids),
        asks=tuple(BookLevel(price=p, size=s) for p, s in asks),
    )


def test_book_walk_is_the_vwap_of_the_levels_consumed() -> None:
    model = BookWalk()
    # 2.5 units: 1 @ 100 + 1.5 @ 101 = 251.5 → 100.6.
    assert model.fill_price(Side.BUY, 0.0, 2.5, 0.0, _book()) == pytest.approx(100.6)
    # Deeper than the book (5 > 4): the extra unit at the worst level, 103.
    assert model.fill_price(Side.BUY, 0.0, 5.0, 0.0, _book()) == pytest.approx(
        (100 + 202 + 103 + 103) / 5
    )
    assert model.fill_price(Side.SELL, 0.0, 2.0, 0.0, _book()) == pytest.approx(99.0)


def test_book_walk_without_a_book_is_fixed_zero() -> None:
    assert BookWalk().fill_price(Side.BUY, 2000.0, 5.0, 10.0, None) == 2000.0


def test_parameters_are_validated(registry) -> None:  # type: ignore[no-untyped-def]
    create = registry.slippage_models.get("volume_impact").create
    with pytest.raises(ConfigError, match="max_impact"):
        create({"max_impact": 2})
    with pytest.raises(ConfigError, match="parameters: bps"):
        registry.slippage_models.get("fixed_bps").create({"basis_points": 3})
    assert registry.slippage_models.get("fixed_bps").create({"bps": 4}).bps == 4
    with pytest.raises(ConfigError, match="book_walk"):
        registry.slippage_models.get("book_walk").create({"depth": 3})
