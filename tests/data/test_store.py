"""The Parquet store: round trips, merges (newest wins), partitions, flags, validation."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sparkstacker.data.store import CandleStore
from sparkstacker.errors import DataError

MINUTE = 60_000
JAN = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def make(ts_ms: list[int] | np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Consistent candles at the given opens (values depend on ``seed`` and position)."""
    ts = np.asarray(ts_ms, dtype="int64")
    rng = np.random.default_rng(seed)
    open_ = np.round(100 + rng.random(ts.size) * 10, 2)
    close = np.round(100 + rng.random(ts.size) * 10, 2)
    high = np.maximum(open_, close) + 0.5
    low = np.minimum(open_, close) - 0.5
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(ts, unit="ms", utc=True),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.round(rng.random(ts.size) * 5, 3),
        }
    )


def as_ms(frame: pd.DataFrame) -> np.ndarray:
    naive = frame["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return naive.astype("datetime64[ms]").astype("int64")


def test_round_trip_keeps_values_and_canonical_types(store: CandleStore) -> None:
    data = make(JAN + MINUTE * np.arange(500))
    report = store.write_candles("hl", "ETH-USD", "1m", data)
    back = store.read_candles("hl", "ETH-USD", "1m")
    assert str(back["timestamp"].dtype) == "datetime64[ms, UTC]"
    assert all(back[c].dtype == np.float64 for c in ("open", "high", "low", "close", "volume"))
    np.testing.assert_array_equal(as_ms(back), JAN + MINUTE * np.arange(500))
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(back[column].to_numpy(), data[column].to_numpy())
    assert (report.rows_added, report.rows_replaced, report.total_rows) == (500, 0, 500)
    assert report.first == JAN
    assert report.last == JAN + 499 * MINUTE


def test_epoch_ms_integers_are_accepted_as_timestamps(store: CandleStore) -> None:
    data = make(JAN + MINUTE * np.arange(3))
    data["timestamp"] = JAN + MINUTE * np.arange(3)
    store.write_candles("hl", "ETH-USD", "1m", data)
    assert list(as_ms(store.read_candles("hl", "ETH-USD", "1m"))) == [
        JAN,
        JAN + MINUTE,
        JAN + 2 * MINUTE,
    ]


def test_merge_counts_and_newest_wins(store: CandleStore) -> None:
    store.write_candles("hl", "ETH-USD", "1m", make(JAN + MINUTE * np.arange(10), seed=1))
    second = make(JAN + MINUTE * np.arange(5, 15), seed=2)
    second.loc[second.index[:2], ["open", "high", "low", "close", "volume"]] = (
        store.read_candles("hl", "ETH-USD", "1m")
        .iloc[5:7][["open", "high", "low", "close", "volume"]]
        .to_numpy()
    )  # two rows identical to what is stored: "unchanged"
    report = store.write_candles("hl", "ETH-USD", "1m", second)
    assert report.rows_added == 5  # minutes 10..14 are new
    assert report.rows_unchanged == 2  # minutes 5, 6 carry the same values
    assert report.rows_replaced == 3  # minutes 7, 8, 9 changed
    back = store.read_candles("hl", "ETH-USD", "1m")
    assert len(back) == 15
    np.testing.assert_array_equal(back["close"].to_numpy()[5:], second["close"].to_numpy())


def test_duplicates_inside_one_input_keep_the_last(store: CandleStore) -> None:
    data = make([JAN, JAN + MINUTE, JAN + MINUTE], seed=3)
    report = store.write_candles("hl", "ETH-USD", "1m", data)
    assert report.duplicates_in_input == 1
    back = store.read_candles("hl", "ETH-USD", "1m")
    assert len(back) == 2
    assert back["close"].iloc[1] == data["close"].iloc[2]


chunk_bounds = st.lists(st.tuples(st.integers(0, 199), st.integers(1, 80)), min_size=1, max_size=6)


@settings(max_examples=15, deadline=None)
@given(bounds=chunk_bounds, data=st.data())
def test_any_overlapping_split_in_any_order_reads_back_as_the_whole(
    tmp_path_factory: pytest.TempPathFactory, bounds: list[tuple[int, int]], data: st.DataObject
) -> None:
    """Writing overlapping chunks of one series, in any order, equals writing the union."""
    month_end = JAN + 31 * 1440 * MINUTE - 100 * MINUTE  # the series crosses into February
    whole = make(month_end + MINUTE * np.arange(200), seed=4)
    chunks = [whole.iloc[a : min(200, a + n)] for a, n in bounds]
    order = data.draw(st.permutations(range(len(chunks))))
    store = CandleStore(tmp_path_factory.mktemp("split"))
    for i in order:
        store.write_candles("hl", "ETH-USD", "1m", chunks[i])
    covered = sorted({t for c in chunks for t in as_ms(c).tolist()})
    back = store.read_candles("hl", "ETH-USD", "1m")
    expected = whole[np.isin(as_ms(whole), covered)].reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


@settings(max_examples=15, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, 59), st.integers(1, 30), st.integers(0, 10_000)),
        min_size=1,
        max_size=5,
    )
)
def test_newest_write_wins_for_every_timestamp(
    tmp_path_factory: pytest.TempPathFactory, writes: list[tuple[int, int, int]]
) -> None:
    """Replaying the writes through a dict (last writer wins) predicts the stored values."""
    store = CandleStore(tmp_path_factory.mktemp("newest"))
    expected: dict[int, float] = {}
    for start, count, seed in writes:
        ts = JAN + MINUTE * np.arange(start, start + count)
        chunk = make(ts, seed=seed)
        store.write_candles("hl", "ETH-USD", "1m", chunk)
        expected.update(zip(ts.tolist(), chunk["close"].tolist(), strict=True))
    back = store.read_candles("hl", "ETH-USD", "1m")
    assert as_ms(back).tolist() == sorted(expected)
    assert back["close"].tolist() == [expected[t] for t in sorted(expected)]


