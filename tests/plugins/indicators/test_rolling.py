"""The per-window sums behind the custom indicators: exact per window, correct in value."""

from __future__ import annotations

import math
import statistics

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from sparkstacker_plugins.indicators.rolling import (
    window_flat,
    window_std,
    window_sum,
)

prices = st.lists(
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=60,
)


@given(values=prices, period=st.integers(min_value=1, max_value=12))
def test_a_window_sum_does_not_depend_on_earlier_bars(values: list[float], period: int) -> None:
    """Bit for bit the same over the whole array or over just the window (stream == batch)."""
    array = np.array(values)
    whole = window_sum(array, period)
    for end in range(period, len(array) + 1):
        alone = window_sum(array[end - period : end], period)
        assert alone[-1] == whole[end - 1]
        assert math.isclose(whole[end - 1], math.fsum(values[end - period : end]), rel_tol=1e-13)
    assert np.isnan(whole[: period - 1]).all()


@given(values=prices, period=st.integers(min_value=2, max_value=12))
def test_window_std_matches_the_statistics_module(values: list[float], period: int) -> None:
    array = np.array(values)
    mean, std = window_std(array, period)
    for end in range(period, len(array) + 1):
        window = values[end - period : end]
        assert math.isclose(mean[end - 1], statistics.fmean(window), rel_tol=1e-12)
        expected = statistics.stdev(window)
        assert math.isclose(std[end - 1], expected, rel_tol=1e-7, abs_tol=1e-9 * max(window))


def test_window_flat_by_hand() -> None:
    flags = window_flat(np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0]), 3)
    assert flags.tolist() == [False, False, True, False, False, True]
