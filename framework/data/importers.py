"""Read candle and funding files (CSV, JSON, Feather, Parquet) into the store's tables.

Columns are found by common names (``date``/``time``/``timestamp``/``ts``/``t``, ``o``/``h``/
``l``/``c``/``v``, …) or by an explicit mapping (``open=o,timestamp=Date``). Timestamps may be
ISO text, datetimes, or epoch seconds / ms / µs / ns (told apart by magnitude). Venue, symbol,
timeframe and kind are inferred from freqtrade file names (``ETH_USDT_USDT-1m-futures.feather``
→ ETH-USDT 1m candles; ``…-1h-funding_rate.feather`` → funding, rate in ``open``) and every
guess is reported back. Rows are numbered from 1 in the order of the file, and every error
names the file, the row and what is wrong.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sparkstacker.data.frames import PRICE_COLUMNS, datetimes_to_ms, ms_to_datetimes
from sparkstacker.data.store import CandleStore, WriteReport
from sparkstacker.errors import DataError
from sparkstacker.model.timeframe import Timeframe

FileKind = Literal["candles", "funding", "mark", "trades"]

ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": (
        "timestamp", "date", "time", "datetime", "ts", "t", "open_time", "opentime",
        "time_open", "timestamp_utc", "start", "unix", "open time",
    ),
    "open": ("open", "o", "open_price", "openprice"),
    "high": ("high", "h", "high_price", "highprice"),
    "low": ("low", "l", "low_price", "lowprice"),
    "close": ("close", "c", "close_price", "closeprice", "last"),
    "volume": ("volume", "v", "vol", "base_volume", "volume_base", "basevolume", "qty"),
    "rate": ("rate", "funding_rate", "fundingrate", "funding", "r"),
    "interval_seconds": ("interval_seconds", "interval"),
}  # fmt: skip
CANDLE_TARGETS = ("timestamp", *PRICE_COLUMNS, "volume")
FUNDING_TARGETS = ("timestamp", "rate")
POSITIONAL = ("timestamp", "open", "high", "low", "close", "volume")
SUFFIXES = (".json.gz", ".csv.gz", ".feather", ".parquet", ".json", ".csv", ".tsv", ".txt")
_FREQTRADE = re.compile(
    r"^(?P<pair>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){1,2})"
    r"(?:-(?P<tf>\d+[smhdwM]))?"
    r"(?:-(?P<kind>futures|spot|mark|funding_rate|index|premiumIndex|trades))?$"
)
_UNITS = (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000))


@dataclass(frozen=True)
class FileGuess:
    """What a file's name and folder say about it (any field may be unknown)."""

    venue: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    kind: FileKind | None = None


@dataclass(frozen=True)
class ImportResult:
    path: Path
    kind: Literal["candles", "funding"]
    venue: str
    symbol: str
    timeframe: str | None
    rows_read: int
    report: WriteReport
    inferred: tuple[str, ...]
    notes: tuple[str, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kind": self.kind,
            "venue": self.venue,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "rows_read": self.rows_read,
            "inferred": list(self.inferred),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            "report": self.report.to_dict(),
        }


@dataclass
class _Notes:
    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)


# ---- names ------------------------------------------------------------------------------------


def file_stem(path: Path) -> str:
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def guess_from_path(path: Path | str) -> FileGuess:
    """Venue, symbol, timeframe and kind from a freqtrade-style path.

    ``…/data/binance/futures/ETH_USDT_USDT-1m-futures.feather`` → binance, ETH-USDT, 1m, candles.
    """
    path = Path(path)
    match = _FREQTRADE.match(file_stem(path))
    if not match:
        return FileGuess(venue=_venue_from_folders(path))
    parts = match.group("pair").split("_")
    symbol = f"{parts[0]}-{parts[1]}".upper()
    raw_kind = match.group("kind")
    kind: FileKind | None
    if raw_kind == "funding_rate":
        kind = "funding"
    elif raw_kind == "mark":
        kind = "mark"
    elif raw_kind == "trades":
        kind = "trades"
    elif match.group("tf"):
        kind = "candles"
    else:
        kind = None
    timeframe = match.group("tf")
    if timeframe is not None:
        try:
            Timeframe(timeframe)
        except ValueError:
            timeframe = None
    return FileGuess(_venue_from_folders(path), symbol, timeframe, kind)


