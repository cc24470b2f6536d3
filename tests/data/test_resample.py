"""Resampling: a hand computation, pandas, the venue's own candles, and no look-ahead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sparkstacker.data.importers import import_file
from sparkstacker.data.resample import resample_candles
from sparkstacker.data.store import CandleStore
from sparkstacker.errors import DataError

HL = "hippocritical__freqtrade_hyperliquid_download-data/user_data/data/hyperliquid/futures"
BINANCE_ALPER = "Alpergulsen__freqtrade/user_data/data/binance/futures"
MINUTE = 60_000
JAN = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a Monday


def bars(
    ts: np.ndarray, o: list[float], h: list[float], lo: list[float], c: list[float], v: list[float]
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(np.asarray(ts), unit="ms", utc=True),
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": v,
        }
    )


def as_ms(frame: pd.DataFrame) -> list[int]:
    naive = frame["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return naive.astype("datetime64[ms]").astype("int64").tolist()


def test_hand_computed_five_minute_bars() -> None:
    # minutes 00:03 … 00:14: the 00:00 bucket starts mid-window (partial), 00:05 and 00:10 are full
    ts = JAN + MINUTE * np.arange(3, 15)
    o = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]
    c = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]
    h = [x + 1 for x in c]
    h[4] = 30  # 00:07 has the 00:05 bucket's high
    lo = [x - 1 for x in o]
    lo[8] = 5  # 00:11 has the 00:10 bucket's low
    v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    result = resample_candles(bars(ts, o, h, lo, c, v), "1m", "5m")
    out = result.frame
    assert as_ms(out) == [JAN + 5 * MINUTE, JAN + 10 * MINUTE]
    # 00:05 bucket = minutes 05..09 = positions 2..6
    assert out.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == [
        12,
        30,
        11,
        17,
        3 + 4 + 5 + 6 + 7,
    ]
    # 00:10 bucket = minutes 10..14 = positions 7..11
    assert out.iloc[1][["open", "high", "low", "close", "volume"]].tolist() == [
        17,
        23,
        5,
        22,
        8 + 9 + 10 + 11 + 12,
    ]
    assert (result.complete, result.partial_dropped) == (2, 1)
    kept = resample_candles(bars(ts, o, h, lo, c, v), "1m", "5m", include_partial=True)
    assert as_ms(kept.frame)[0] == JAN
    assert kept.frame.iloc[0]["volume"] == 1 + 2
    assert kept.partial_kept == 1


def test_a_bucket_missing_a_minute_is_incomplete() -> None:
    ts = JAN + MINUTE * np.array([0, 1, 2, 3, 4, 5, 6, 8, 9])  # 00:07 missing
    ones = [1.0] * len(ts)
    result = resample_candles(bars(ts, ones, ones, ones, ones, ones), "1m", "5m")
    assert as_ms(result.frame) == [JAN]
    assert result.partial_dropped == 1


def test_weeks_open_on_monday_and_days_at_midnight_utc() -> None:
    ts = JAN + 3_600_000 * np.arange(24 * 14)  # two weeks of hourly bars from Monday
    ones = [1.0] * len(ts)
    weekly = resample_candles(bars(ts, ones, ones, ones, ones, ones), "1h", "1w").frame
    assert as_ms(weekly) == [JAN, JAN + 7 * 86_400_000]
    assert pd.Timestamp(as_ms(weekly)[1], unit="ms").day_name() == "Monday"
    daily = resample_candles(bars(ts, ones, ones, ones, ones, ones), "1h", "1d").frame
    assert len(daily) == 14
    assert daily["volume"].tolist() == [24.0] * 14


def test_impossible_targets_are_refused() -> None:
    frame = bars(np.array([JAN]), [1.0], [1.0], [1.0], [1.0], [1.0])
    with pytest.raises(DataError, match="whole multiple"):
        resample_candles(frame, "5m", "7m")
    with pytest.raises(DataError, match="whole multiple"):
        resample_candles(frame, "1h", "5m")


@pytest.mark.shared
def test_matches_pandas_on_real_binance_minutes(shared_file: Callable[[str], Path]) -> None:
    raw = pd.read_feather(shared_file(f"{BINANCE_ALPER}/ETH_USDT_USDT-1m-futures.feather"))
    frame = raw.rename(columns={"date": "timestamp"})
    ours = resample_candles(frame, "1m", "4h").frame
    grouped = frame.set_index("timestamp").resample(
        "4h", origin="epoch", label="left", closed="left"
    )
    theirs = grouped.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    counts = grouped["close"].count()
    theirs = theirs[counts == 240]  # complete 4h windows only
    assert len(ours) == len(theirs) == 266
    assert as_ms(ours) == [int(t.value // 1_000_000) for t in theirs.index]
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(ours[column].to_numpy(), theirs[column].to_numpy())
    np.testing.assert_allclose(ours["volume"].to_numpy(), theirs["volume"].to_numpy(), rtol=1e-12)


@pytest.mark.shared
@pytest.mark.parametrize(("coin", "target"), [("ETH", "5m"), ("BTC", "5m"), ("ETH", "1h")])
def test_rebuilds_hyperliquids_own_candles_from_its_minutes(
    shared_file: Callable[[str], Path], tmp_path: Path, coin: str, target: str
) -> None:
    """Hyperliquid's 5m/1h candles (recorded separately) equal our aggregation of its 1m."""
    store = CandleStore(tmp_path)
    import_file(store, shared_file(f"{HL}/{coin}_USDC_USDC-1m-futures.feather"))
    import_file(store, shared_file(f"{HL}/{coin}_USDC_USDC-{target}-futures.feather"))
    minutes = store.read_candles("hyperliquid", f"{coin}-USDC", "1m")
    ours = resample_candles(minutes, "1m", target).frame
    venue = store.read_candles(
        "hyperliquid", f"{coin}-USDC", target, start=ours["timestamp"].iloc[0],
        end=ours["timestamp"].iloc[-1] + pd.Timedelta(target.replace("m", "min")),
    )  # fmt: skip
    assert len(ours) == len(venue) > 100
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(ours[column].to_numpy(), venue[column].to_numpy())
    np.testing.assert_allclose(ours["volume"].to_numpy(), venue["volume"].to_numpy(), rtol=1e-12)


