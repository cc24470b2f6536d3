"""download_candles / download_funding against a replay of recorded Hyperliquid history.

The replay (``ReplayHistory`` in conftest) serves real recorded candles and funding prints with
the venue's documented limits: the latest 5000 candles only, the first candle may open before
``startTime``, the last one may still be forming. The store must end up holding exactly the
recorded bars, without duplicates, after repeated downloads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sparkstacker.data.download import download_candles, download_funding
from sparkstacker.data.store import CandleStore
from sparkstacker.errors import DataError

HL = "hippocritical__freqtrade_hyperliquid_download-data/user_data/data/hyperliquid/futures"
FIVE = 300_000
pytestmark = pytest.mark.shared


def ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


def stored(store: CandleStore, timeframe: str = "5m") -> pd.DataFrame:
    frame = store.read_candles("hyperliquid", "ETH-USD", timeframe)
    naive = frame["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    frame.insert(0, "ts", naive.astype("datetime64[ms]").astype("int64"))
    return frame


def assert_matches_recording(frame: pd.DataFrame, recording: pd.DataFrame) -> None:
    want = recording[recording["ts"].isin(frame["ts"])]
    assert len(want) == len(frame)
    for column in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(frame[column].to_numpy(), want[column].to_numpy())


@pytest.fixture
def eth5m(
    shared_file: Callable[[str], Path], load_recorded: Callable[[Path], pd.DataFrame]
) -> pd.DataFrame:
    return load_recorded(shared_file(f"{HL}/ETH_USDC_USDC-5m-futures.feather"))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_three_days_of_downloads_accumulate_without_duplicates(
    store: CandleStore, eth5m: pd.DataFrame, replay_cls: Any
) -> None:
    now = ms("2025-06-01 00:02:30")  # mid-bar: the 00:00 bar is still forming
    venue = replay_cls(eth5m, "5m", now)
    day1 = run(
        download_candles(venue, store, "hyperliquid", "ETH-USD", "5m", history_limit=5000, now=now)
    )
    first = stored(store)
    # the venue keeps 5000 bars including the forming one: 4999 closed bars end at 23:55
    assert len(first) == 4999
    assert first["ts"].iloc[-1] == ms("2025-05-31 23:55")
    assert first["ts"].iloc[0] == ms("2025-05-31 23:55") - 4998 * FIVE
    assert day1.unclosed == 1
    assert day1.added == 4999
    assert_matches_recording(first, eth5m)

    for day in (2, 3):
        venue.advance(timedelta(days=1))
        report = run(
            download_candles(
                venue, store, "hyperliquid", "ETH-USD", "5m", history_limit=5000, now=venue.now
            )
        )
        assert report.resumed_from == ms("2025-05-31 23:55") + (day - 2) * 86_400_000
        assert report.added == 288
        assert report.replaced == 0
        assert report.unchanged == 0
        assert report.unclosed == 1  # the newly forming bar was seen and skipped
    frame = stored(store)
    assert len(frame) == 4999 + 2 * 288
    assert frame["ts"].is_unique
    assert np.all(np.diff(frame["ts"]) == FIVE)
    assert_matches_recording(frame, eth5m)
    (info,) = store.datasets()
    assert info.rows == len(frame)
    assert info.gaps == 0
    assert not info.synthetic


def test_paging_respects_a_small_request_limit(
    store: CandleStore, eth5m: pd.DataFrame, replay_cls: Any
) -> None:
    now = ms("2025-06-01 00:00")
    venue = replay_cls(eth5m, "5m", now, per_request=700)
    start = ms("2025-05-25 00:00")
    report = run(
        download_candles(
            venue, store, "hyperliquid", "ETH-USD", "5m", start, page_limit=700, now=now
        )
    )
    expected = (now - start) // FIVE  # every closed bar in [start, now)
    frame = stored(store)
    assert len(frame) == expected == report.added
    assert report.pages >= expected // 700
    assert all((end - begin) // FIVE <= 700 for begin, end in venue.requests)
    assert_matches_recording(frame, eth5m)


def test_first_candle_opening_before_start_is_not_stored(
    store: CandleStore, eth5m: pd.DataFrame, replay_cls: Any
) -> None:
    now = ms("2025-06-01 00:00")
    venue = replay_cls(eth5m, "5m", now)
    start = ms("2025-05-31 12:02")  # inside the 12:00 bar: the venue returns that bar first
    report = run(download_candles(venue, store, "hyperliquid", "ETH-USD", "5m", start, now=now))
    frame = stored(store)
    assert frame["ts"].iloc[0] == ms("2025-05-31 12:05")
    # outside the range: the 12:00 bar (contains start) and the 00:00 bar (opens at endTime,
    # which the venue includes)
    assert report.outside_range == 2
    assert len(frame) == (now - ms("2025-05-31 12:05")) // FIVE


def test_window_moving_past_the_stored_data_leaves_a_reported_gap(
    store: CandleStore, eth5m: pd.DataFrame, replay_cls: Any
) -> None:
    now = ms("2025-05-01 00:00")
    venue = replay_cls(eth5m, "5m", now)
    run(download_candles(venue, store, "hyperliquid", "ETH-USD", "5m", history_limit=5000, now=now))
    last = stored(store)["ts"].iloc[-1]
    venue.advance(timedelta(days=30))  # 8640 bars later: more than the venue keeps
    report = run(
        download_candles(
            venue, store, "hyperliquid", "ETH-USD", "5m", history_limit=5000, now=venue.now
        )
    )
    oldest_served = (venue.now // FIVE - 4999) * FIVE
    assert report.unavailable_before == oldest_served
    assert "served nothing before" in report.summary()
    gaps = store.gaps("hyperliquid", "ETH-USD", "5m")
    assert [(g.start, g.end, g.missing) for g in gaps] == [
        (last + FIVE, oldest_served - FIVE, (oldest_served - last) // FIVE - 1)
    ]
    assert_matches_recording(stored(store), eth5m)


def test_funding_downloads_page_and_resume(
    store: CandleStore,
    eth5m: pd.DataFrame,
    replay_cls: Any,
    shared_file: Callable[[str], Path],
    load_recorded: Callable[[Path], pd.DataFrame],
) -> None:
    prints = load_recorded(shared_file(f"{HL}/ETH_USDC_USDC-1h-funding_rate.feather"))
    now = ms("2025-06-01 00:30")
    venue = replay_cls(eth5m, "5m", now, funding=prints)
    report = run(download_funding(venue, store, "hyperliquid", "ETH-USD", now=now))
    in_range = prints[(prints["ts"] >= now - 30 * 86_400_000) & (prints["ts"] < now)]
    assert report.pages >= 2  # 720 prints, 500 per response
    assert report.added == len(in_range) == 720
    venue.advance(timedelta(hours=5))
    again = run(download_funding(venue, store, "hyperliquid", "ETH-USD", now=venue.now))
    assert again.added == 5
    assert again.replaced == 0
    funding = store.read_funding("hyperliquid", "ETH-USD")
    np.testing.assert_array_equal(
        funding["rate"].to_numpy(),
        prints[(prints["ts"] >= now - 30 * 86_400_000) & (prints["ts"] < venue.now)][
            "open"
        ].to_numpy(),
    )


def test_an_object_without_history_is_a_clear_error(store: CandleStore) -> None:
    class NoHistory:
        name = "sim.main"

    with pytest.raises(DataError, match=r"sim\.main does not serve market history"):
        run(download_candles(NoHistory(), store, "sim", "ETH-USD", "1m"))  # type: ignore[arg-type]