def _venue_from_folders(path: Path) -> str | None:
    """freqtrade keeps ``user_data/data/<exchange>[/futures]/<file>``."""
    parent = path.parent
    if parent.name == "futures" and parent.parent.name:
        return parent.parent.name.lower()
    if parent.parent.name == "data" and parent.name:
        return parent.name.lower()
    return None


def timeframe_from_ms(step_ms: int) -> str:
    for unit, size in _UNITS:
        if step_ms >= size and step_ms % size == 0:
            return f"{step_ms // size}{unit}"
    raise DataError(f"bars {step_ms} ms apart do not make a timeframe the store knows")


def parse_mapping(text: str | None) -> dict[str, str]:
    """``"open=o,timestamp=Date"`` → ``{"open": "o", "timestamp": "Date"}`` (target=source)."""
    mapping: dict[str, str] = {}
    if not text:
        return mapping
    for item in text.split(","):
        if not item.strip():
            continue
        target, sep, source = item.partition("=")
        target = target.strip().lower()
        if not sep or not source.strip():
            raise DataError(f"--map item {item!r} must look like target=source (open=o)")
        if target not in ALIASES:
            raise DataError(f"--map target {target!r} is not one of {', '.join(ALIASES)}")
        mapping[target] = source.strip()
    return mapping


# ---- reading files ----------------------------------------------------------------------------


def read_raw(path: Path | str, notes: _Notes | None = None) -> pd.DataFrame:
    """A file as a table with its own column names; rows indexed 1, 2, … in file order."""
    path = Path(path)
    notes = notes if notes is not None else _Notes()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    name = path.name.lower()
    try:
        if name.endswith(".feather"):
            frame = pd.read_feather(path)
        elif name.endswith(".parquet"):
            frame = pd.read_parquet(path)
        elif name.endswith((".json", ".json.gz")):
            frame = _read_json(path, notes)
        elif name.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
            frame = _read_csv(path, notes)
        else:
            raise DataError(
                f"{path}: unknown file type; use .csv, .json, .feather or .parquet "
                "(optionally .csv.gz / .json.gz)"
            )
    except (OSError, ValueError) as exc:  # pyarrow/pandas/json/unicode errors derive from these
        raise DataError(f"{path}: could not be read ({type(exc).__name__}: {exc})") from None
    frame = frame.reset_index(drop=True)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _read_json(path: Path, notes: _Notes) -> pd.DataFrame:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(data, dict):
        if isinstance(data.get("columns"), list) and isinstance(data.get("data"), list):
            return pd.DataFrame(data["data"], columns=data["columns"])
        for key in ("data", "candles", "result", "rows", "funding"):
            if isinstance(data.get(key), list):
                notes.add(f"rows read from the JSON key {key!r}")
                data = data[key]
                break
        else:
            lists = {k: v for k, v in data.items() if isinstance(v, list)}
            if lists and len({len(v) for v in lists.values()}) == 1:
                return pd.DataFrame(lists)
            raise DataError(f"{path}: a JSON object without a list of rows")
    if not isinstance(data, list):
        raise DataError(f"{path}: JSON must be a list of rows")
    if not data:
        return pd.DataFrame(columns=list(POSITIONAL))
    if all(isinstance(row, list | tuple) for row in data):
        return _positional(pd.DataFrame(data), notes, "JSON rows are lists")
    if all(isinstance(row, dict) for row in data):
        return pd.DataFrame.from_records(data)
    raise DataError(f"{path}: JSON rows must all be lists or all be objects")


