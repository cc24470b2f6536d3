"""Custom indicators: hand-computed values, independent references, recorded books."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import talib
from sparkstacker.indicators import IndicatorSpec
from sparkstacker.model import BookLevel, OrderBook
from sparkstacker.registry import Registry

NAN = np.nan


@pytest.fixture(scope="module")
def indicators() -> dict[str, IndicatorSpec]:
    registry = Registry.load(autoload=False)
    names = ("microprice", "book_imbalance", "realized_vol", "vwap", "funding_zscore")
    return {name: registry.indicators.get(name) for name in names}


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# ---- microprice ---------------------------------------------------------------------------


def test_microprice_leans_towards_the_thin_side(indicators: dict[str, IndicatorSpec]) -> None:
    out = indicators["microprice"].run(
        {
            "bid_price": arr(100, 100, 100),
            "bid_size": arr(3, 1, 0),
            "ask_price": arr(101, 101, 101),
            "ask_size": arr(1, 1, 0),
        }
    )["real"]
    # (100·1 + 101·3)/4 = 100.75 (thin ask → price near the ask); equal sizes → the mid;
    # an empty book has no microprice.
    np.testing.assert_array_equal(out, [100.75, 100.5, NAN])


def test_book_inputs_have_no_bar_default(indicators: dict[str, IndicatorSpec]) -> None:
    for name in ("microprice", "book_imbalance", "funding_zscore"):
        assert all(i.default is None for i in indicators[name].inputs), name


# ---- book imbalance -----------------------------------------------------------------------


def test_book_imbalance_raw_and_smoothed(indicators: dict[str, IndicatorSpec]) -> None:
    spec = indicators["book_imbalance"]
    sizes = {"bid_size": arr(3, 1, 2, 0), "ask_size": arr(1, 3, 2, 0)}
    np.testing.assert_array_equal(spec.run(sizes)["real"], [0.5, -0.5, 0.0, NAN])
    smoothed = spec.run(sizes, {"period": 2})["real"]
    np.testing.assert_array_equal(smoothed, [NAN, 0.0, -0.25, NAN])
    assert spec.lookback({"period": 2}) == 1
    assert spec.window({"period": 2}) == 2


# ---- Hyperliquid L2 capture ----------------------------------------------------------------


def _book(data: dict) -> OrderBook:
    bids, asks = data["levels"]

    def levels(side: list[dict]) -> tuple[BookLevel, ...]:
        return tuple(BookLevel(price=Decimal(x["px"]), size=Decimal(x["sz"])) for x in side)

    return OrderBook(
        venue="hyperliquid",
        symbol=f"{data['coin']}-USD",
        timestamp=datetime.fromtimestamp(data["time"] / 1000, tz=UTC),
        bids=levels(bids),
        asks=levels(asks),
    )


@pytest.mark.shared
def test_microprice_and_imbalance_agree_with_the_order_book_model(
    indicators: dict[str, IndicatorSpec], hl_books: list[dict]
) -> None:
    """Every recorded Hyperliquid l2Book: the float indicators against the Decimal model.

    Inputs are decimal strings parsed to float (each within half an ulp), then a handful of
    float operations: the microprice is good to a few ulps (rtol 1e-14 at ~105,000). The
    imbalance lives in [-1, 1] and may be near 0, so it is compared absolutely (1e-14).
    """
    assert len(hl_books) == 46
    books = [_book(data) for data in hl_books]
    top = {
        "bid_price": arr(*(float(b.bids[0].price) for b in books)),
        "bid_size": arr(*(float(b.bids[0].size) for b in books)),
        "ask_price": arr(*(float(b.asks[0].price) for b in books)),
        "ask_size": arr(*(float(b.asks[0].size) for b in books)),
    }
    micro = indicators["microprice"].run(top)["real"]
    expected = [float(b.microprice) for b in books if b.microprice is not None]
    np.testing.assert_allclose(micro, expected, rtol=1e-14, atol=0)

    imbalance = indicators["book_imbalance"]
    top_sizes = {"bid_size": top["bid_size"], "ask_size": top["ask_size"]}
    np.testing.assert_allclose(
        imbalance.run(top_sizes)["real"], [float(b.imbalance(1) or 0) for b in books], atol=1e-14
    )
    five = {
        "bid_size": arr(*(sum(float(level.size) for level in b.bids[:5]) for b in books)),
        "ask_size": arr(*(sum(float(level.size) for level in b.asks[:5]) for b in books)),
    }
    np.testing.assert_allclose(
        imbalance.run(five)["real"], [float(b.imbalance(5) or 0) for b in books], atol=1e-14
    )


# ---- realized volatility -------------------------------------------------------------------


def test_realized_vol_by_hand(indicators: dict[str, IndicatorSpec]) -> None:
    closes = arr(100, 110, 99, 108.9)
    out = indicators["realized_vol"].run({"close": closes}, {"period": 3, "periods_per_year": 365})
    returns = [math.log(110 / 100), math.log(99 / 110), math.log(108.9 / 99)]
    expected = statistics.stdev(returns) * math.sqrt(365)
    assert np.isnan(out["real"][:3]).all()
    assert out["real"][3] == pytest.approx(expected, rel=1e-14)
    spec = indicators["realized_vol"]
    assert spec.lookback({"period": 3, "periods_per_year": 365}) == 3
    assert spec.window({"period": 3, "periods_per_year": 365}) == 4


@pytest.mark.shared
def test_realized_vol_matches_pandas_on_real_candles(
    indicators: dict[str, IndicatorSpec], eth_candles: dict[str, np.ndarray]
) -> None:
    closes = eth_candles["close"][:1500]
    ours = indicators["realized_vol"].run(
        {"close": closes}, {"period": 60, "periods_per_year": 525_600}
    )["real"]
    returns = np.log(pd.Series(closes)).diff()
    reference = (returns.rolling(60).std() * math.sqrt(525_600)).to_numpy()
    assert np.array_equal(np.isnan(ours), np.isnan(reference))
    # pandas uses an online (Welford-style) update; ours is two-pass per window.
    np.testing.assert_allclose(ours, reference, rtol=1e-9)


def test_realized_vol_rejects_a_one_return_window(indicators: dict[str, IndicatorSpec]) -> None:
    with pytest.raises(ValueError, match="parameter period must be >= 2"):
        indicators["realized_vol"].resolve_params((1,))


# ---- VWAP ------------------------------------------------------------------------------------


def test_vwap_by_hand(indicators: dict[str, IndicatorSpec]) -> None:
    bars = {
        "high": arr(12, 15, 9, 10),
        "low": arr(9, 12, 6, 10),
        "close": arr(9, 12, 9, 10),
        "volume": arr(1, 3, 2, 0),
    }
    # Typical prices 10, 13, 8, 10.
    cumulative = indicators["vwap"].run(bars)["real"]
    np.testing.assert_allclose(cumulative, [10, 49 / 4, 65 / 6, 65 / 6], rtol=1e-15)
    rolling = indicators["vwap"].run(bars, {"period": 2})["real"]
    np.testing.assert_allclose(rolling, [NAN, 49 / 4, 55 / 5, 8], rtol=1e-15)
    no_volume = indicators["vwap"].run({**bars, "volume": arr(0, 0, 1, 1)}, {"period": 2})
    np.testing.assert_array_equal(no_volume["real"], [NAN, NAN, 8, 9])


def test_vwap_window_claims(indicators: dict[str, IndicatorSpec]) -> None:
    vwap = indicators["vwap"]
    assert vwap.window({"period": 0}) is None
    assert vwap.lookback({"period": 0}) == 0
    assert vwap.window({"period": 20}) == 20
    assert vwap.lookback({"period": 20}) == 19


@pytest.mark.shared
def test_cumulative_vwap_equals_talibs_vwap(
    indicators: dict[str, IndicatorSpec], eth_candles: dict[str, np.ndarray]
) -> None:
    """Why TA-Lib's VWAP is not registered: ours with period 0 is the same series."""
    bars = {k: eth_candles[k] for k in ("high", "low", "close", "volume")}
    ours = indicators["vwap"].run(bars, {"period": 0})["real"]
    theirs = talib.VWAP(bars["high"], bars["low"], bars["close"], bars["volume"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)


# ---- funding z-score -------------------------------------------------------------------------


def test_funding_zscore_by_hand(indicators: dict[str, IndicatorSpec]) -> None:
    spec = indicators["funding_zscore"]
    out = spec.run({"funding": arr(1, 2, 3, 4, 6)}, {"period": 3})["real"]
    # [1,2,3]: mean 2, stdev 1 → 1; [2,3,4] → 1; [3,4,6]: mean 13/3, stdev √(7/3).
    last = (6 - 13 / 3) / math.sqrt(7 / 3)
    np.testing.assert_allclose(out, [NAN, NAN, 1.0, 1.0, last], rtol=1e-15)


def test_funding_zscore_skips_gaps_and_holds_the_last_score(
    indicators: dict[str, IndicatorSpec],
) -> None:
    funding = arr(NAN, 1, NAN, NAN, 2, NAN, 3, NAN, 4, NAN)
    out = indicators["funding_zscore"].run({"funding": funding}, {"period": 3})["real"]
    np.testing.assert_allclose(out, [NAN, NAN, NAN, NAN, NAN, NAN, 1, 1, 1, 1], rtol=1e-15)


def test_funding_zscore_of_a_flat_window_is_zero(indicators: dict[str, IndicatorSpec]) -> None:
    # Hyperliquid prints its base rate 0.00125 %/h for long stretches; rounding must not turn
    # "no change at all" into a spurious score.
    funding = np.full(6, 0.0000125)
    out = indicators["funding_zscore"].run({"funding": funding}, {"period": 4})["real"]
    np.testing.assert_array_equal(out, [NAN, NAN, NAN, 0, 0, 0])
    assert indicators["funding_zscore"].window({"period": 4}) is None


@pytest.mark.shared
def test_funding_zscore_matches_exact_statistics_on_hyperliquid_funding(
    indicators: dict[str, IndicatorSpec], hl_funding: np.ndarray
) -> None:
    """Reference: the ``statistics`` module, which sums floats exactly (as fractions).

    (pandas' rolling moments were tried first: their online updates drift by up to 3e-8 on
    windows that are nearly flat, which is pandas' error, not ours.)
    """
    rates = hl_funding[:2000]
    period = 24
    ours = indicators["funding_zscore"].run({"funding": rates}, {"period": period})["real"]
    assert np.isnan(ours[: period - 1]).all()
    flat = varied = 0
    for index in range(period - 1, len(rates)):
        window = [float(x) for x in rates[index - period + 1 : index + 1]]
        if max(window) == min(window):
            flat += 1
            assert ours[index] == 0
            continue
        varied += 1
        expected = (window[-1] - statistics.mean(window)) / statistics.stdev(window)
        assert ours[index] == pytest.approx(expected, rel=1e-12, abs=1e-12), index
    assert flat > 10  # the recording has flat stretches, so the special case is exercised
    assert varied > 1500