def test_one_file_per_month_and_only_touched_partitions_are_rewritten(
    store: CandleStore,
) -> None:
    # 2024-01-31 23:00 → 2024-02-01 00:59: two months
    start = JAN + 30 * 86_400_000 + 23 * 3_600_000
    store.write_candles("hl", "ETH-USD", "1m", make(start + MINUTE * np.arange(120)))
    folder = store.candles_dir("hl", "ETH-USD", "1m")
    assert sorted(p.name for p in folder.glob("*.parquet")) == [
        "2024-01.parquet",
        "2024-02.parquet",
    ]
    january = folder / "2024-01.parquet"
    before = (january.stat().st_ino, january.stat().st_mtime_ns)
    report = store.write_candles("hl", "ETH-USD", "1m", make(start + MINUTE * np.arange(120, 130)))
    assert report.partitions == ("2024-02",)
    assert (january.stat().st_ino, january.stat().st_mtime_ns) == before
    hourly = store.candles_dir("hl", "ETH-USD", "1h")
    store.write_candles("hl", "ETH-USD", "1h", make(JAN + 3_600_000 * np.arange(24 * 40)))
    assert [p.name for p in hourly.glob("*.parquet")] == ["2024.parquet"]


def test_read_range_is_start_inclusive_end_exclusive(store: CandleStore) -> None:
    store.write_candles("hl", "ETH-USD", "1m", make(JAN + MINUTE * np.arange(100)))
    part = store.read_candles(
        "hl", "ETH-USD", "1m", start="2024-01-01T00:10:00Z", end=JAN + 20 * MINUTE
    )
    assert as_ms(part).tolist() == (JAN + MINUTE * np.arange(10, 20)).tolist()
    assert store.read_candles("hl", "ETH-USD", "1m", start="2025-01-01").empty


def test_missing_dataset_is_a_clear_error(store: CandleStore) -> None:
    store.write_candles("hl", "ETH-USD", "1m", make(JAN + MINUTE * np.arange(3)))
    with pytest.raises(
        DataError, match=r"no 4h candles stored for ETH-USD on hl.*stored timeframes: 1m"
    ):
        store.read_candles("hl", "ETH-USD", "4h")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"high": 99.0}, r"row 3 \(2024-01-01 00:03:00\): high 99.0 is below max\(open, close\)"),
        ({"low": 200.0}, r"row 3 \(2024-01-01 00:03:00\): low 200.0 is above min\(open, close\)"),
        ({"volume": -1.0}, r"row 3 \(2024-01-01 00:03:00\): volume is negative"),
        ({"open": 0.0, "low": 0.0}, r"row 3 .*open 0.0 is not a positive price"),
        ({"close": np.nan}, r"row 3 .*close is missing or not finite"),
    ],
)
def test_bad_rows_are_named_and_nothing_is_written(
    store: CandleStore, change: dict[str, float], message: str
) -> None:
    store.write_candles("hl", "ETH-USD", "1m", make(JAN + MINUTE * np.arange(5), seed=5))
    folder = store.candles_dir("hl", "ETH-USD", "1m")
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    bad = make(JAN + MINUTE * np.arange(3, 8), seed=6)
    bad.index = pd.RangeIndex(3, 8)
    for column, value in change.items():
        bad.loc[3, column] = value
    with pytest.raises(DataError, match=message):
        store.write_candles("hl", "ETH-USD", "1m", bad)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert after == before


