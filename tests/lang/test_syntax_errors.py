"""Syntax errors: located, worded for traders, never a raw lark exception."""

from __future__ import annotations

import pytest
from langkit import HEADER
from lark.exceptions import UnexpectedInput
from sparkstacker.errors import RuleError
from sparkstacker.lang import parse
from sparkstacker.lang.parser import parse_tree
from sparkstacker.lang.syntax_errors import MISTAKES, expected_words


def error_of(text: str) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse(text, "bad.rules")
    return info.value


@pytest.mark.parametrize("label", sorted(MISTAKES))
def test_every_catalogue_example_fails_and_is_recognised(label: str) -> None:
    message, _, examples = MISTAKES[label]
    for example in examples:
        with pytest.raises(UnexpectedInput):
            parse_tree(example)
        assert error_of(example).message == message


def test_equals_instead_of_double_equals() -> None:
    err = error_of(HEADER + "    enter long when rsi(close, 14) = 30\n}")
    assert err.message == "a condition compares with ==, not ="
    assert (err.line, err.column) == (4, 36)
    rendered = err.render()
    assert "bad.rules:4:36" in rendered
    assert "    enter long when rsi(close, 14) = 30" in rendered
    caret_line = rendered.splitlines()[2]
    assert caret_line.index("^") == rendered.splitlines()[1].index("=")


def test_crosses_without_direction() -> None:
    err = error_of(HEADER + "    enter long when ema(close, 5) crosses ema(close, 20)\n}")
    assert "crosses above" in err.message
    assert "crosses below" in err.message


def test_missing_when() -> None:
    err = error_of(HEADER + "    enter long rsi(close, 14) < 30\n}")
    assert err.message == "`when` is missing before the condition"
    assert (err.line, err.column) == (4, 16)


def test_missing_closing_brace_names_the_open_block() -> None:
    err = error_of(HEADER + "    enter long when close > open\n")
    assert err.message.startswith("missing '}'")
    assert "line 1, column 14" in err.message


def test_unknown_statement_suggests_the_keyword() -> None:
    err = error_of(HEADER + "    levrage 5x\n}")
    assert err.hint is not None
    assert err.hint.startswith("did you mean 'leverage'")


def test_risk_word_outside_risk_clause_is_explained() -> None:
    err = error_of(HEADER + "    stop_loss 5%\n}")
    assert err.hint == "stop_loss belongs in a risk clause: risk stop_loss …"


def test_symbols_instead_of_words_for_logic() -> None:
    err = error_of(HEADER + "    enter long when close > 1 && open > 1\n}")
    assert err.hint == "write `and` instead of &&"


def test_expected_terminals_are_words() -> None:
    words = expected_words({"NAME", "NUMBER", "LPAR", "SYMBOL", "$END"})
    assert set(words) == {
        "'('",
        "a name",
        "a number",
        "a market symbol like ETH-USD",
        "the end of the file",
    }


def test_a_name_followed_by_equals_needs_let() -> None:
    err = error_of(HEADER + "    fast = ema(close, 12)\n}")
    assert err.message == "to name a value, start the line with `let`"
    assert err.hint == "write `let fast = …`"


def test_deep_nesting_is_refused_before_parsing() -> None:
    err = error_of("let a = " + "(" * 500 + "1" + ")" * 500)
    assert "nested more than" in err.message
    assert err.line == 1
