"""``fmt``: canonical layout, same AST after re-parsing, comments kept, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langkit import EXAMPLES, REPO
from sparkstacker.lang import format_text, parse

FILES = [*sorted(EXAMPLES.glob("*.rules")), REPO / "rules" / "portfolio.rules"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_shipped_files_are_formatted_and_round_trip(path: Path) -> None:
    text = path.read_text()
    formatted = format_text(text)
    assert parse(formatted) == parse(text)
    assert format_text(formatted) == formatted
    comments = [line.strip() for line in text.splitlines() if line.strip().startswith("#")]
    for comment in comments:
        assert comment in formatted


def test_messy_input_gets_the_canonical_layout() -> None:
    messy = (
        '# header\nstrategy   "s"{market ETH-USD on hyperliquid;timeframe 1h // tf\n'
        "let a=(close+open)/2  let b = 1 - (2 - 3)\n"
        "enter long when not(a>b)and(close crosses above open or close<open)confidence 50%\n"
        "risk{stop_loss 5% take_profit 10%}hedge ratio 20%,on sim;market ETH-USD on sim}\n"
    )
    expected = (
        "# header\n"
        'strategy "s" {\n'
        "    market ETH-USD on hyperliquid\n"
        "    timeframe 1h  // tf\n"
        "    let a = (close + open) / 2\n"
        "    let b = 1 - (2 - 3)\n"
        "    enter long when not a > b and (close crosses above open or close < open)"
        " confidence 50%\n"
        "    risk {\n"
        "        stop_loss 5%\n"
        "        take_profit 10%\n"
        "    }\n"
        "    hedge ratio 20%, on sim;\n"
        "    market ETH-USD on sim\n"
        "}\n"
    )
    assert format_text(messy) == expected
    assert parse(expected) == parse(messy)


def test_negative_numbers_and_nested_operators_keep_their_meaning() -> None:
    text = "let a = -(close - open) * -2 / (3 * 4) - --1\nlet b = not not (a > 1)\n"
    formatted = format_text(text)
    assert parse(formatted) == parse(text)
    assert formatted == "let a = -(close - open) * -2 / (3 * 4) - --1\nlet b = not not a > 1\n"


ATOMS = st.sampled_from(
    ["close", "open", "1", "2.5", "5%", "rsi(close, 14)", "m.macd", "x[2]", "close@4h", "-high"]
)


@st.composite
def expression(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 3 or draw(st.booleans()):
        return draw(ATOMS)
    left, right = draw(expression(depth + 1)), draw(expression(depth + 1))
    op = draw(st.sampled_from(["+", "-", "*", "/", "<", ">=", "and", "or", "crosses above"]))
    wrap = draw(st.booleans())
    text = f"{left} {op} {right}"
    if draw(st.booleans()):
        text = f"not {text}" if op not in "+-*/" else f"-{text}"
    return f"({text})" if wrap else text


@settings(max_examples=150, deadline=None)
@given(expression())
def test_formatting_any_expression_keeps_the_tree(expr: str) -> None:
    text = f"let v = {expr}\n"
    try:
        tree = parse(text)
    except Exception:  # noqa: BLE001 - generated text may be invalid (a < b < c); skip those
        return
    formatted = format_text(text)
    assert parse(formatted) == tree
    assert format_text(formatted) == formatted
