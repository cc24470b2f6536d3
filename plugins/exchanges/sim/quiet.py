"""Runs of quiet bars: a driver's bars as one object the venue can take many of in one call.

A bar is *quiet* for a market when it can touch nothing: no order waits to arrive, no resting
order or trigger lies inside its range, the liquidation price lies outside it and no funding
boundary falls in it (:meth:`SimExchange.on_bar_quiet`). While nothing is sent, a quiet bar
leaves the market's state unchanged but for its last prices, so a run of them is quiet as a
whole when the run's lowest low and highest high stay inside the market's levels and its last
bar ends before the next funding boundary. :class:`BarSeries` answers that in O(run length)
on memoryviews, with a prefix count of the bars that never qualify (a gap other than the bar
length, a price that is not a finite number) so bad data always takes the per-bar path, where
it is reported exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class BarSeries:
    """One market's bars as memoryviews (index ``i`` is bar ``i``), for quiet runs."""

    step: int  # bar length in ms
    timestamp: memoryview
    open: memoryview
    high: memoryview
    low: memoryview
    close: memoryview
    volume: memoryview
    funding: memoryview | None
    irregular: memoryview  # irregular[i]: bars < i that never run quietly in bulk

    @classmethod
    def of(
        cls,
        step: int,
        timestamp: np.ndarray,
        open_: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
        funding: np.ndarray | None = None,
    ) -> BarSeries:
        ts = np.ascontiguousarray(timestamp, dtype=np.int64)
        columns = [
            np.ascontiguousarray(a, dtype=np.float64) for a in (open_, high, low, close, volume)
        ]
        bad = ~np.isfinite(columns[1]) | ~np.isfinite(columns[2])
        for column in (columns[0], columns[3], columns[4]):
            bad |= ~np.isfinite(column)
        if len(ts) > 1:
            bad[1:] |= np.diff(ts) != step
        irregular = np.zeros(len(ts) + 1, dtype=np.int64)
        np.cumsum(bad, out=irregular[1:])
        return cls(
            step=step,
            timestamp=_view(ts),
            open=_view(columns[0]),
            high=_view(columns[1]),
            low=_view(columns[2]),
            close=_view(columns[3]),
            volume=_view(columns[4]),
            funding=(
                _view(np.ascontiguousarray(funding, dtype=np.float64))
                if funding is not None
                else None
            ),
            irregular=_view(irregular),
        )

    def regular(self, start: int, stop: int) -> bool:
        """Bars ``start..stop-1`` are finite and each one bar length after the one before."""
        return bool(self.irregular[stop] == self.irregular[start])

    def inside(self, start: int, stop: int, down: float, up: float) -> bool:
        """Every bar of ``start..stop-1`` stays strictly between ``down`` and ``up``."""
        return bool(min(self.low[start:stop]) > down and max(self.high[start:stop]) < up)


def _view(array: np.ndarray) -> memoryview:
    """A memoryview of a contiguous array: indexing gives Python numbers."""
    return np.ascontiguousarray(array).data
