"""Durations no rule can mean are located errors, never an OverflowError (a fuzz finding)."""

from __future__ import annotations

import pytest
from sparkstacker.errors import RuleError
from sparkstacker.lang import compile_text

RULE = """
strategy "d" {{
    market ETH-USD on sim
    timeframe 1m
    enter long when close > open
    size fixed_usd(100 USD)
    leverage 2x
    risk max_duration {value}
}}
"""


@pytest.mark.parametrize("value", ["99999999999999999d", "87600001h", "3651d"])
def test_absurd_durations_are_located_errors(registry, value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleError, match=r"max_duration must be at most ten years") as info:
        compile_text(RULE.format(value=value), registry)
    assert info.value.line == 8


def test_ten_years_is_still_allowed(registry) -> None:  # type: ignore[no-untyped-def]
    plan = compile_text(RULE.format(value="3650d"), registry).strategies[0]
    assert plan.risk.max_duration is not None
    assert plan.risk.max_duration.days == 3650
