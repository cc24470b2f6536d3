"""Funding helpers: infer each print's interval, and align prints to bars."""

from __future__ import annotations

import numpy as np

DEFAULT_INTERVAL_SECONDS = 3600
SNAP_MS = 1000


def infer_intervals(timestamps_ms: np.ndarray) -> np.ndarray:
    """Interval (seconds) each funding print covers, from the spacing of sorted prints.

    The step to the previous print, rounded to the minute, smoothed by a centred median of three
    steps: a single missing print (one double-length step) does not change the interval, while a
    venue switching schedule (Hyperliquid went from 8-hourly to hourly on 2023-06-08) does. The
    first print takes the next step; a lone print is assumed hourly.
    """
    ts = np.asarray(timestamps_ms, dtype="int64")
    if ts.size < 2:
        return np.full(ts.size, DEFAULT_INTERVAL_SECONDS, dtype="int64")
    steps = np.round(np.diff(ts) / 60_000.0).astype("int64") * 60
    steps = np.maximum(steps, 60)
    previous = np.concatenate([steps[:1], steps])
    padded = np.concatenate([previous[:1], previous, previous[-1:]])
    window = np.stack([padded[:-2], padded[1:-1], padded[2:]])
    return np.asarray(np.median(window, axis=0).astype("int64"))


def align_funding(
    bar_ms: np.ndarray, step_ms: int, funding_ms: np.ndarray, rates: np.ndarray
) -> np.ndarray:
    """Funding rate per bar: a print at time t belongs to the bar containing t; NaN elsewhere.

    Print times are first rounded to the nearest second (venues stamp them with millisecond
    jitter either side of the hour). Several prints in one bar (hourly funding on 4h bars) are
    summed: that is what a position held through the bar pays. Prints that fall into no stored
    bar (before the first, after the last, or in a gap) do not appear.
    """
    bars = np.asarray(bar_ms, dtype="int64")
    out = np.full(bars.size, np.nan)
    if bars.size == 0 or len(funding_ms) == 0:
        return out
    times = np.asarray(funding_ms, dtype="int64")
    snapped = ((times + SNAP_MS // 2) // SNAP_MS) * SNAP_MS
    index = np.searchsorted(bars, snapped, side="right") - 1
    inside = (index >= 0) & (snapped < bars[np.clip(index, 0, None)] + step_ms)
    if not inside.any():
        return out
    hit = index[inside]
    totals = np.zeros(bars.size)
    np.add.at(totals, hit, np.asarray(rates, dtype="float64")[inside])
    present = np.zeros(bars.size, dtype=bool)
    present[hit] = True
    out[present] = totals[present]
    return out
