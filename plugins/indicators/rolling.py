"""Trailing-window sums, means and deviations that are exact per window.

Each window is summed oldest to newest on its own (``period`` vectorised additions), never as a
running total carried along the array. The value at bar ``i`` is therefore bit-for-bit the same
whether it is computed over the whole history or over just its window, which is what lets an
incremental stream agree exactly with the vectorised form. Cost is O(n × period).
"""

from __future__ import annotations

import numpy as np


def window_sum(values: np.ndarray, period: int) -> np.ndarray:
    """Sum of the ``period`` values ending at each bar; NaN before the first full window."""
    length = len(values)
    out = np.full(length, np.nan)
    if period < 1 or length < period:
        return out
    count = length - period + 1
    total = values[:count].astype(np.float64, copy=True)
    for offset in range(1, period):
        total += values[offset : offset + count]
    out[period - 1 :] = total
    return out


def window_mean(values: np.ndarray, period: int) -> np.ndarray:
    return window_sum(values, period) / period


def window_std(values: np.ndarray, period: int, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard deviation) of each trailing window, two-pass (no cancellation)."""
    length = len(values)
    mean = window_mean(values, period)
    std = np.full(length, np.nan)
    if period <= ddof or length < period:
        return mean, std
    count = length - period + 1
    centre = mean[period - 1 :]
    squares = np.zeros(count)
    for offset in range(period):
        deviation = values[offset : offset + count] - centre
        squares += deviation * deviation
    std[period - 1 :] = np.sqrt(squares / (period - ddof))
    return mean, std


def window_flat(values: np.ndarray, period: int) -> np.ndarray:
    """True where all ``period`` values ending at the bar are equal (False before the first)."""
    length = len(values)
    out = np.zeros(length, dtype=bool)
    if period < 1 or length < period:
        return out
    count = length - period + 1
    flat = np.ones(count, dtype=bool)
    for offset in range(1, period):
        flat &= values[offset : offset + count] == values[:count]
    out[period - 1 :] = flat
    return out