def _read_csv(path: Path, notes: _Notes) -> pd.DataFrame:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        first = handle.readline()
    delimiter = max(",;\t|", key=first.count) if first.strip() else ","
    fields = [f.strip().strip('"') for f in first.split(delimiter)]
    headerless = bool(fields) and all(_looks_numeric(f) for f in fields if f)
    if headerless:
        frame = pd.read_csv(path, sep=delimiter, header=None)
        return _positional(frame, notes, "the CSV has no header")
    return pd.read_csv(path, sep=delimiter)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _positional(frame: pd.DataFrame, notes: _Notes, why: str) -> pd.DataFrame:
    if frame.shape[1] < 5:
        raise DataError(f"{why} and have {frame.shape[1]} fields; at least 5 are needed")
    names = list(POSITIONAL[: frame.shape[1]])
    extra = [f"extra_{i}" for i in range(len(names), frame.shape[1])]
    frame.columns = names + extra
    notes.add(
        f"{why}: read as [{', '.join(names)}]"
        + (f", ignoring {len(extra)} further field(s)" if extra else "")
    )
    return frame


# ---- columns and values -----------------------------------------------------------------------


def _norm(name: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def find_columns(
    frame: pd.DataFrame,
    targets: tuple[str, ...],
    mapping: Mapping[str, str] | None = None,
    *,
    optional: tuple[str, ...] = (),
) -> dict[str, str]:
    """target → source column, from ``mapping`` first, then from :data:`ALIASES`."""
    mapping = dict(mapping or {})
    by_norm: dict[str, str] = {}
    for column in frame.columns:
        by_norm.setdefault(_norm(column), str(column))
    found: dict[str, str] = {}
    for target in (*targets, *optional):
        if target in mapping:
            source = mapping[target]
            if source in frame.columns:
                found[target] = source
            elif _norm(source) in by_norm:
                found[target] = by_norm[_norm(source)]
            else:
                raise DataError(
                    f"--map {target}={source}: no column {source!r}; the file has "
                    + ", ".join(map(str, frame.columns))
                )
            continue
        for alias in ALIASES[target]:
            if alias in by_norm and by_norm[alias] not in found.values():
                found[target] = by_norm[alias]
                break
    missing = [t for t in targets if t not in found]
    if missing:
        raise DataError(
            f"cannot find column(s) for {', '.join(missing)} among "
            f"{', '.join(map(str, frame.columns))}; name them with --map "
            + ",".join(f"{t}=<column>" for t in missing)
        )
    return found


def parse_timestamps(values: pd.Series, notes: _Notes) -> np.ndarray:
    """Any supported timestamp form → int64 epoch ms (UTC)."""
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        if series.isna().any():
            raise DataError(f"row {series.index[int(np.argmax(series.isna()))]}: timestamp missing")
        if series.dt.tz is None:
            notes.add("times without a zone were read as UTC")
            series = series.dt.tz_localize("UTC")
        naive = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return np.asarray(naive.astype("datetime64[ms]").astype("int64"))
    if pd.api.types.is_bool_dtype(series):
        raise DataError("the timestamp column holds booleans")
    if not pd.api.types.is_numeric_dtype(series):
        numeric = pd.to_numeric(series, errors="coerce")
        if numeric.notna().all():
            series = numeric
        elif numeric.notna().mean() > 0.5:  # epoch numbers with a stray non-number
            i = int(np.argmax(numeric.isna().to_numpy()))
            raise DataError(f"row {series.index[i]}: timestamp {series.iloc[i]!r} is not a date")
        else:
            return _parse_text_times(series, notes)
    numbers = series.to_numpy(dtype="float64")
    bad = ~np.isfinite(numbers)
    if bad.any():
        raise DataError(f"row {series.index[int(np.argmax(bad))]}: timestamp missing")
    biggest = float(np.abs(numbers).max()) if numbers.size else 0.0
    factor, unit = next(
        (f, u)
        for limit, f, u in (
            (1e11, 1000.0, "seconds"),
            (1e14, 1.0, "milliseconds"),
            (1e17, 1e-3, "microseconds"),
            (np.inf, 1e-6, "nanoseconds"),
        )
        if biggest < limit
    )
    notes.add(f"numeric timestamps read as epoch {unit}")
    if unit == "milliseconds" and pd.api.types.is_integer_dtype(series):
        return series.to_numpy(dtype="int64")
    if unit == "nanoseconds" and pd.api.types.is_integer_dtype(series):
        return series.to_numpy(dtype="int64") // 1_000_000
    return np.round(numbers * factor).astype("int64")


def _parse_text_times(series: pd.Series, notes: _Notes) -> np.ndarray:
    text = series.astype("string")
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    if parsed.isna().any():
        parsed = pd.to_datetime(text, utc=True, format="mixed", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"row {series.index[i]}: timestamp {series.iloc[i]!r} is not a date")
    if not text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)\s*$", regex=True).all():
        notes.add("times without a zone were read as UTC")
    naive = parsed.dt.tz_localize(None).to_numpy()
    return np.asarray(naive.astype("datetime64[ms]").astype("int64"))


