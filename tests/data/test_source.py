"""load_frame: stored bars, resampled bars, or the clearly labelled synthetic sample."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sparkstacker.data.importers import import_file
from sparkstacker.data.resample import resample_candles
from sparkstacker.data.sample import sample_candles
from sparkstacker.data.source import load_frame
from sparkstacker.data.store import CandleStore
from sparkstacker.errors import DataError

BINANCE_ALPER = "Alpergulsen__freqtrade/user_data/data/binance/futures"
HOUR = 3_600_000


def test_empty_store_falls_back_to_the_labelled_sample(store: CandleStore) -> None:
    frame, origin = load_frame(store, "hyperliquid", "ETH-USD", "4h")
    assert origin.synthetic
    assert origin.seed == 7
    assert origin.label == "synthetic sample data (seed 7)"
    assert "synthetic sample data (seed 7)" in origin.describe()
    assert origin.source_timeframe == "1m"
    assert origin.resampled
    assert len(frame) == 60 * 6
    assert origin.rows == len(frame)
    assert frame.timestamp.dtype == np.int64
    assert np.all(np.diff(frame.timestamp) == 4 * HOUR)
    assert frame.funding is not None
    assert np.isfinite(frame.funding).sum() == len(frame)
    expected = resample_candles(sample_candles("ETH-USD"), "1m", "4h").frame
    np.testing.assert_array_equal(frame.close, expected["close"].to_numpy())
    # written once, flagged synthetic, visible in the catalogue
    assert {(i.symbol, i.timeframe, i.synthetic) for i in store.datasets()} == {
        ("ETH-USD", "1m", True),
        ("ETH-USD", None, True),
    }
    again, origin2 = load_frame(store, "hyperliquid", "ETH-USD", "4h")
    np.testing.assert_array_equal(again.close, frame.close)
    assert origin2.synthetic


def test_sample_is_refused_when_not_allowed(store: CandleStore) -> None:
    with pytest.raises(DataError, match="no candles stored for ETH-USD on hyperliquid"):
        load_frame(store, "hyperliquid", "ETH-USD", "1h", allow_sample=False)


@pytest.mark.shared
def test_stored_minutes_are_resampled_and_labelled_real(
    store: CandleStore, shared_file: Callable[[str], Path]
) -> None:
    import_file(store, shared_file(f"{BINANCE_ALPER}/ETH_USDT_USDT-1m-futures.feather"))
    frame, origin = load_frame(store, "binance", "ETH-USDT", "4h", with_funding=False)
    assert not origin.synthetic
    assert origin.label == "stored data (1m resampled to 4h)"
    assert len(frame) == 266
    assert origin.partial_dropped == 2
    assert frame.funding is None
    # a start mid-window still yields complete bars from the first full window after it
    part, _ = load_frame(
        store, "binance", "ETH-USDT", "4h", start="2023-07-10T01:00Z", end="2023-07-11"
    )
    expected = pd.date_range("2023-07-10 04:00", "2023-07-10 20:00", freq="4h", tz="UTC")
    assert part.timestamp.tolist() == [int(t.value // 1_000_000) for t in expected]
    exact, origin = load_frame(
        store, "binance", "ETH-USDT", "1m", start="2023-08-01", end="2023-08-02"
    )
    assert len(exact) == 1440
    assert origin.source_timeframe == "1m"
    assert not origin.resampled


def test_stored_data_is_never_swapped_for_the_sample(store: CandleStore) -> None:
    hourly = resample_candles(sample_candles("ETH-USD", bars=600, seed=2), "1m", "1h").frame
    store.write_candles("hl", "ETH-USD", "1h", hourly)
    with pytest.raises(DataError, match="stored at 1h; none of these can make 1m bars"):
        load_frame(store, "hl", "ETH-USD", "1m")
    with pytest.raises(DataError, match=r"no complete 1h bars .* stored 1h data covers"):
        load_frame(store, "hl", "ETH-USD", "1h", start="2030-01-01")
    frame, origin = load_frame(store, "hl", "ETH-USD", "2h")
    assert len(frame) == 5
    assert not origin.synthetic


def test_unwritable_store_gets_an_in_memory_sample(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store folder would go")
    store = CandleStore(blocker / "data")
    frame, origin = load_frame(store, "hl", "BTC-USD", "1h")
    assert origin.synthetic
    assert origin.label == "synthetic sample data (seed 7)"
    assert len(frame) == 60 * 24
    assert frame.funding is not None
    expected = resample_candles(sample_candles("BTC-USD"), "1m", "1h").frame
    np.testing.assert_array_equal(frame.close, expected["close"].to_numpy())


def test_real_candles_are_never_paired_with_sample_funding(store: CandleStore) -> None:
    load_frame(store, "hl", "ETH-USD", "1h")  # writes the sample: candles and funding
    real = sample_candles("ETH-USD", bars=600, seed=99)  # stands for imported real candles
    report = store.write_candles("hl", "ETH-USD", "1m", real, source="import x.csv")
    assert report.replaced_synthetic
    frame, origin = load_frame(store, "hl", "ETH-USD", "1h")
    assert not origin.synthetic
    assert origin.source == "import x.csv"
    assert frame.funding is None  # the stored funding is still the sample's
    assert store.frame("hl", "ETH-USD", "1m").funding is None
    store.write_funding(
        "hl", "ETH-USD", pd.DataFrame({"timestamp": [real["timestamp"][60]], "rate": [1e-5]})
    )
    frame, _ = load_frame(store, "hl", "ETH-USD", "1h")
    assert frame.funding is not None
    assert np.nansum(frame.funding) == 1e-5
