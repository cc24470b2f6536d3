"""The fast path's timeline: ``collect._timeline``'s arrays, built without hashing.

The equity curve, the round trips and the assumptions come from ``collect`` itself, so the fast
path's result is assembled exactly like the event engine's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sparkstacker.model.timeframe import timeframe_seconds


def timeline(markets: Sequence[Any]) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``collect._timeline``: every market's bar close times merged, and each market's closes.

    The same arrays without ``np.unique``'s hashing (0.8 s of a 1M-bar run, measured):
    one market's close times are already sorted and distinct (the fast path refuses irregular
    bars), so they are the timeline itself; several are merged by a sort.
    """
    closes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    stamps = []
    for market in markets:
        step = timeframe_seconds(market.timeframe) * 1000
        close_times = np.asarray(market.frame.timestamp, dtype=np.int64) + step
        closes[market.symbol] = (close_times, np.asarray(market.frame.close, dtype=np.float64))
        stamps.append(close_times)
    if not stamps:
        return np.array([], dtype=np.int64), closes
    if len(stamps) == 1:
        return stamps[0], closes  # one market: its close times, sorted and distinct
    merged = np.sort(np.concatenate(stamps), kind="stable")
    keep = np.ones(len(merged), dtype=bool)
    keep[1:] = merged[1:] != merged[:-1]
    return merged[keep], closes