def test_missing_columns_text_values_and_off_grid_times_are_rejected(store: CandleStore) -> None:
    data = make(JAN + MINUTE * np.arange(3))
    with pytest.raises(DataError, match=r"missing column.*volume"):
        store.write_candles("hl", "ETH-USD", "1m", data.drop(columns=["volume"]))
    text = data.assign(open=data["open"].astype(str))
    with pytest.raises(DataError, match="column open has type"):
        store.write_candles("hl", "ETH-USD", "1m", text)
    with pytest.raises(
        DataError, match=r"row 1 \(2024-01-01 00:01:30\): timestamp is not a bar open"
    ):
        store.write_candles("hl", "ETH-USD", "1m", make([JAN, JAN + 90_000]))
    with pytest.raises(DataError, match="timeframe '7x' is not valid"):
        store.write_candles("hl", "ETH-USD", "7x", data)
    assert store.datasets() == []


def test_synthetic_flag_is_kept_and_real_data_supersedes_it(store: CandleStore) -> None:
    store.write_candles(
        "hl", "ETH-USD", "1m", make(JAN + MINUTE * np.arange(50)), synthetic=True, source="sample"
    )
    (info,) = store.datasets()
    assert info.synthetic
    assert info.rows == 50
    assert info.source == "sample"
    store.write_candles("hl", "BTC-USD", "1m", make([JAN]))
    with pytest.raises(DataError, match="never written over"):
        store.write_candles("hl", "BTC-USD", "1m", make([JAN + MINUTE]), synthetic=True)
    report = store.write_candles("hl", "ETH-USD", "1m", make(JAN + MINUTE * np.arange(40, 45)))
    assert report.replaced_synthetic
    assert report.total_rows == 5
    info = store.dataset("hl", "ETH-USD", "1m")
    assert info is not None
    assert not info.synthetic
    assert info.rows == 5


def test_datasets_summarise_each_series(store: CandleStore) -> None:
    ts = JAN + MINUTE * np.concatenate([np.arange(10), np.arange(13, 20), np.arange(25, 26)])
    store.write_candles("hl", "ETH-USD", "1m", make(ts))
    store.write_candles("bin", "ETH/USDT:USDT", "5m", make(JAN + 5 * MINUTE * np.arange(4)))
    infos = {(i.venue, i.symbol, i.timeframe): i for i in store.datasets()}
    eth = infos[("hl", "ETH-USD", "1m")]
    assert (eth.rows, eth.first, eth.last, eth.gaps) == (18, JAN, JAN + 25 * MINUTE, 2)
    assert eth.bytes > 0
    assert eth.files == 1
    assert ("bin", "ETH/USDT:USDT", "5m") in infos  # odd characters survive the folder names
    assert store.timeframes("hl", "ETH-USD") == ["1m"]
    assert store.last_timestamp("hl", "ETH-USD", "1m") == JAN + 25 * MINUTE
    gaps = store.gaps("hl", "ETH-USD", "1m")
    assert [(g.start, g.end, g.missing) for g in gaps] == [
        (JAN + 10 * MINUTE, JAN + 12 * MINUTE, 3),
        (JAN + 20 * MINUTE, JAN + 24 * MINUTE, 5),
    ]


def test_summary_is_rebuilt_when_the_metadata_file_is_missing(store: CandleStore) -> None:
    store.write_candles("hl", "ETH-USD", "1m", make(JAN + MINUTE * np.array([0, 1, 5])))
    os.remove(store.candles_dir("hl", "ETH-USD", "1m") / "_dataset.json")
    (info,) = store.datasets()
    assert (info.rows, info.gaps, info.synthetic) == (3, 1, False)


