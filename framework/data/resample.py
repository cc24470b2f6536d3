"""Build higher timeframes from lower ones (1m → 4h) without look-ahead.

A bar is labelled by its open time and aggregates exactly the source bars that open inside
``[open, open + timeframe)``: open of the first, max of highs, min of lows, close of the last,
sum of volumes. Its values depend on nothing outside that window. Buckets are aligned to the
UTC epoch (4h bars open at 00:00, 04:00, …; daily bars at midnight UTC), weeks to Monday 00:00.

A bar is *complete* when every source bar of its window is present. Incomplete bars — the
still-forming last one, the first one when the data starts mid-window, and any window with
missing source bars — are dropped unless ``include_partial`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sparkstacker.data.frames import datetimes_to_ms, empty_candles, ms_to_datetimes
from sparkstacker.errors import DataError
from sparkstacker.model.timeframe import Timeframe

MONDAY_OFFSET_MS = 4 * 86_400_000  # 1970-01-01 was a Thursday; 1970-01-05 a Monday


@dataclass(frozen=True)
class ResampleResult:
    frame: pd.DataFrame
    source_timeframe: str
    timeframe: str
    complete: int
    partial_dropped: int
    partial_kept: int


def bucket_origin_ms(timeframe: str) -> int:
    return MONDAY_OFFSET_MS if str(timeframe).endswith("w") else 0


def check_resample(source: str, target: str) -> tuple[int, int]:
    """Source and target lengths in ms; DataError unless target is a whole multiple of source."""
    try:
        src, dst = Timeframe(source).seconds * 1000, Timeframe(target).seconds * 1000
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if dst < src or dst % src:
        raise DataError(
            f"cannot build {target} bars from {source} bars: {target} must be a whole multiple "
            f"of {source}"
        )
    if bucket_origin_ms(target) % src:
        raise DataError(f"{target} bars do not align with the {source} grid")
    return src, dst


def resample_candles(
    frame: pd.DataFrame, source: str, target: str, *, include_partial: bool = False
) -> ResampleResult:
    """Aggregate sorted, unique candles of timeframe ``source`` into ``target`` bars."""
    src_ms, dst_ms = check_resample(source, target)
    if frame.empty:
        return ResampleResult(empty_candles(), source, target, 0, 0, 0)
    ts = datetimes_to_ms(frame["timestamp"])
    if np.any(np.diff(ts) <= 0):
        raise DataError("resample needs candles sorted by time with unique timestamps")
    origin = bucket_origin_ms(target)
    key = (ts - origin) // dst_ms
    starts = np.concatenate([[0], np.flatnonzero(np.diff(key)) + 1])
    ends = np.concatenate([starts[1:], [ts.size]])
    counts = ends - starts
    complete = counts == dst_ms // src_ms
    keep = complete if not include_partial else np.ones(starts.size, dtype=bool)

    opens = frame["open"].to_numpy(dtype="float64")
    highs = frame["high"].to_numpy(dtype="float64")
    lows = frame["low"].to_numpy(dtype="float64")
    closes = frame["close"].to_numpy(dtype="float64")
    volumes = frame["volume"].to_numpy(dtype="float64")
    out = pd.DataFrame(
        {
            "timestamp": ms_to_datetimes((key[starts] * dst_ms + origin)[keep]),
            "open": opens[starts][keep],
            "high": np.maximum.reduceat(highs, starts)[keep],
            "low": np.minimum.reduceat(lows, starts)[keep],
            "close": closes[ends - 1][keep],
            "volume": np.add.reduceat(volumes, starts)[keep],
        }
    )
    n_complete = int(complete.sum())
    partial = int((~complete).sum())
    return ResampleResult(
        frame=out,
        source_timeframe=source,
        timeframe=target,
        complete=n_complete,
        partial_dropped=0 if include_partial else partial,
        partial_kept=partial if include_partial else 0,
    )