def parse_numbers(series: pd.Series, column: str) -> np.ndarray:
    """A column → float64; text that is not a number is an error naming the row."""
    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"column {column} holds booleans, not numbers")
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    numeric = pd.to_numeric(series, errors="coerce")
    bad = numeric.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"row {series.index[i]}: {column} {series.iloc[i]!r} is not a number")
    return numeric.to_numpy(dtype="float64", na_value=np.nan)


def to_candles(
    raw: pd.DataFrame, mapping: Mapping[str, str] | None = None, notes: _Notes | None = None
) -> pd.DataFrame:
    """Raw table → candle table (datetime64[ms, UTC] timestamps, float64 values)."""
    notes = notes if notes is not None else _Notes()
    columns = find_columns(raw, CANDLE_TARGETS, mapping)
    _note_columns(columns, notes)
    ms = parse_timestamps(raw[columns["timestamp"]], notes)
    out = pd.DataFrame({"timestamp": ms_to_datetimes(ms)}, index=raw.index)
    for target in CANDLE_TARGETS[1:]:
        out[target] = parse_numbers(raw[columns[target]], target)
    return out


def to_funding(
    raw: pd.DataFrame,
    mapping: Mapping[str, str] | None = None,
    notes: _Notes | None = None,
    *,
    interval_seconds: int | None = None,
) -> pd.DataFrame:
    """Raw table → funding table. A freqtrade funding file keeps the rate in ``open``."""
    notes = notes if notes is not None else _Notes()
    mapping = dict(mapping or {})
    if "rate" not in mapping:
        try:
            find_columns(raw, ("rate",))
        except DataError:
            if any(_norm(c) == "open" for c in raw.columns):
                mapping["rate"] = next(str(c) for c in raw.columns if _norm(c) == "open")
                notes.add("funding rate read from the `open` column (freqtrade funding layout)")
    columns = find_columns(raw, FUNDING_TARGETS, mapping, optional=("interval_seconds",))
    _note_columns(columns, notes)
    ms = parse_timestamps(raw[columns["timestamp"]], notes)
    out = pd.DataFrame({"timestamp": ms_to_datetimes(ms)}, index=raw.index)
    out["rate"] = parse_numbers(raw[columns["rate"]], "rate")
    if interval_seconds is not None:
        out["interval_seconds"] = np.int64(interval_seconds)
    elif "interval_seconds" in columns:
        out["interval_seconds"] = parse_numbers(raw[columns["interval_seconds"]], "interval")
        out["interval_seconds"] = out["interval_seconds"].astype("int64")
    else:
        notes.add("funding intervals inferred from the spacing of the prints")
    return out


