"""Evaluation semantics, checked against values worked out by hand on tiny series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from langkit import HOUR_MS, bar_at, hourly_frame, strategy
from sparkstacker.errors import DataError
from sparkstacker.lang.plan import FLAT_STATE, BarFrame, StrategyState

LONG = StrategyState(position=1.0, bars_held=0)
SHORT = StrategyState(position=-1.0)


def both_forms(plan, frame: BarFrame, state: StrategyState = FLAT_STATE) -> list:  # type: ignore[no-untyped-def]
    prepared, stream = plan.prepare(frame), plan.stream()
    out = []
    for i in range(len(frame)):
        a, b = prepared.decide(i, state), stream.update(bar_at(frame, i), state)
        assert a == b
        out.append(a)
    return out


def test_crosses_above_fires_once_per_cross(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(strategy("enter long when close crosses above 2.5")).strategies[0]
    frame = hourly_frame([1, 2, 3, 2, 1, 2, 3, 4])
    fired = [d.enter_long for d in both_forms(plan, frame)]
    # 2 -> 3 and 2 -> 3 again cross 2.5; 3 -> 4 stays above
    assert fired == [False, False, True, False, False, False, True, False]
    assert plan.warmup_bars == 1


def test_crosses_below_is_the_mirror(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(strategy("enter short when close crosses below open[1]")).strategies[0]
    frame = hourly_frame([5, 4, 5, 6, 3])  # open == close on every bar
    fired = [d.enter_short for d in both_forms(plan, frame)]
    # needs close[i] < close[i-1] and close[i-1] >= close[i-2]; bars 0-1 are warm-up
    # bar 2: 5 < 4 no; bar 3: 6 < 5 no; bar 4: 3 < 6 and 6 >= 5 yes
    assert fired == [False, False, False, False, True]


def test_history_highest_lowest_change(compile_src) -> None:  # type: ignore[no-untyped-def]
    rules = compile_src(
        strategy(
            "let h = highest(close, 3)\nlet l = lowest(close, 3)\nlet c = change(close, 2)\n"
            "let p = close[2]\nenter long when close >= h and c > 0 and l < p"
        )
    )
    prepared = rules.strategies[0].prepare(hourly_frame([3, 1, 4, 1, 5, 9, 2]))
    arrays = prepared.arrays()
    nan = math.nan
    np.testing.assert_array_equal(arrays["h"], [nan, nan, 4, 4, 5, 9, 9])
    np.testing.assert_array_equal(arrays["l"], [nan, nan, 1, 1, 1, 1, 2])
    np.testing.assert_array_equal(arrays["c"], [nan, nan, 1, 0, 1, 8, -3])
    np.testing.assert_array_equal(arrays["p"], [nan, nan, 3, 1, 4, 1, 5])
    # close >= highest and rising over 2 bars and lowest below close two bars ago
    # bar 5: lowest 1 is not below close[2] = 1
    assert prepared.entries()[0].tolist() == [False, False, True, False, True, False, False]


def test_bars_since(compile_src) -> None:  # type: ignore[no-untyped-def]
    rules = compile_src(strategy("let b = bars_since(close > 2)\nenter long when b == 2"))
    prepared = rules.strategies[0].prepare(hourly_frame([1, 3, 1, 1, 3, 1]))
    np.testing.assert_array_equal(prepared.arrays()["b"], [math.nan, 0, 1, 2, 0, 1])
    assert prepared.entries()[0].tolist() == [False, False, False, True, False, False]


def test_unknown_values_never_fire_even_negated(compile_src) -> None:  # type: ignore[no-untyped-def]
    # bars_since of a condition that never held is unknown (NaN) on every bar, warm or not;
    # "not" of unknown stays unknown, so this rule never fires
    plan = compile_src(strategy("enter long when not (bars_since(close > 100) < 5)")).strategies[0]
    decisions = both_forms(plan, hourly_frame([1, 2, 3, 4, 5, 6]))
    assert not any(d.enter_long for d in decisions)
    plan = compile_src(strategy("enter long when not (close > 100)")).strategies[0]
    assert all(d.enter_long for d in both_forms(plan, hourly_frame([1, 2, 3])))


def test_comparisons_with_nan_during_warm_up_are_false(compile_src) -> None:  # type: ignore[no-untyped-def]
    rules = compile_src(strategy("let up = sma(close, 3) > 0\nenter long when up"))
    prepared = rules.strategies[0].prepare(hourly_frame([1, 2, 3, 4]))
    up = prepared.arrays()["up"]
    assert math.isnan(up[0])
    assert math.isnan(up[1])
    assert up[2] == 1.0
    assert prepared.warmup_bars == 2
    assert prepared.entries()[0].tolist() == [False, False, True, True]


def test_flip_and_conflicting_entries(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        strategy(
            "enter long when close > 2\nenter short when close < 2\nenter short when close > 4"
        )
    ).strategies[0]
    frame = hourly_frame([3, 1, 5])
    prepared = plan.prepare(frame)
    flip = prepared.decide(1, LONG)  # short signal while long: close the long, open the short
    assert (flip.enter_long, flip.enter_short, flip.exit_long, flip.exit_short) == (
        False,
        True,
        True,
        False,
    )
    assert flip.reasons == ("enter short: close < 2", "exit long: flip to short")
    back = prepared.decide(0, SHORT)
    assert (back.enter_long, back.exit_short) == (True, True)
    both = prepared.decide(2, FLAT_STATE)  # close 5 > 2 and > 4: long and short both true
    assert not both.enter_long
    assert not both.enter_short
    assert both.reasons == ("enter long and enter short are both true: neither is taken",)


def test_state_dependent_exit(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        strategy(
            "enter long when close > 2\nexit long when bars_held >= 3 and unrealized_pnl < 0 USD"
        )
    ).strategies[0]
    assert not plan.state_free
    prepared = plan.prepare(hourly_frame([3, 3, 3]))
    held = StrategyState(position=1.0, bars_held=3, unrealized_pnl=-5.0)
    assert prepared.decide(1, held).exit_long
    assert not prepared.decide(
        1, StrategyState(position=1.0, bars_held=2, unrealized_pnl=-5.0)
    ).exit_long
    assert not prepared.decide(
        1, StrategyState(position=1.0, bars_held=3, unrealized_pnl=1.0)
    ).exit_long


def test_confidence_limit_price_and_post_only(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        strategy("enter long when close > 2 confidence 80% at limit close * (1 - 1%) post_only")
    ).strategies[0]
    decision = both_forms(plan, hourly_frame([3.0, 250.5]))[1]
    assert decision.enter_long
    assert decision.confidence == 0.8
    assert decision.limit_price == 250.5 * (1 - 0.01)
    assert decision.style.kind == "limit"
    assert decision.style.post_only


def test_identical_calls_are_computed_once(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        strategy(
            "let r = rsi(close, 14)\nenter long when rsi(close, 14) < 30 and r < 40\n"
            "enter short when rsi(close, timeperiod: 14) > 70\n"
            "exit when rsi(close, period: 14) > 50"
        )
    ).strategies[0]
    nodes = plan.program.dag.nodes
    assert [n.op for n in nodes].count("ind") == 1
    described = {d["expr"]: d for d in plan.describe()["dag"]}
    assert described["rsi(close, 14)"]["used_by"] >= 2


def test_warm_up_bars(compile_src) -> None:  # type: ignore[no-untyped-def]
    def warmup(condition: str) -> int:
        return compile_src(strategy(f"enter long when {condition}")).strategies[0].warmup_bars

    assert warmup("rsi(close, 14) < 30") == 14  # TA-Lib RSI's first value is bar 14
    assert warmup("close > close[5]") == 5
    assert warmup("highest(close, 10) > 1") == 9
    assert warmup("ema(rsi(close, 14), 10) > 50") == 14 + 9
    assert warmup("close[3] crosses above open") == 4


def test_higher_timeframe_warm_up_covers_the_first_closed_bar(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(strategy("let r = rsi(close@4h, 14)\nenter long when r > 50")).strategies[0]
    closes = [100 + 10 * math.sin(i / 5) for i in range(120)]
    prepared = plan.prepare(hourly_frame(closes))  # starts at 00:00, on a 4h boundary
    r = prepared.arrays()["r"]
    # 4h bar 14 is the first with an RSI; it closes with 1h bar 15 * 4 - 1 = 59
    first = int(np.flatnonzero(~np.isnan(r))[0])
    assert first == 59
    assert plan.warmup_bars >= first
    assert plan.extra_timeframes == ("4h",)


def test_data_mistakes_are_data_errors(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(strategy("enter long when close > 1")).strategies[0]
    with pytest.raises(DataError, match="runs on 1h bars but the data is 1m"):
        plan.prepare(hourly_frame([1, 2], timeframe="1m"))
    frame = hourly_frame([1, 2, 3])
    backwards = BarFrame(
        "1h",
        frame.timestamp[::-1].copy(),
        frame.open,
        frame.high,
        frame.low,
        frame.close,
        frame.volume,
    )
    with pytest.raises(DataError, match="strictly increasing"):
        plan.prepare(backwards)
    stream = plan.stream()
    stream.update(bar_at(frame, 1), FLAT_STATE)
    with pytest.raises(DataError, match="not after the previous bar"):
        stream.update(bar_at(frame, 0), FLAT_STATE)
    with pytest.raises(DataError, match="is missing"):
        stream.update({"timestamp": 9 * HOUR_MS, "close": 1.0}, FLAT_STATE)


def test_repeated_decisions_are_shared_and_equal(compile_src) -> None:  # type: ignore[no-untyped-def]
    """Plain rules (no confidence, no limit) repeat a few decisions: built once, reused."""
    plan = compile_src(
        strategy("enter long when close > open[1]\nenter short when close < open[1]")
    ).strategies[0]
    frame = hourly_frame([1, 2, 3, 2, 1, 2, 3, 4, 3, 2])
    decisions = both_forms(plan, frame, LONG)  # equal to the incremental form, bar by bar
    longs = [d for d in decisions if d.enter_long]
    shorts = [d for d in decisions if d.enter_short]
    assert len(longs) >= 2
    assert len(shorts) >= 2
    assert all(d is longs[0] for d in longs)
    assert all(d is shorts[0] for d in shorts)
    assert shorts[0].exit_long
    assert shorts[0].reasons[-1] == "exit long: flip to short"


def test_confidence_decisions_are_not_shared(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        strategy("enter long when close > 0 confidence min(bars_held / 10 bars, 1)")
    ).strategies[0]
    frame = hourly_frame([1, 2, 3, 4])
    prepared = plan.prepare(frame)
    held = [prepared.decide(3, StrategyState(bars_held=n)).confidence for n in (1, 2, 5)]
    assert held == pytest.approx([0.1, 0.2, 0.5])
