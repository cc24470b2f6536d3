"""Semantic checks: names resolved against the registry, units, structure — all errors at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from langkit import HEADER, strategy
from sparkstacker.errors import RuleError, RuleErrors
from sparkstacker.lang import check_files, check_text, severity


def errors(text: str, registry) -> list[RuleError]:  # type: ignore[no-untyped-def]
    return [e for e in check_text(text, registry, "t.rules") if severity(e) == "error"]


def only_error(text: str, registry) -> RuleError:  # type: ignore[no-untyped-def]
    found = errors(text, registry)
    assert len(found) == 1, [e.render() for e in found]
    return found[0]


def test_unknown_indicator_suggests_from_the_registry(lang_registry) -> None:  # type: ignore[no-untyped-def]
    err = only_error(strategy("enter long when rsii(close, 14) < 30"), lang_registry)
    assert err.message == "unknown indicator or function 'rsii'"
    assert err.hint is not None
    assert "'rsi'" in err.hint
    assert (err.line, err.column, err.end_column) == (4, 21, 25)
    assert err.render().splitlines()[-2].strip() == "^^^^"


def test_unknown_sizer_and_exchange(lang_registry) -> None:  # type: ignore[no-untyped-def]
    text = HEADER.replace("hyperliquid", "hyperliqud") + (
        "    enter long when close > open\n    size fixd_usd(100 USD)\n}\n"
    )
    found = errors(text, lang_registry)
    messages = [e.message for e in found]
    assert any("unknown exchange 'hyperliqud'" in m and "'hyperliquid'" in m for m in messages)
    assert any("unknown sizer 'fixd_usd'" in m and "'fixed_usd'" in m for m in messages)


def test_wrong_parameter_name_lists_the_valid_ones(lang_registry) -> None:  # type: ignore[no-untyped-def]
    err = only_error(strategy("enter long when rsi(close, length: 14) < 30"), lang_registry)
    assert err.message == "rsi has no parameter 'length'"
    assert err.hint is not None
    assert "timeperiod" in err.hint


def test_wrong_arity(lang_registry) -> None:  # type: ignore[no-untyped-def]
    err = only_error(strategy("enter long when rsi(close, 14, 3) < 30"), lang_registry)
    assert "at most 1 parameter" in err.message
    err = only_error(strategy("enter long when highest(close) > 1"), lang_registry)
    assert err.message == "highest takes 2 arguments, got 1"


def test_named_parameter_aliases_work(compile_src) -> None:  # type: ignore[no-untyped-def]
    rules = compile_src(
        strategy(
            "let m = macd(close, fast: 8, slow: 21, signal: 5)\n"
            "enter long when m.macd crosses above m.signal"
        )
    )
    node = next(n for n in rules.strategies[0].program.dag.nodes if n.op == "ind")
    assert dict(node.attrs[1]) == {"fastperiod": 8, "slowperiod": 21, "signalperiod": 5}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("leverage 10", "leverage needs a unit"),
        ("leverage 10%", "leverage must be a leverage written with x"),
        ("leverage 0x", "leverage must be more than 0x"),
        ("risk stop_loss 5", "stop_loss needs a unit"),
        ("risk stop_loss 100%", "stop_loss must be more than 0% and below 100%"),
        ("risk stop_loss 5x", "stop_loss must be a percentage"),
        ("risk max_duration 24", "max_duration needs a unit"),
        ("risk daily_loss 5x", "daily_loss must be an amount (100 USD) or a percentage"),
        ("hedge ratio 120%", "hedge ratio must be more than 0% and at most 100%"),
        ("hedge ratio 0%", "hedge ratio must be more than 0% and at most 100%"),
        ("hedge leverage 5x", "a hedge needs a ratio"),
        ("timeframe 2h", "timeframe must be a bar length"),
        ("fees maker 0.01", "maker fee needs a unit"),
        ("initial_equity 10000", "initial_equity needs a unit"),
    ],
)
def test_units_and_ranges_of_clauses(body: str, fragment: str, lang_registry) -> None:  # type: ignore[no-untyped-def]
    text = HEADER.replace(
        "    timeframe 1h\n", "" if body.startswith("timeframe") else "    timeframe 1h\n"
    )
    text += f"    {body}\n    enter long when close > open\n}}\n"
    found = [e.message for e in errors(text, lang_registry)]
    assert any(fragment in m for m in found), found


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ("close + 5% > open", "can't use + between a price and a percentage"),
        ("close > 5%", "can't use > between a price and a percentage"),
        ("close > volume", "can't use > between a price and a size in base units"),
        ("equity > close", "can't use > between an amount of money and a price"),
        ("close > 10x", "is a leverage"),
        ("close[-1] > open", "would read a future bar"),
        ("close[1.5] > open", "must be a whole number"),
        ("close[n] > open", "must be a whole number"),
        ("bars_held[1] > 2", "reads engine state"),
        ("highest(bars_held, 3) > 2", "reads engine state"),
        ("position crosses above 0", "reads engine state"),
        ("close@1m > open", "not a whole multiple"),
        ("funding@4h > 0", "@ picks a bar field"),
        ("macd(close) > 0", "has several outputs"),
        ("rsi(close, 14)", "not true/false"),
        ("rsi(close, 14) and close > open", "combines conditions"),
        ("close(1) > open", "is a series, not a function"),
        ("clsoe > open", "unknown name 'clsoe'"),
        ("rsi > 30", "is a function; call it"),
        ("close > 24h", "a duration can only be compared with a bar count"),
        ("atr(high@4h, low, close) > 1", "different timeframes"),
        ("sma(close, 5%) > 1", "parameters are plain numbers"),
    ],
)
def test_expression_mistakes(condition: str, fragment: str, lang_registry) -> None:  # type: ignore[no-untyped-def]
    err = only_error(strategy(f"enter long when {condition}"), lang_registry)
    assert fragment in err.message, err.render()
    assert err.line == 4


@pytest.mark.parametrize(
    "condition",
    [
        "1 > 2",
        "close > close",
        "true",
        "not (1 < 2)",
        "close > open or 2 > 1",
        "rsi(close, 3) crosses above rsi(close, 3)",
    ],
)
def test_always_constant_conditions_are_errors(condition: str, lang_registry) -> None:  # type: ignore[no-untyped-def]
    err = only_error(strategy(f"enter long when {condition}"), lang_registry)
    assert err.message.startswith("this condition is always")


def test_future_bar_message_explains_history(lang_registry) -> None:  # type: ignore[no-untyped-def]
    err = only_error(strategy("enter long when close[-1] > close"), lang_registry)
    assert err.message == "close[-1] would read a future bar; history looks back only"
    assert err.hint is not None
    assert "x[1] the previous one" in err.hint


def test_duplicate_strategy_names_and_missing_entry(lang_registry) -> None:  # type: ignore[no-untyped-def]
    text = strategy("enter long when close > open") + strategy("exit when close > open")
    found = errors(text, lang_registry)
    assert [e.message for e in found] == ['strategy "s" is defined twice (first at line 1)']
    text = strategy("exit when close > open")
    err = only_error(text, lang_registry)
    assert err.message == 'strategy "s" has no enter rule, so it would never trade'


def test_unused_let_is_a_warning_and_compile_still_succeeds(compile_src, lang_registry) -> None:  # type: ignore[no-untyped-def]
    text = strategy("let unused = sma(close, 5)\nenter long when close > open")
    found = check_text(text, lang_registry, "t.rules")
    assert [(severity(e), e.message) for e in found] == [("warning", "let unused is never used")]
    assert "warning: let unused is never used" in found[0].render()
    rules = compile_src(text)
    assert [w.message for w in rules.warnings] == ["let unused is never used"]


def test_all_errors_are_reported_not_just_the_first(lang_registry) -> None:  # type: ignore[no-untyped-def]
    text = strategy(
        "enter long when rsii(close) < 30\nenter short when close > 5%\n"
        "leverage 10\nrisk stop_loss 5\nsize fixed_usd(100)"
    )
    found = errors(text, lang_registry)
    assert [e.line for e in found] == [4, 5, 6, 7, 8]
    from sparkstacker.lang import compile_text

    with pytest.raises(RuleErrors) as info:
        compile_text(text, lang_registry, "t.rules")
    assert len(info.value.errors) == 5
    assert info.value.render().count("t.rules:") == 5


def test_check_files_reports_every_file(tmp_path: Path, lang_registry) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.rules"
    good.write_text(strategy("enter long when close > open"))
    bad = tmp_path / "bad.rules"
    bad.write_text(strategy("enter long when close = open"))
    missing = tmp_path / "missing.rules"
    found = check_files([good, bad, missing], lang_registry)
    assert [(Path(e.file or "").name, e.line) for e in found] == [
        ("bad.rules", 4),
        ("missing.rules", None),
    ]


def test_let_names_cannot_shadow_built_ins_or_repeat(lang_registry) -> None:  # type: ignore[no-untyped-def]
    found = errors(
        strategy("let close = open\nlet a = open\nlet a = high\nenter long when a > 1"),
        lang_registry,
    )
    assert [e.message for e in found] == [
        "close is a built-in name (a bar field, state or function); choose another name",
        "let a is defined twice (first at line 5)",
    ]


def test_let_cycles_are_reported(lang_registry) -> None:  # type: ignore[no-untyped-def]
    err = only_error(strategy("let a = b + 1\nlet b = a * 2\nenter long when a > 1"), lang_registry)
    assert "refers to itself" in err.message


def test_post_only_needs_a_limit_and_confidence_range(lang_registry) -> None:  # type: ignore[no-untyped-def]
    err = only_error(strategy("enter long when close > open post_only"), lang_registry)
    assert err.message.startswith("post_only needs a limit price")
    err = only_error(strategy("enter long when close > open confidence 1.5"), lang_registry)
    assert err.message.startswith("confidence must be between 0 and 1")
    err = only_error(strategy("enter long when close > open at limit 5%"), lang_registry)
    assert err.message.startswith("a limit price must be a price")


def test_leverage_above_the_strategys_own_cap(lang_registry) -> None:  # type: ignore[no-untyped-def]
    err = only_error(
        strategy("enter long when close > open\nleverage 10x\nrisk max_leverage 5x"), lang_registry
    )
    assert err.message == "leverage 10x is above this strategy's max_leverage 5x"


def test_durations_compare_with_bars_in_the_strategys_timeframe(compile_src) -> None:  # type: ignore[no-untyped-def]
    rules = compile_src(strategy("enter long when close > open\nexit when bars_held >= 24h"))
    program = rules.strategies[0].program
    exit_node = program.dag[program.exits[0].condition]
    constant = program.dag[exit_node.args[1]]
    assert constant.op == "const"
    assert constant.value == 24.0
