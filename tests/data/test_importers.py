"""Importers: the recorded freqtrade files from ../shared, and every supported file shape."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sparkstacker.data.importers import guess_from_path, import_file, parse_mapping
from sparkstacker.data.store import CandleStore
from sparkstacker.errors import DataError

BINANCE_ALPER = "Alpergulsen__freqtrade/user_data/data/binance/futures"
BINANCE_TYPHON = "typhonun__DcaTpStrategy/user_data/data/binance/futures"
HL = "hippocritical__freqtrade_hyperliquid_download-data/user_data/data/hyperliquid/futures"
FREQTRADE = "freqtrade__freqtrade/tests/testdata"
ETH_1M = "ETH_USDT_USDT-1m-futures.feather"


def ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


def stored_ms(frame: pd.DataFrame) -> np.ndarray:
    naive = frame["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return naive.astype("datetime64[ms]").astype("int64")


# ---- recorded files (row counts and ranges from shared/marketdata/README.md) --------------------


@pytest.mark.shared
@pytest.mark.parametrize(
    ("relative", "rows", "first", "last"),
    [
        (f"{BINANCE_ALPER}/{ETH_1M}", 64066, "2023-07-03 23:26", "2023-08-17 11:11"),
        (f"{BINANCE_TYPHON}/{ETH_1M}", 60191, "2025-05-04 15:33", "2025-06-15 10:43"),
    ],
)
def test_binance_1m_feather_files_import_completely(
    store: CandleStore,
    shared_file: Callable[[str], Path],
    relative: str,
    rows: int,
    first: str,
    last: str,
) -> None:
    result = import_file(store, shared_file(relative))
    assert (result.venue, result.symbol, result.timeframe) == ("binance", "ETH-USDT", "1m")
    assert any("venue binance" in i for i in result.inferred)
    assert any("symbol ETH-USDT" in i for i in result.inferred)
    report = result.report
    assert (report.rows_added, report.total_rows, report.gaps) == (rows, rows, ())
    assert (report.first, report.last) == (ms(first), ms(last))
    back = store.read_candles("binance", "ETH-USDT", "1m")
    raw = pd.read_feather(shared_file(relative))
    np.testing.assert_array_equal(back["close"].to_numpy(), raw["close"].to_numpy())
    (info,) = store.datasets()
    assert info.rows == rows
    assert not info.synthetic


@pytest.mark.shared
def test_hyperliquid_funding_feather_imports_with_rate_from_open(
    store: CandleStore, shared_file: Callable[[str], Path]
) -> None:
    path = shared_file(f"{HL}/ETH_USDC_USDC-1h-funding_rate.feather")
    result = import_file(store, path)
    assert result.kind == "funding"
    assert result.venue == "hyperliquid"
    assert any("open" in note for note in result.notes)
    funding = store.read_funding("hyperliquid", "ETH-USDC")
    assert len(funding) == 18778
    times = stored_ms(funding)
    assert times[0] == ms("2023-05-12 00:00:00.048")
    assert times[-1] == ms("2025-07-26 03:00:00.027")
    raw = pd.read_feather(path)
    np.testing.assert_array_equal(funding["rate"].to_numpy(), raw["open"].to_numpy())
    # 8-hourly until 2023-06-08, hourly after (README); intervals come from the print spacing
    switch = ms("2023-06-08")
    intervals = funding["interval_seconds"].to_numpy()
    assert set(intervals[times < switch - 8 * 3_600_000]) == {28800}
    assert set(intervals[times > switch + 8 * 3_600_000]) == {3600}
    # README: "three hourly funding prints are missing (2023-07-02, 2023-08-23, 2024-08-15)"
    gaps = store.funding_gaps("hyperliquid", "ETH-USDC")
    days = [pd.Timestamp(g.start, unit="ms").strftime("%Y-%m-%d") for g in gaps]
    assert days == ["2023-07-02", "2023-08-23", "2024-08-15"]
    assert [g.missing for g in gaps] == [1, 1, 1]


@pytest.mark.shared
def test_explicit_funding_flag_maps_open_to_rate(
    store: CandleStore, shared_file: Callable[[str], Path], tmp_path: Path
) -> None:
    source = shared_file(f"{BINANCE_ALPER}/ETH_USDT_USDT-8h-funding_rate.feather")
    renamed = tmp_path / "eth_funding.feather"
    renamed.write_bytes(source.read_bytes())  # a name that says nothing
    result = import_file(store, renamed, venue="binance", symbol="ETH-USDT", funding=True)
    assert result.kind == "funding"
    assert result.inferred == ()
    funding = store.read_funding("binance", "ETH-USDT")
    assert len(funding) == 133
    assert set(funding["interval_seconds"]) == {28800}


@pytest.mark.shared
def test_freqtrade_json_list_matches_its_feather_twin_and_has_538_gaps(
    store: CandleStore, shared_file: Callable[[str], Path]
) -> None:
    result = import_file(store, shared_file(f"{FREQTRADE}/UNITTEST_BTC-1m.json"), venue="test")
    assert result.symbol == "UNITTEST-BTC"
    assert result.timeframe == "1m"
    assert "epoch milliseconds" in " ".join(result.notes)
    report = result.report
    assert report.total_rows == 13681
    assert (report.first, report.last) == (ms("2017-11-04 23:02"), ms("2017-11-14 22:59"))
    assert len(report.gaps) == 538  # README: "538 steps > 0 days 00:01:00"
    from_json = store.read_candles("test", "UNITTEST-BTC", "1m")
    other = CandleStore(store.root.parent / "other")
    import_file(other, shared_file(f"{FREQTRADE}/UNITTEST_BTC-1m.feather"), venue="test")
    from_feather = other.read_candles("test", "UNITTEST-BTC", "1m")
    np.testing.assert_array_equal(stored_ms(from_json), stored_ms(from_feather))
    np.testing.assert_allclose(from_json["close"], from_feather["close"], rtol=1e-12)


@pytest.mark.shared
def test_mark_and_trades_files_are_refused_with_a_reason(
    store: CandleStore, shared_file: Callable[[str], Path]
) -> None:
    with pytest.raises(DataError, match="mark-price candles; pass --symbol"):
        import_file(store, shared_file(f"{HL}/ETH_USDC_USDC-8h-mark.feather"))
    with pytest.raises(DataError, match="a trades file"):
        import_file(store, shared_file(f"{FREQTRADE}/XRP_ETH-trades.feather"))


@pytest.mark.shared
def test_nautilus_csv_with_iso_times_needs_only_a_symbol(
    store: CandleStore, shared_file: Callable[[str], Path]
) -> None:
    path = shared_file(
        "nautechsystems__nautilus_trader/tests/test_data/btc-perp-20211231-20220201_1m.csv"
    )
    with pytest.raises(DataError, match="pass --symbol"):
        import_file(store, path, venue="ftx")
    result = import_file(store, path, venue="ftx", symbol="BTC-PERP")
    assert result.timeframe == "1m"
    assert "from the spacing" in result.inferred[-1]
    assert result.report.total_rows == 45031  # README row count, no gaps
    assert result.report.gaps == ()
    assert result.report.first == ms("2021-12-31 23:01")


# ---- name inference -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "venue", "symbol", "timeframe", "kind"),
    [
        (f"data/binance/futures/{ETH_1M}", "binance", "ETH-USDT", "1m", "candles"),
        ("hl/futures/BTC_USDC_USDC-1h-funding_rate.feather", "hl", "BTC-USDC", "1h", "funding"),
        ("user_data/data/kraken/XRP_ETH-5m.json", "kraken", "XRP-ETH", "5m", "candles"),
        ("tests/testdata/UNITTEST_BTC-1m.json", None, "UNITTEST-BTC", "1m", "candles"),
        ("x/futures/XRP_USDT_USDT-8h-mark.feather", "x", "XRP-USDT", "8h", "mark"),
        ("whatever.csv", None, None, None, None),
    ],
)  # fmt: skip
def test_guess_from_freqtrade_names(
    path: str, venue: str | None, symbol: str | None, timeframe: str | None, kind: str | None
) -> None:
    guess = guess_from_path(Path(path))
    assert (guess.venue, guess.symbol, guess.timeframe, guess.kind) == (
        venue,
        symbol,
        timeframe,
        kind,
    )


def test_mapping_text_is_parsed_and_checked() -> None:
    assert parse_mapping("open=o, timestamp=Date") == {"open": "o", "timestamp": "Date"}
    with pytest.raises(DataError, match="target=source"):
        parse_mapping("open")
    with pytest.raises(DataError, match="'opn' is not one of"):
        parse_mapping("opn=o")


# ---- file shapes --------------------------------------------------------------------------------

BASE = ms("2024-03-01")
ROWS = [
    (BASE + 60_000 * i, 100.0 + i, 101.5 + i, 99.25 + i, 100.5 + i, 10.0 * (i + 1))
    for i in range(6)
]


def expected_frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["ts", "open", "high", "low", "close", "volume"])


def check_imported(store: CandleStore, venue: str = "v", symbol: str = "S-USD") -> None:
    back = store.read_candles(venue, symbol, "1m")
    want = expected_frame()
    np.testing.assert_array_equal(stored_ms(back), want["ts"].to_numpy())
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(back[column].to_numpy(), want[column].to_numpy())


@pytest.mark.parametrize(
    ("unit", "scale"),
    [("seconds", 1e-3), ("milliseconds", 1), ("microseconds", 1e3), ("nanoseconds", 1e6)],
)
def test_csv_epoch_units_are_told_apart(
    store: CandleStore, tmp_path: Path, unit: str, scale: float
) -> None:
    frame = expected_frame()
    frame["ts"] = (frame["ts"] * scale).astype("int64")
    path = tmp_path / "bars.csv"
    frame.rename(columns={"ts": "time"}).to_csv(path, index=False)
    result = import_file(store, path, venue="v", symbol="S-USD")
    assert f"epoch {unit}" in " ".join(result.notes)
    assert result.timeframe == "1m"
    check_imported(store)


def test_csv_iso_times_aliases_semicolons_and_gzip(store: CandleStore, tmp_path: Path) -> None:
    lines = ["Date;O;H;L;C;Vol"] + [
        f"{pd.Timestamp(t, unit='ms', tz='UTC').isoformat()};{o};{h};{lo};{c};{v}"
        for t, o, h, lo, c, v in ROWS
    ]
    path = tmp_path / "bars.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    import_file(store, path, venue="v", symbol="S-USD", timeframe="1m")
    check_imported(store)


def test_headerless_csv_is_read_positionally(store: CandleStore, tmp_path: Path) -> None:
    """data.binance.vision kline files: 12 fields, no header, open time in ms first."""
    path = tmp_path / "klines.csv"
    path.write_text(
        "\n".join(f"{t},{o},{h},{lo},{c},{v},{t + 59_999},0,5,0,0,0" for t, o, h, lo, c, v in ROWS)
    )
    result = import_file(store, path, venue="v", symbol="S-USD")
    assert "ignoring 6 further field(s)" in " ".join(result.notes)
    check_imported(store)


def test_json_records_hyperliquid_shape_with_text_numbers(
    store: CandleStore, tmp_path: Path
) -> None:
    """The candleSnapshot shape: t/T/o/h/l/c/v/n with prices as strings."""
    records = [
        {
            "t": t,
            "T": t + 59_999,
            "o": str(o),
            "h": str(h),
            "l": str(lo),
            "c": str(c),
            "v": str(v),
            "n": 3,
        }
        for t, o, h, lo, c, v in ROWS
    ]
    path = tmp_path / "candles.json"
    path.write_text(json.dumps(records))
    import_file(store, path, venue="v", symbol="S-USD")
    check_imported(store)


def test_json_wrapped_and_column_orient(store: CandleStore, tmp_path: Path) -> None:
    frame = expected_frame().rename(columns={"ts": "timestamp"})
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"candles": frame.to_dict(orient="records")}))
    result = import_file(store, path, venue="v", symbol="S-USD")
    assert "JSON key 'candles'" in " ".join(result.notes)
    check_imported(store)
    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps(frame.to_dict(orient="list")))
    other = CandleStore(tmp_path / "other")
    import_file(other, columns, venue="v", symbol="S-USD")
    check_imported(other)


def test_parquet_and_feather_with_mapping(store: CandleStore, tmp_path: Path) -> None:
    frame = expected_frame()
    frame["when"] = pd.to_datetime(frame.pop("ts"), unit="ms")  # naive: read as UTC
    frame = frame.rename(columns={"open": "first_px", "close": "last_px"})
    path = tmp_path / "bars.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match=r"for timestamp, open, close .*--map timestamp=<column>,"):
        import_file(store, path, venue="v", symbol="S-USD")
    result = import_file(
        store, path, venue="v", symbol="S-USD", mapping="timestamp=when,open=first_px,close=last_px"
    )
    assert "times without a zone were read as UTC" in result.notes
    check_imported(store)
    feather = tmp_path / "bars.feather"
    frame.to_feather(feather)
    other = CandleStore(tmp_path / "other")
    import_file(
        other,
        feather,
        venue="v",
        symbol="S-USD",
        mapping="timestamp=when,open=first_px,close=last_px",
    )
    check_imported(other)


def test_bad_values_name_the_file_and_row(store: CandleStore, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    lines = ["timestamp,open,high,low,close,volume"] + [
        f"{t},{o},{h},{lo},{c},{v}" for t, o, h, lo, c, v in ROWS
    ]
    lines[3] = lines[3].replace(str(ROWS[2][2]), "abc")
    path.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"bad.csv: row 3: high 'abc' is not a number"):
        import_file(store, path, venue="v", symbol="S-USD")
    lines[3] = f"{ROWS[2][0]},100,99,98,100,1"  # high below open
    path.write_text("\n".join(lines))
    with pytest.raises(
        DataError, match=r"bad.csv: row 3 \(2024-03-01 00:02:00\): high 99.0 is below"
    ):
        import_file(store, path, venue="v", symbol="S-USD")
    lines[3] = "not-a-date,100,101,99,100,1"
    path.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"row 3: timestamp 'not-a-date' is not a date"):
        import_file(store, path, venue="v", symbol="S-USD")
    assert store.datasets() == []


def test_wrong_timeframe_and_unknown_venue_are_errors(store: CandleStore, tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    expected_frame().to_csv(path, index=False)
    with pytest.raises(DataError, match="rows are mostly 1m apart but the timeframe is 5m"):
        import_file(store, path, venue="v", symbol="S-USD", timeframe="5m")
    with pytest.raises(DataError, match="cannot tell the venue"):
        import_file(store, path, symbol="S-USD")
    sheet = tmp_path / "x.xlsx"
    sheet.write_text("")
    with pytest.raises(DataError, match="unknown file type"):
        import_file(store, sheet, venue="v", symbol="S")


finite = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=20, deadline=None)
@given(
    bars=st.lists(st.tuples(finite, finite, finite, st.floats(0, 1e6)), min_size=2, max_size=30),
    unit=st.sampled_from(["s", "ms", "us", "ns", "iso"]),
    names=st.sampled_from(
        [
            ("timestamp", "open", "high", "low", "close", "volume"),
            ("date", "o", "h", "l", "c", "v"),
            ("Time", "Open", "High", "Low", "Close", "Volume"),
        ]
    ),
)
def test_fuzz_csv_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    bars: list[tuple[float, float, float, float]],
    unit: str,
    names: tuple[str, ...],
) -> None:
    """Any consistent bars written with any supported names and time unit import exactly."""
    folder = tmp_path_factory.mktemp("fuzz")
    start = BASE // 60_000  # minutes
    rows = []
    for i, (a, b, spread, volume) in enumerate(bars):
        o, c = a, b
        low = max(min(o, c) - spread / 2, min(o, c) / 2)
        rows.append(((start + i) * 60_000, o, max(o, c) + spread, low, c, volume))
    frame = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume"])
    written = frame.copy()
    if unit == "iso":
        written["ts"] = pd.to_datetime(written["ts"], unit="ms", utc=True).astype(str)
    elif unit == "s":
        written["ts"] = written["ts"] // 1000
    else:
        written["ts"] = written["ts"] * {"ms": 1, "us": 1000, "ns": 1_000_000}[unit]
    written.columns = list(names)
    path = folder / "fuzz.csv"
    written.to_csv(path, index=False, float_format="%.17g")
    store = CandleStore(folder / "store")
    import_file(store, path, venue="v", symbol="F-USD", timeframe="1m")
    back = store.read_candles("v", "F-USD", "1m")
    np.testing.assert_array_equal(stored_ms(back), frame["ts"].to_numpy())
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(back[column].to_numpy(), frame[column].to_numpy())


def test_unreadable_files_are_data_errors(store: CandleStore, tmp_path: Path) -> None:
    broken = tmp_path / "broken.feather"
    broken.write_bytes(b"not arrow at all")
    with pytest.raises(DataError, match=r"broken\.feather: could not be read"):
        import_file(store, broken, venue="v", symbol="S")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[[1, 2, 3")
    with pytest.raises(DataError, match=r"not valid JSON \(line 1"):
        import_file(store, bad_json, venue="v", symbol="S")
    with pytest.raises(DataError, match="no such file"):
        import_file(store, tmp_path / "missing.csv", venue="v", symbol="S")