def test_delete_removes_one_timeframe_or_the_whole_market(store: CandleStore) -> None:
    for tf, step in (("1m", MINUTE), ("5m", 5 * MINUTE)):
        store.write_candles("hl", "ETH-USD", tf, make(JAN + step * np.arange(3)))
    store.write_funding("hl", "ETH-USD", pd.DataFrame({"timestamp": [JAN], "rate": [1e-5]}))
    assert len(store.delete("hl", "ETH-USD", "5m")) == 1
    assert store.timeframes("hl", "ETH-USD") == ["1m"]
    store.delete("hl", "ETH-USD")
    assert store.datasets() == []


# ---- funding ------------------------------------------------------------------------------------


def funding(times: list[int], rates: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(times, unit="ms", utc=True),
            "rate": rates,
            "interval_seconds": [3600] * len(times),
        }
    )


HOUR = 3_600_000


def test_funding_round_trip_and_jittered_prints_merge(store: CandleStore) -> None:
    store.write_funding("hl", "ETH-USD", funding([JAN + 48, JAN + HOUR + 5], [1e-5, 2e-5]))
    report = store.write_funding(
        "hl", "ETH-USD", funding([JAN + HOUR - 1, JAN + 2 * HOUR], [3e-5, 4e-5])
    )
    # JAN+HOUR-1 ms and JAN+HOUR+5 ms are one print stamped with jitter: replaced, not added
    assert (report.rows_added, report.rows_replaced) == (1, 1)
    back = store.read_funding("hl", "ETH-USD")
    assert back["rate"].tolist() == [1e-5, 3e-5, 4e-5]
    assert back["interval_seconds"].tolist() == [3600, 3600, 3600]


def test_funding_interval_is_inferred_when_absent(store: CandleStore) -> None:
    times = [JAN + 8 * HOUR * i for i in range(4)] + [
        JAN + 24 * HOUR + HOUR * i for i in range(1, 6)
    ]
    store.write_funding("hl", "ETH-USD", pd.DataFrame({"timestamp": times, "rate": [1e-5] * 9}))
    intervals = store.read_funding("hl", "ETH-USD")["interval_seconds"].tolist()
    assert intervals == [28800] * 4 + [3600] * 5


def test_frame_aligns_funding_to_the_bar_containing_each_print(store: CandleStore) -> None:
    store.write_candles("hl", "ETH-USD", "1h", make(JAN + HOUR * np.arange(12)))
    store.write_candles("hl", "ETH-USD", "4h", make(JAN + 4 * HOUR * np.arange(3)))
    prints = [JAN + HOUR + 48, JAN + 2 * HOUR - 1, JAN + 3 * HOUR + 1800_000, JAN + 6 * HOUR]
    rates = [1e-5, 2e-5, 4e-5, 8e-5]
    store.write_funding("hl", "ETH-USD", funding(prints, rates))
    hourly = store.frame("hl", "ETH-USD", "1h")
    assert hourly.timestamp.dtype == np.int64
    assert hourly.timestamp[0] == JAN
    expected = np.full(12, np.nan)
    expected[1] = 1e-5  # 01:00:00.048 → the 01:00 bar
    expected[2] = 2e-5  # 01:59:59.999 rounds to 02:00:00 → the 02:00 bar
    expected[3] = 4e-5  # 03:30 → the 03:00 bar
    expected[6] = 8e-5
    np.testing.assert_array_equal(hourly.funding, expected)
    four = store.frame("hl", "ETH-USD", "4h")
    np.testing.assert_allclose(four.funding, [1e-5 + 2e-5 + 4e-5, 8e-5, np.nan])
    assert store.frame("hl", "ETH-USD", "4h", with_funding=False).funding is None
    store.write_candles("hl", "BTC-USD", "1h", make(JAN + HOUR * np.arange(3)))
    assert store.frame("hl", "BTC-USD", "1h").funding is None


def test_an_empty_write_changes_nothing(store: CandleStore) -> None:
    data = make(JAN + MINUTE * np.arange(5))
    store.write_candles("hl", "ETH-USD", "1m", data, synthetic=True, source="sample")
    report = store.write_candles("hl", "ETH-USD", "1m", data.iloc[:0])
    assert (report.rows_added, report.total_rows, report.replaced_synthetic) == (0, 5, False)
    (info,) = store.datasets()
    assert info.synthetic
    assert info.rows == 5
