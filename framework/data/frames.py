"""The canonical candle and funding tables, and their validation at the store's boundary.

Candles: ``timestamp`` (bar open, ``datetime64[ms, UTC]``), ``open high low close volume``
(float64). Funding: ``timestamp``, ``rate`` (per interval, positive = longs pay),
``interval_seconds`` (int64). Every check names the offending row (the input's index label) and
timestamp, so a bad line in an imported file can be found and fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sparkstacker.errors import DataError

PRICE_COLUMNS = ("open", "high", "low", "close")
CANDLE_COLUMNS = ("timestamp", *PRICE_COLUMNS, "volume")
FUNDING_COLUMNS = ("timestamp", "rate", "interval_seconds")
MS_DTYPE = "datetime64[ms, UTC]"


def ms_to_datetimes(ms: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Epoch milliseconds to a ``datetime64[ms, UTC]`` array (no index, so it never aligns)."""
    values = np.asarray(ms, dtype="int64").astype("datetime64[ms]")
    return pd.DatetimeIndex(values).tz_localize("UTC").array


def datetimes_to_ms(values: pd.Series) -> np.ndarray:
    """A datetime series (naive = UTC, or tz-aware) to int64 epoch milliseconds."""
    series = pd.Series(values)
    if series.dt.tz is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return np.asarray(series.to_numpy().astype("datetime64[ms]").astype("int64"))


def timestamp_ms(value: object) -> int:
    """A datetime, pandas Timestamp, ISO string or epoch-ms int as epoch milliseconds (UTC)."""
    if isinstance(value, bool):
        raise DataError(f"{value!r} is not a timestamp")
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise DataError(f"{value!r} is not a timestamp: {exc}") from None
    if stamp is pd.NaT:
        raise DataError(f"{value!r} is not a timestamp")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.tz_convert("UTC").value // 1_000_000)  # .value is always nanoseconds


def describe_ms(ms: int) -> str:
    """``2023-07-03 23:26:00`` style UTC text for messages and tables."""
    stamp = pd.Timestamp(int(ms), unit="ms", tz="UTC")
    text = stamp.strftime("%Y-%m-%d %H:%M:%S")
    return text + (f".{int(ms) % 1000:03d}" if int(ms) % 1000 else "")


def describe_optional_ms(ms: int | None) -> str | None:
    """:func:`describe_ms`, or ``None`` where there is no time (an empty series)."""
    return None if ms is None else describe_ms(ms)


def _where(frame: pd.DataFrame, position: int, ms: np.ndarray | None = None) -> str:
    label = frame.index[position]
    text = f"row {label}"
    if ms is not None:
        text += f" ({describe_ms(int(ms[position]))})"
    return text


def _fail(frame: pd.DataFrame, mask: np.ndarray, why: str, ms: np.ndarray | None) -> None:
    bad = np.flatnonzero(mask)
    if bad.size == 0:
        return
    more = f" ({bad.size} rows in all)" if bad.size > 1 else ""
    raise DataError(f"{_where(frame, int(bad[0]), ms)}: {why}{more}")


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "none"
        raise DataError(f"{what} is missing column(s) {', '.join(missing)}; it has {have}")


def _numeric(frame: pd.DataFrame, column: str, ms: np.ndarray | None) -> np.ndarray:
    series = frame[column]
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise DataError(
            f"column {column} has type {series.dtype}; it must be numeric "
            "(the importers convert text columns)"
        )
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    _fail(frame, ~np.isfinite(values), f"{column} is missing or not finite", ms)
    return values


def _timestamps(frame: pd.DataFrame) -> np.ndarray:
    series = frame["timestamp"]
    if pd.api.types.is_datetime64_any_dtype(series):
        missing = series.isna().to_numpy()
        _fail(frame, missing, "timestamp is missing", None)
        return datetimes_to_ms(series)
    if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype="int64")
    raise DataError(
        f"timestamp column has type {series.dtype}; the store takes datetimes or int64 epoch "
        "milliseconds (importers convert other forms)"
    )


def validate_candles(frame: pd.DataFrame, *, step_ms: int | None = None) -> pd.DataFrame:
    """Check an OHLCV table and return it in canonical form (input order and index kept).

    ``step_ms`` (the timeframe) also requires every timestamp to be a bar open on that grid.
    """
    _require(frame, CANDLE_COLUMNS, "candle data")
    ms = _timestamps(frame)
    values = {c: _numeric(frame, c, ms) for c in (*PRICE_COLUMNS, "volume")}
    for column in PRICE_COLUMNS:
        bad = values[column] <= 0
        if bad.any():
            value = float(values[column][int(np.argmax(bad))])
            _fail(frame, bad, f"{column} {value!r} is not a positive price", ms)
    _fail(frame, values["volume"] < 0, "volume is negative", ms)
    body_high = np.maximum(values["open"], values["close"])
    body_low = np.minimum(values["open"], values["close"])
    bad_high = values["high"] < body_high
    if bad_high.any():
        i = int(np.argmax(bad_high))
        _fail(
            frame,
            bad_high,
            f"high {float(values['high'][i])!r} is below max(open, close) {float(body_high[i])!r}",
            ms,
        )
    bad_low = values["low"] > body_low
    if bad_low.any():
        i = int(np.argmax(bad_low))
        _fail(
            frame,
            bad_low,
            f"low {float(values['low'][i])!r} is above min(open, close) {float(body_low[i])!r}",
            ms,
        )
    if step_ms is not None:
        _fail(
            frame,
            ms % step_ms != 0,
            f"timestamp is not a bar open time on the {step_ms // 1000}s grid",
            ms,
        )
    out = pd.DataFrame({"timestamp": ms_to_datetimes(ms)}, index=frame.index)
    for column, array in values.items():
        out[column] = array
    return out


def validate_funding(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a funding table (timestamp, rate, interval_seconds) and return it canonical."""
    _require(frame, FUNDING_COLUMNS, "funding data")
    ms = _timestamps(frame)
    rate = _numeric(frame, "rate", ms)
    interval = _numeric(frame, "interval_seconds", ms)
    _fail(frame, interval <= 0, "interval_seconds must be positive", ms)
    _fail(frame, interval != np.round(interval), "interval_seconds must be whole seconds", ms)
    _fail(frame, np.abs(rate) >= 1, "rate is 100% or more per interval (a percentage?)", ms)
    out = pd.DataFrame({"timestamp": ms_to_datetimes(ms)}, index=frame.index)
    out["rate"] = rate
    out["interval_seconds"] = interval.astype("int64")
    return out


def dedupe_sorted(frame: pd.DataFrame, keys: np.ndarray | None = None) -> tuple[pd.DataFrame, int]:
    """Sort by timestamp; for repeated timestamps (or repeated ``keys``) the last occurrence
    wins. Returns the frame and the count of rows dropped as duplicates."""
    ordered = frame.reset_index(drop=True)
    key = pd.Series(ordered["timestamp"] if keys is None else np.asarray(keys))
    keep = ~key.duplicated(keep="last")
    dropped = int((~keep).sum())
    ordered = ordered[keep.to_numpy()]
    ordered = ordered.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return ordered, dropped


def empty_candles() -> pd.DataFrame:
    out = pd.DataFrame({"timestamp": pd.Series([], dtype=MS_DTYPE)})
    for column in (*PRICE_COLUMNS, "volume"):
        out[column] = pd.Series([], dtype="float64")
    return out


def empty_funding() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype=MS_DTYPE),
            "rate": pd.Series([], dtype="float64"),
            "interval_seconds": pd.Series([], dtype="int64"),
        }
    )
