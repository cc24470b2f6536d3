"""Bars as the runtime moves them: plain tuples, and higher timeframes built as base bars close.

A :data:`Bar` is ``(open_time_ms, open, high, low, close, volume)``. :class:`BarAggregator`
builds a strategy's timeframe from the market's base timeframe with the data store's resampling
rules (buckets aligned to the UTC epoch, weeks to Monday; only complete bars), so a paper run's
4h bars are the bars a backtest of the same data sees.
"""

from __future__ import annotations

from sparkstacker.data.resample import bucket_origin_ms, check_resample

Bar = tuple[int, float, float, float, float, float]


class BarAggregator:
    """Feed base bars in time order with :meth:`push`; it returns each completed bar."""

    def __init__(self, base: str, timeframe: str) -> None:
        self.base_ms, self.tf_ms = check_resample(base, timeframe)
        self.timeframe = timeframe
        self.origin = bucket_origin_ms(timeframe)
        self.expected = self.tf_ms // self.base_ms
        self._bucket: int | None = None
        self._count = 0
        self._o = self._h = self._l = self._c = self._v = 0.0

    def bucket(self, ts_ms: int) -> int:
        """Open time of the bar that the base bar opening at ``ts_ms`` belongs to."""
        return ts_ms - (ts_ms - self.origin) % self.tf_ms

    def index(self, open_ms: int) -> int:
        """A bar's number since the epoch: stable across restarts (``bars_held`` uses it)."""
        return (open_ms - self.origin) // self.tf_ms

    def push(self, ts: int, o: float, h: float, lo: float, c: float, v: float) -> Bar | None:
        if self.expected == 1:
            return (ts, o, h, lo, c, v)
        bucket = self.bucket(ts)
        if bucket != self._bucket:
            self._bucket, self._count = bucket, 0  # an incomplete previous bar is dropped
            self._o, self._h, self._l, self._v = o, h, lo, 0.0
        self._count += 1
        self._h = max(self._h, h)
        self._l = min(self._l, lo)
        self._c = c
        self._v += v
        if ts + self.base_ms != bucket + self.tf_ms:
            return None
        complete = self._count == self.expected
        self._bucket = None
        if not complete:
            return None  # a gap inside the window: the data store drops such bars too
        return (bucket, self._o, self._h, self._l, self._c, self._v)
