"""Random rules from the grammar's constructs: the vectorised and incremental forms agree.

Hypothesis writes rule files (indicators, multi-output fields, higher timeframes, history,
crosses, functions, state, confidence, limit prices), compiles them, and runs both evaluation
forms over real candles with a synthetic engine-state sequence. Every bar's decision must be
identical.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from langkit import bar_at, cut
from sparkstacker.errors import RuleError
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import FLAT_STATE, StrategyState

pytestmark = pytest.mark.shared

HIGHER = {"1h": ["4h", "1d"], "1m": ["5m", "15m", "1h"]}
FIELDS = ["open", "high", "low", "close"]


@st.composite
def price(draw: st.DrawFn, tf: str, depth: int = 0) -> str:
    """An expression in price units."""
    options = ["field", "ema", "sma", "band", "window", "history", "scaled", "higher"]
    if depth > 1:
        options = ["field", "ema", "higher"]
    kind = draw(st.sampled_from(options))
    field = draw(st.sampled_from(FIELDS))
    n = draw(st.integers(2, 30))
    if kind == "field":
        return field
    if kind == "higher":
        higher = draw(st.sampled_from(HIGHER[tf]))
        if draw(st.booleans()):
            return f"{field}@{higher}"
        return f"ema({field}@{higher}, {draw(st.integers(2, 8))})"
    if kind == "ema":
        return f"ema({field}, {n})"
    if kind == "sma":
        return f"sma({field}, period: {n})"
    if kind == "band":
        return f"bb.{draw(st.sampled_from(['upperband', 'middleband', 'lowerband']))}"
    if kind == "window":
        func = draw(st.sampled_from(["highest", "lowest"]))
        return f"{func}({draw(price(tf, depth + 1))}, {draw(st.integers(1, 12))})"
    if kind == "history":
        return f"{draw(price(tf, depth + 1))}[{draw(st.integers(0, 5))}]"
    factor = draw(st.sampled_from(["1.01", "(1 - 0.5%)", "0.99", "(1 + 20 bps)"]))
    return f"{draw(price(tf, depth + 1))} * {factor}"


@st.composite
def oscillator(draw: st.DrawFn, tf: str) -> tuple[str, float, float]:
    """An indicator value with a sensible range to compare against."""
    kind = draw(st.sampled_from(["rsi", "rsi_higher", "macd", "hist", "change", "abs", "mix"]))
    n = draw(st.integers(2, 20))
    if kind == "rsi":
        return f"rsi(close, {n})", 20.0, 80.0
    if kind == "rsi_higher":
        return f"rsi(close@{draw(st.sampled_from(HIGHER[tf]))}, {n})", 20.0, 80.0
    if kind == "macd":
        return draw(st.sampled_from(["m.macd", "m.signal"])), -5.0, 5.0
    if kind == "hist":
        return "m.hist", -2.0, 2.0
    if kind == "change":
        return f"change(close, {draw(st.integers(1, 5))})", -10.0, 10.0
    if kind == "abs":
        return f"abs(change(close@{draw(st.sampled_from(HIGHER[tf]))}))", 0.0, 20.0
    return f"max(rsi(close, {n}), rsi(open, {n + 1}))", 30.0, 70.0


@st.composite
def condition(draw: st.DrawFn, tf: str, depth: int = 0, state: bool = True) -> str:
    kinds = ["price_cmp", "osc_cmp", "cross", "osc_cross", "bars_since"]
    if state:
        kinds.append("state")
    if depth < 2:
        kinds += ["and", "or", "not"]
    kind = draw(st.sampled_from(kinds))
    if kind == "price_cmp":
        op = draw(st.sampled_from(["<", "<=", ">", ">="]))
        return f"{draw(price(tf))} {op} {draw(price(tf))}"
    if kind == "osc_cmp":
        expr, low, high = draw(oscillator(tf))
        level = draw(st.floats(low, high).map(lambda x: round(x, 2)))
        return f"{expr} {draw(st.sampled_from(['<', '>', '>=']))} {level}"
    if kind == "cross":
        direction = draw(st.sampled_from(["above", "below"]))
        return f"{draw(price(tf))} crosses {direction} {draw(price(tf))}"
    if kind == "osc_cross":
        expr, low, high = draw(oscillator(tf))
        level = round((low + high) / 2, 2)
        return f"{expr} crosses {draw(st.sampled_from(['above', 'below']))} {level}"
    if kind == "bars_since":
        inner = draw(condition(tf, depth + 1, state=False))
        return f"bars_since({inner}) < {draw(st.integers(1, 10))}"
    if kind == "state":
        return draw(
            st.sampled_from(
                [
                    "bars_held >= 5",
                    "position > 0",
                    "position < 0",
                    "unrealized_pnl < 0 USD",
                    "equity > 10000 USD",
                    "close > entry_price * (1 + 1%)",
                    "bars_held >= 2h",
                ]
            )
        )
    if kind == "not":
        return f"not ({draw(condition(tf, depth + 1, state))})"
    left = draw(condition(tf, depth + 1, state))
    right = draw(condition(tf, depth + 1, state))
    return f"({left}) {kind} ({right})"


@st.composite
def rule_file(draw: st.DrawFn) -> tuple[str, str]:
    tf = draw(st.sampled_from(["1h", "1m"]))
    lines = [
        "let m = macd(close, fast: 6, slow: 13, signal: 4)",
        "let bb = bbands(close, 10)",
    ]
    for side in ("long", "short"):
        if side == "short" and not draw(st.booleans()):
            continue
        line = f"enter {side} when {draw(condition(tf))}"
        if draw(st.booleans()):
            line += draw(
                st.sampled_from(
                    [
                        " confidence rsi(close, 7) / 100",
                        " confidence 80%",
                        " confidence min(bars_held / 10 bars, 1)",
                    ]
                )
            )
        if draw(st.booleans()):
            line += f" at limit {draw(price(tf))} * (1 - 0.1%)"
            if draw(st.booleans()):
                line += " post_only"
        lines.append(line)
    for _ in range(draw(st.integers(0, 2))):
        side = draw(st.sampled_from(["", " long", " short"]))
        lines.append(f"exit{side} when {draw(condition(tf))}")
    body = "\n".join(f"    {line}" for line in lines)
    text = (
        f'strategy "random" {{\n    market ETH-USD on hyperliquid\n    timeframe {tf}\n{body}\n}}\n'
    )
    return tf, text


def _state(i: int, seed: int, close: float) -> StrategyState:
    """A synthetic engine state: positions open and close in a seeded rhythm."""
    period = 7 + seed % 13
    phase = (i // period + seed) % 3
    position = (0.0, 1.5, -2.0)[phase]
    held = i % period if position else 0
    entry = close * (1.0 - 0.002 * ((seed % 5) - 2)) if position else math.nan
    pnl = 0.0 if not position else position * (close - entry)
    return StrategyState(
        position=position,
        entry_price=entry,
        bars_held=held,
        unrealized_pnl=pnl,
        equity=10_000.0 + 7.0 * ((i * 31 + seed) % 50 - 25),
        mark_price=close,
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=rule_file(), seed=st.integers(0, 1000))
def test_prepare_and_stream_decide_alike(case, seed, lang_registry, eth_1h, eth_1m) -> None:  # type: ignore[no-untyped-def]
    tf, text = case
    try:
        rules = compile_text(text, lang_registry, filename="random.rules")
    except RuleError as err:
        # only one kind of refusal is expected from these generators: a condition that the
        # DAG folds to a constant (e.g. "close > close")
        assume("always" not in err.message)
        raise
    plan = rules.strategies[0]
    frame = cut(eth_1h if tf == "1h" else eth_1m, 700)
    prepared = plan.prepare(frame)
    stream = plan.stream()
    fired = 0
    for i in range(len(frame)):
        state = _state(i, seed, float(frame.close[i]))
        vectorised = prepared.decide(i, state)
        incremental = stream.update(bar_at(frame, i), state)
        assert vectorised == incremental, (i, text)
        fired += vectorised.enter_long or vectorised.enter_short
    if prepared.state_free:
        long_entry, short_entry = prepared.entries()
        long_exit, short_exit = prepared.exits()
        for i in range(len(frame)):
            flat = prepared.decide(i, FLAT_STATE)
            assert (flat.enter_long, flat.enter_short) == (long_entry[i], short_entry[i])
            assert (flat.exit_long, flat.exit_short) == (long_exit[i], short_exit[i])
