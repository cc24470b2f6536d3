"""Mutated example files: every input compiles or fails with a located RuleError — nothing else.

Hypothesis deletes, inserts, swaps, duplicates and truncates tokens of the shipped example
files (10,000 cases). A raw lark exception, a TypeError from the checker or a hang would fail.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langkit import EXAMPLES, REPO
from sparkstacker.errors import RuleError, RuleErrors
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import CompiledRules

SOURCES = {p.name: p.read_text() for p in sorted(EXAMPLES.glob("*.rules"))}
SOURCES["portfolio.rules"] = (REPO / "rules" / "portfolio.rules").read_text()
PIECE = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d[\d_.]*|\"[^\"\n]*\"|//|.", re.S)
VOCABULARY = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ".",
    ":",
    "=",
    "==",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "@",
    "%",
    "&&",
    "!",
    "$",
    "'",
    '"',
    "#",
    "//",
    "\n",
    " ",
    "x",
    "5",
    "-1",
    "0",
    "10x",
    "5%",
    "10 bps",
    "100 USD",
    "24h",
    "5m",
    "1440 bars",
    "1e9",
    "99999999999999999999",
    "strategy",
    "market",
    "timeframe",
    "let",
    "enter",
    "exit",
    "long",
    "short",
    "when",
    "crosses",
    "above",
    "below",
    "and",
    "or",
    "not",
    "size",
    "leverage",
    "hedge",
    "risk",
    "params",
    "portfolio",
    "import",
    "uses",
    "on",
    "ratio",
    "within",
    "else",
    "unwind",
    "retry",
    "keep",
    "stop_loss",
    "max_duration",
    "margin_warning",
    "reduce",
    "fees",
    "maker",
    "slippage",
    "fill",
    "at",
    "limit",
    "post_only",
    "confidence",
    "true",
    "close",
    "close@4h",
    "rsi(close, 14)",
    "macd(close)",
    "m.signal",
    "bars_held",
    "position",
    "highest(high, 5)",
    "bars_since(close > open)",
    "x[-1]",
    "close[1]",
    "ETH-USD",
    "hyperliquid",
    "sim",
    "fixed_usd(1 USD)",
    "market_maker",
    '"../portfolio.rules"',
    '"missing.rules"',
    '"a.txt"',
    "daily_reset",
    "00:00",
    "UTC",
    "on drawdown 5% halt",
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(SOURCES)))
    pieces = PIECE.findall(SOURCES[name])
    for _ in range(draw(st.integers(1, 3))):
        if not pieces:
            break
        kind = draw(st.sampled_from(["delete", "insert", "swap", "duplicate", "replace"]))
        at = draw(st.integers(0, len(pieces) - 1))
        if kind == "delete":
            del pieces[at]
        elif kind == "insert":
            pieces.insert(at, draw(st.sampled_from(VOCABULARY)))
        elif kind == "replace":
            pieces[at] = draw(st.sampled_from(VOCABULARY))
        elif kind == "duplicate":
            pieces.insert(at, pieces[at])
        elif at + 1 < len(pieces):
            pieces[at], pieces[at + 1] = pieces[at + 1], pieces[at]
    text = "".join(pieces)
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return name, text


@pytest.mark.slow
@settings(
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(case=mutated())
def test_mutated_examples_compile_or_fail_with_a_located_error(case, lang_registry) -> None:  # type: ignore[no-untyped-def]
    name, text = case
    filename = str(EXAMPLES / name) if name != "portfolio.rules" else str(REPO / "rules" / name)
    try:
        result = compile_text(text, lang_registry, filename=filename)
    except RuleError as err:
        errors = err.errors if isinstance(err, RuleErrors) else [err]
        for error in errors:
            assert error.file is not None, error.render()
            assert error.line is not None, error.render()
            assert error.column is not None, error.render()
            assert error.message, error.render()
            assert "Unexpected" not in error.message, error.render()
            error.render()
        return
    assert isinstance(result, CompiledRules)
