"""Missing bars in a timestamp series: where they start, end and how many are missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sparkstacker.data.frames import describe_ms


@dataclass(frozen=True)
class Gap:
    """A run of missing bars: ``start``/``end`` are the first and last *missing* bar opens (ms)."""

    start: int
    end: int
    missing: int

    def describe(self) -> str:
        bars = "bar" if self.missing == 1 else "bars"
        if self.start == self.end:
            return f"{describe_ms(self.start)} ({self.missing} {bars} missing)"
        return (
            f"{describe_ms(self.start)} → {describe_ms(self.end)} ({self.missing} {bars} missing)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": describe_ms(self.start),
            "end": describe_ms(self.end),
            "start_ms": self.start,
            "end_ms": self.end,
            "missing": self.missing,
        }


def find_gaps(timestamps_ms: np.ndarray, step_ms: int) -> list[Gap]:
    """Gaps in sorted, unique bar opens on a ``step_ms`` grid (one Gap per jump > step)."""
    ts = np.asarray(timestamps_ms, dtype="int64")
    if ts.size < 2:
        return []
    steps = np.diff(ts)
    where = np.flatnonzero(steps > step_ms)
    return [
        Gap(
            start=int(ts[i] + step_ms),
            end=int(ts[i + 1] - step_ms),
            missing=int(steps[i] // step_ms - 1),
        )
        for i in where
    ]


def count_gaps(timestamps_ms: np.ndarray, step_ms: int) -> int:
    ts = np.asarray(timestamps_ms, dtype="int64")
    return int(np.count_nonzero(np.diff(ts) > step_ms)) if ts.size > 1 else 0


def find_funding_gaps(
    timestamps_ms: np.ndarray, interval_seconds: np.ndarray, *, tolerance: float = 0.5
) -> list[Gap]:
    """Missing funding prints: a step longer than (1 + tolerance) × the later print's interval.

    Funding times carry venue jitter (Hyperliquid stamps ``…00:00.048``), so steps are compared
    with a tolerance rather than exactly; ``missing`` is the number of whole intervals skipped.
    """
    ts = np.asarray(timestamps_ms, dtype="int64")
    if ts.size < 2:
        return []
    interval_ms = np.asarray(interval_seconds, dtype="int64")[1:] * 1000
    steps = np.diff(ts)
    where = np.flatnonzero(steps > interval_ms * (1 + tolerance))
    gaps = []
    for i in where:
        every = int(interval_ms[i])
        missing = round(steps[i] / every) - 1
        gaps.append(
            Gap(start=int(ts[i] + every), end=int(ts[i] + every * missing), missing=missing)
        )
    return gaps
