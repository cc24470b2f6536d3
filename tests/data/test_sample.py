"""The synthetic sample: deterministic, OHLC-consistent, and statistically what it claims."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sparkstacker.data import sample
from sparkstacker.data.frames import validate_candles
from sparkstacker.data.sample import (
    SAMPLE_BARS,
    SampleSeries,
    ensure_sample,
    funding_for,
    sample_candles,
    sample_funding,
    simulate,
)
from sparkstacker.data.store import CandleStore
from sparkstacker.errors import DataError


@pytest.fixture(scope="module")
def eth() -> SampleSeries:
    return simulate("ETH-USD")


def test_same_seed_same_arrays_other_seed_other_arrays() -> None:
    a = sample_candles("ETH-USD", bars=5000, seed=11)
    b = sample_candles("ETH-USD", bars=5000, seed=11)
    pd.testing.assert_frame_equal(a, b)
    c = sample_candles("ETH-USD", bars=5000, seed=12)
    assert not np.array_equal(a["close"].to_numpy(), c["close"].to_numpy())
    pd.testing.assert_frame_equal(
        sample_funding("ETH-USD", bars=5000, seed=11), sample_funding("ETH-USD", bars=5000, seed=11)
    )
    # symbols get independent streams
    assert not np.allclose(
        np.diff(np.log(a["close"])),
        np.diff(np.log(sample_candles("SOL-USD", 5000, seed=11)["close"])),
    )


def test_default_sample_covers_sixty_days_of_minutes(eth: SampleSeries) -> None:
    assert SAMPLE_BARS == 60 * 24 * 60
    assert len(eth.close) == SAMPLE_BARS
    assert np.all(np.diff(eth.timestamp) == 60_000)
    assert eth.timestamp[0] == pd.Timestamp("2024-01-01", tz="UTC").value // 1_000_000


@pytest.mark.parametrize("symbol", ["ETH-USD", "BTC-USD", "SOL-USD", "DOGE-USD"])
def test_ohlc_is_consistent_and_on_the_tick(symbol: str) -> None:
    series = simulate(symbol, bars=20_000, seed=3)
    frame = series.candles()
    validate_candles(frame, step_ms=60_000)  # raises on any inconsistent bar
    assert np.all(series.high >= np.maximum(series.open, series.close))
    assert np.all(series.low <= np.minimum(series.open, series.close))
    assert np.all(series.low > 0)
    assert np.all(series.volume >= 0)
    assert np.array_equal(series.open[1:], series.close[:-1])  # each bar opens at the last close
    tick = sample.profile_for(symbol).tick
    for values in (series.open, series.high, series.low, series.close):
        assert np.allclose(values / tick, np.round(values / tick), atol=1e-6)
    assert np.mean(series.high > np.maximum(series.open, series.close)) > 0.5  # real wicks


def test_volatility_regimes_differ_by_the_configured_ratio(eth: SampleSeries) -> None:
    returns = np.diff(np.log(eth.close))
    regime = eth.regime[1:]
    calm = returns[(regime == sample.CALM) & ~eth.jump[1:]]
    stormy = returns[(regime == sample.STORMY) & ~eth.jump[1:]]
    configured = (sample.REGIME_VOL[sample.STORMY] / sample.REGIME_VOL[sample.CALM]) ** 2
    ratio = stormy.var() / calm.var()
    assert configured * 0.6 < ratio < configured * 1.4
    # both regimes actually occur, with the configured mean stays (within sampling error)
    switches = np.flatnonzero(np.diff(eth.regime)) + 1
    stays = np.diff(np.concatenate([[0], switches, [len(eth.regime)]]))
    stormy_share = np.mean(eth.regime == sample.STORMY)
    expected_share = sample.REGIME_MEAN_MINUTES[1] / sum(sample.REGIME_MEAN_MINUTES)
    assert len(stays) > 20
    assert abs(stormy_share - expected_share) < 0.1


def test_volatility_clusters_and_tails_are_fat(eth: SampleSeries) -> None:
    """Stylised facts computed from prices alone (no hidden state)."""
    returns = np.diff(np.log(eth.close))
    size = np.abs(returns - returns.mean())
    lag = 60
    clustering = np.corrcoef(size[:-lag], size[lag:])[0, 1]
    assert clustering > 0.05  # an i.i.d. walk gives ~0 ± 0.004 here
    kurtosis = np.mean((returns - returns.mean()) ** 4) / returns.var() ** 2
    assert kurtosis > 4.5  # a normal walk gives 3
    annual = returns.std() * np.sqrt(sample.MINUTES_PER_YEAR)
    assert 0.65 * 0.75 < annual < 0.65 * 1.35  # the ETH profile's 65 % (plus jumps, clusters)


def test_intraday_volume_seasonality(eth: SampleSeries) -> None:
    hours = (eth.timestamp // 3_600_000) % 24
    weekday = (eth.timestamp // 86_400_000 + 3) % 7
    weekdays = weekday < 5
    peak = eth.volume[(hours == 15) & weekdays].mean()
    trough = eth.volume[(hours == 3) & weekdays].mean()
    assert peak / trough > 1.5  # configured 1.35 / 0.65 ≈ 2.1
    assert eth.volume[~weekdays].mean() < eth.volume[weekdays].mean()


def test_jumps_show_up_as_large_moves(eth: SampleSeries) -> None:
    returns = np.abs(np.diff(np.log(eth.close)))
    per_day = eth.jump.sum() / 60
    assert 0.5 < per_day < 3.0
    assert np.median(returns[eth.jump[1:]]) > 2 * np.median(returns[~eth.jump[1:]])


def test_funding_is_hourly_mean_reverting_positive_and_follows_the_trend(
    eth: SampleSeries,
) -> None:
    funding = funding_for(eth)
    times = (
        funding["timestamp"]
        .dt.tz_localize(None)
        .to_numpy()
        .astype("datetime64[ms]")
        .astype("int64")
    )
    assert np.all(np.diff(times) == 3_600_000)
    assert np.all(times % 3_600_000 == 0)
    assert len(funding) == 60 * 24
    rates = funding["rate"].to_numpy()
    assert 0.0 < rates.mean() < 3 * sample.FUNDING_BASE
    assert abs(np.median(rates) - sample.FUNDING_BASE) < 2e-5
    # persistent hour to hour, but deviations die out within a day (mean reversion)
    deviation = rates - rates.mean()
    assert np.corrcoef(deviation[:-1], deviation[1:])[0, 1] > 0.8
    assert np.corrcoef(deviation[:-24], deviation[24:])[0, 1] < 0.4
    # funding leans with the trailing 8h return, computed here from the candles
    index = (times - eth.timestamp[0]) // 60_000 - 1
    trend = np.log(eth.close[index] / eth.close[np.clip(index - 480, 0, None)])
    assert np.corrcoef(trend, rates)[0, 1] > 0.4


def test_ensure_sample_writes_once_flagged_synthetic(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    reports = ensure_sample(store, "hyperliquid", ("ETH-USD", "BTC-USD"), bars=3000, seed=5)
    assert [(r.symbol, r.kind) for r in reports] == [
        ("ETH-USD", "candles"),
        ("ETH-USD", "funding"),
        ("BTC-USD", "candles"),
        ("BTC-USD", "funding"),
    ]
    assert all(r.synthetic for r in reports)
    assert ensure_sample(store, "hyperliquid", ("ETH-USD", "BTC-USD"), bars=3000, seed=5) == []
    infos = store.datasets()
    assert len(infos) == 4
    assert all(i.synthetic for i in infos)
    assert all(i.source == "synthetic sample data (seed 5)" for i in infos)
    stored = store.read_candles("hyperliquid", "ETH-USD", "1m")
    pd.testing.assert_frame_equal(
        stored, sample_candles("ETH-USD", 3000, seed=5), check_dtype=False
    )


def test_ensure_sample_never_touches_real_data(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    real = sample_candles("ETH-USD", 10, seed=1)
    store.write_candles("hyperliquid", "ETH-USD", "1m", real)
    assert ensure_sample(store, "hyperliquid", ("ETH-USD",), bars=100) == []
    (info,) = store.datasets()
    assert not info.synthetic
    assert info.rows == 10
    with pytest.raises(DataError, match="never written over"):
        store.write_candles("hyperliquid", "ETH-USD", "1m", real, synthetic=True)
