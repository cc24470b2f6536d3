"""Higher-timeframe bars built from the strategy's own bars, without look-ahead.

A higher bar (say 4h) is the bucket ``[start, start + 4h)`` of base bars, buckets aligned to
the epoch (so days start at 00:00 UTC). It becomes visible at the first base bar whose *close*
(open time + base length) is at or after the bucket's end — never earlier. A bucket the data
starts in the middle of is dropped (its open would be wrong). Both the vectorised and the
incremental form implement exactly this rule; volumes are summed with ``math.fsum`` so both
give the same bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from sparkstacker.model.timeframe import timeframe_seconds

FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class HigherBars:
    """One higher timeframe: its bars and, for each base bar, the last visible one (-1: none)."""

    timeframe: str
    timestamp: np.ndarray
    columns: dict[str, np.ndarray]
    visible: np.ndarray

    def __len__(self) -> int:
        return len(self.timestamp)

    def align(self, values: np.ndarray) -> np.ndarray:
        """Values of this timeframe as seen at each base bar (NaN before the first closed bar)."""
        out = np.full(len(self.visible), np.nan)
        seen = self.visible >= 0
        out[seen] = values[self.visible[seen]]
        return out


def resample(
    timestamp: np.ndarray, columns: dict[str, np.ndarray], base: str, higher: str
) -> HigherBars:
    """Build ``higher`` bars from base bars (``timestamp`` = open times in epoch ms)."""
    base_ms = timeframe_seconds(base) * 1000
    size_ms = timeframe_seconds(higher) * 1000
    stamps = np.asarray(timestamp, dtype=np.int64)
    n = len(stamps)
    if n == 0:
        empty = {name: np.empty(0) for name in FIELDS}
        return HigherBars(higher, np.empty(0, np.int64), empty, np.empty(0, np.int64))
    buckets = stamps // size_ms * size_ms
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    if stamps[0] != buckets[0]:
        starts = starts[1:]  # the data begins inside this bucket: drop it
    ends = np.r_[starts[1:], n]
    first = starts[0] if len(starts) else n
    out: dict[str, np.ndarray] = {}
    if len(starts):
        out["open"] = columns["open"][starts]
        out["close"] = columns["close"][ends - 1]
        out["high"] = np.maximum.reduceat(columns["high"][first:], starts - first)
        out["low"] = np.minimum.reduceat(columns["low"][first:], starts - first)
        volume = columns["volume"]
        out["volume"] = np.array(
            [math.fsum(volume[s:e]) for s, e in zip(starts, ends, strict=True)], dtype=np.float64
        )
    else:
        out = {name: np.empty(0) for name in FIELDS}
    bucket_start = buckets[starts] if len(starts) else np.empty(0, np.int64)
    bucket_end = bucket_start + size_ms
    closes = stamps + base_ms
    visible = np.searchsorted(bucket_end, closes, side="right") - 1
    return HigherBars(higher, bucket_start, out, visible.astype(np.int64))


@dataclass
class _Bucket:
    start: int
    open: float
    high: float
    low: float
    close: float
    volumes: list[float] = field(default_factory=list)

    def bar(self) -> dict[str, float]:
        return {
            "timestamp": float(self.start),
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": math.fsum(self.volumes),
        }


def _max(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def _min(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else min(a, b)


class StreamResampler:
    """The incremental form of :func:`resample`: feed base bars, get closed higher bars."""

    def __init__(self, base: str, higher: str) -> None:
        self.base_ms = timeframe_seconds(base) * 1000
        self.size_ms = timeframe_seconds(higher) * 1000
        self._current: _Bucket | None = None
        self._first = True
        self._skip: int | None = None

    def update(self, bar: dict[str, float]) -> list[dict[str, float]]:
        """Add one base bar; return the higher bars that closed with it (0, 1 or 2)."""
        stamp = int(bar["timestamp"])
        bucket = stamp // self.size_ms * self.size_ms
        if self._first:
            self._first = False
            if stamp != bucket:
                self._skip = bucket  # the data begins inside this bucket: drop it
        if bucket == self._skip:
            return []
        closed: list[dict[str, float]] = []
        current = self._current
        if current is not None and current.start != bucket:
            closed.append(current.bar())
            current = None
        if current is None:
            current = _Bucket(
                bucket, bar["open"], bar["high"], bar["low"], bar["close"], [bar["volume"]]
            )
        else:
            current.high = _max(current.high, bar["high"])
            current.low = _min(current.low, bar["low"])
            current.close = bar["close"]
            current.volumes.append(bar["volume"])
        self._current = current
        if stamp + self.base_ms >= current.start + self.size_ms:
            closed.append(current.bar())
            self._current = None
        return closed
