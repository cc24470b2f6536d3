"""A backtest frees the inner steps of its conditions; its decisions stay the same."""

from __future__ import annotations

import numpy as np
from langkit import hourly_frame, strategy
from sparkstacker.lang.plan import FLAT_STATE, StrategyState


def test_released_plan_decides_as_before_and_keeps_named_series(compile_src) -> None:  # type: ignore[no-untyped-def]
    source = strategy(
        "let fast = sma(close, 2)\n"
        "enter long when fast crosses above sma(close, 3)\n"
        "exit long when position > 0 and close < open[1]"
    )
    plan = compile_src(source).strategies[0]
    frame = hourly_frame([5, 4, 3, 4, 6, 7, 5, 3, 4, 6, 8, 7])
    full, released = plan.prepare(frame), plan.prepare(frame)
    released.release_intermediates()  # type: ignore[attr-defined]
    assert len(released.values) < len(full.values)  # type: ignore[attr-defined]
    long = StrategyState(position=1.0)
    for i in range(len(frame)):
        for state in (FLAT_STATE, long):
            assert released.decide(i, state) == full.decide(i, state)
    np.testing.assert_array_equal(released.arrays()["fast"], full.arrays()["fast"])
    for a, b in zip(
        released.entries() + released.exits(), full.entries() + full.exits(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