series = st.lists(
    st.tuples(
        st.floats(1, 1000), st.floats(1, 1000), st.floats(0, 50), st.floats(0, 100), st.booleans()
    ),
    min_size=1,
    max_size=200,
)


def build(rows: list[tuple[float, float, float, float, bool]]) -> pd.DataFrame:
    """Minutes from JAN; rows flagged False are left out (gaps)."""
    kept = [(i, r) for i, r in enumerate(rows) if r[4] or i == 0]
    ts = np.array([JAN + MINUTE * i for i, _ in kept])
    o = [r[0] for _, r in kept]
    c = [r[1] for _, r in kept]
    h = [max(r[0], r[1]) + r[2] for _, r in kept]
    lo = [min(r[0], r[1]) * 0.5 for _, r in kept]
    v = [r[3] for _, r in kept]
    return bars(ts, o, h, lo, c, v)


@settings(max_examples=40, deadline=None)
@given(rows=series, target=st.sampled_from(["3m", "5m", "15m", "1h"]), partial=st.booleans())
def test_every_bar_is_the_aggregate_of_exactly_its_own_minutes(
    rows: list[tuple[float, float, float, float, bool]], target: str, partial: bool
) -> None:
    frame = build(rows)
    size = pd.Timedelta(target.replace("m", "min")).value // 1_000_000
    out = resample_candles(frame, "1m", target, include_partial=partial).frame
    minutes = np.array(as_ms(frame))
    for row, open_ms in zip(out.itertuples(), as_ms(out), strict=True):
        inside = (minutes >= open_ms) & (minutes < open_ms + size)
        own = frame[inside]
        assert row.open == own["open"].iloc[0]
        assert row.close == own["close"].iloc[-1]
        assert row.high == own["high"].max()
        assert row.low == own["low"].min()
        assert row.volume == pytest.approx(own["volume"].sum(), rel=1e-12)
        if not partial:
            assert inside.sum() == size // MINUTE


@settings(max_examples=30, deadline=None)
@given(rows=series, cut=st.integers(0, 199), noise=st.floats(1.5, 3.0))
def test_no_look_ahead_changing_later_minutes_leaves_earlier_bars_alone(
    rows: list[tuple[float, float, float, float, bool]], cut: int, noise: float
) -> None:
    """Scrambling every minute from ``cut`` on changes no bar that closed before ``cut``."""
    frame = build(rows)
    later = np.array(as_ms(frame)) >= JAN + MINUTE * cut
    changed = frame.copy()
    for column in ("open", "high", "low", "close", "volume"):
        changed.loc[later, column] = changed.loc[later, column] * noise
    before = resample_candles(frame, "1m", "15m", include_partial=True).frame
    after = resample_candles(changed, "1m", "15m", include_partial=True).frame
    closed = [i for i, t in enumerate(as_ms(before)) if t + 15 * MINUTE <= JAN + MINUTE * cut]
    pd.testing.assert_frame_equal(before.iloc[closed], after.iloc[closed])