def _note_columns(columns: Mapping[str, str], notes: _Notes) -> None:
    renamed = [f"{target}←{source}" for target, source in columns.items() if source != target]
    if renamed:
        notes.add("columns: " + ", ".join(renamed))


def spacing_ms(ms: np.ndarray) -> int | None:
    """The most common positive step between sorted timestamps (None for < 2 rows)."""
    steps = np.diff(np.unique(ms))
    if steps.size == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


# ---- the whole import -------------------------------------------------------------------------


def import_file(
    store: CandleStore,
    path: Path | str,
    *,
    venue: str | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    mapping: Mapping[str, str] | str | None = None,
    funding: bool | None = None,
    funding_interval: str | None = None,
) -> ImportResult:
    """Read one file and merge it into the store; every inference is listed in the result."""
    started = time.perf_counter()
    path = Path(path)
    notes = _Notes()
    inferred: list[str] = []
    guess = guess_from_path(path)
    columns = parse_mapping(mapping) if isinstance(mapping, str) or mapping is None else mapping
    if guess.kind == "trades":
        raise DataError(f"{path}: a trades file, not candles or funding")
    kind: Literal["candles", "funding"] = "funding" if funding else "candles"
    if funding is None and guess.kind == "funding":
        kind = "funding"
        inferred.append("kind funding (from the file name)")
    if guess.kind == "mark" and symbol is None and kind == "candles":
        raise DataError(
            f"{path}: mark-price candles; pass --symbol to import them under a name of your "
            "choice (they are not the traded market's candles)"
        )
    if venue is None:
        venue = guess.venue
        if venue is None:
            raise DataError(f"{path}: cannot tell the venue from the path; pass --venue")
        inferred.append(f"venue {venue} (from the folder)")
    if symbol is None:
        symbol = guess.symbol
        if symbol is None:
            raise DataError(f"{path}: cannot tell the symbol from the file name; pass --symbol")
        inferred.append(f"symbol {symbol} (from the file name)")

    raw = read_raw(path, notes)
    try:
        if kind == "funding":
            interval = None
            if funding_interval is not None:
                interval = _timeframe_ms(funding_interval) // 1000
            table = to_funding(raw, columns, notes, interval_seconds=interval)
            report = store.write_funding(venue, symbol, table, source=f"import {path.name}")
            timeframe = None
        else:
            table = to_candles(raw, columns, notes)
            timeframe = _choose_timeframe(table, timeframe, guess, inferred)
            report = store.write_candles(
                venue, symbol, timeframe, table, source=f"import {path.name}"
            )
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    return ImportResult(
        path=path,
        kind=kind,
        venue=venue,
        symbol=symbol,
        timeframe=timeframe,
        rows_read=len(raw),
        report=report,
        inferred=tuple(inferred),
        notes=tuple(notes.items),
        seconds=time.perf_counter() - started,
    )


def _timeframe_ms(text: str) -> int:
    try:
        return Timeframe(text).seconds * 1000
    except ValueError as exc:
        raise DataError(str(exc)) from None


def _choose_timeframe(
    table: pd.DataFrame, given: str | None, guess: FileGuess, inferred: list[str]
) -> str:
    ms = datetimes_to_ms(table["timestamp"])
    step = spacing_ms(ms)
    if given is None and guess.timeframe is not None:
        given = guess.timeframe
        inferred.append(f"timeframe {given} (from the file name)")
    if given is None:
        if step is None:
            raise DataError("cannot tell the timeframe from fewer than two rows; pass --timeframe")
        given = timeframe_from_ms(step)
        inferred.append(f"timeframe {given} (from the spacing of the rows)")
    if step is not None and step != _timeframe_ms(given):
        raise DataError(
            f"rows are mostly {timeframe_from_ms(step)} apart but the timeframe is {given}; "
            "pass the right --timeframe"
        )
    return given
