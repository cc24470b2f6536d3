"""The grammar and the typed AST: LALR, built once, spans on every node, frozen nodes."""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal

import pytest
from langkit import EXAMPLES, strategy
from lark import Lark
from sparkstacker.lang import ast, parse
from sparkstacker.lang.parser import lark_parser


def test_the_parser_is_lalr_built_once_from_the_packaged_grammar() -> None:
    first = lark_parser()
    assert first is lark_parser()
    assert first.options.parser == "lalr"
    assert first.options.propagate_positions is True


def test_the_only_grammar_conflict_is_the_documented_hedge_market_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from lark import logger

    logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG, logger="lark"):
            Lark.open_from_package(
                "sparkstacker.lang",
                "grammar.lark",
                parser="lalr",
                debug=True,
                maybe_placeholders=True,
            )
    finally:
        logger.setLevel(logging.WARNING)
    conflicts = [r.getMessage() for r in caplog.records if "conflict" in r.getMessage().lower()]
    assert conflicts == ["Shift/Reduce conflict for terminal MARKET: (resolving as shift)"]


def test_market_right_after_hedge_on_venue_is_the_hedge_market() -> None:
    tree = parse(
        strategy("hedge ratio 20%, on hyperliquid market BTC-USD\nenter long when close > 1")
    )
    hedge = tree.strategies[0].body[2]
    assert isinstance(hedge, ast.Hedge)
    assert hedge.items[0] == ast.HedgeRatio(ast.Quantity(Decimal(20), "%", "20%"))
    assert hedge.items[1] == ast.HedgeVenue("hyperliquid", "BTC-USD", None)


def test_every_node_has_a_span_and_is_frozen() -> None:
    text = (EXAMPLES / "multi_timeframe.rules").read_text()
    tree = parse(text, "multi.rules")
    count = 0

    def walk(node: object) -> None:
        nonlocal count
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            if hasattr(node, "span") and not isinstance(node, ast.Span):
                span = node.span
                assert span.file == "multi.rules"
                assert 1 <= span.line <= span.end_line
                count += 1
                with pytest.raises(dataclasses.FrozenInstanceError):
                    node.span = span  # type: ignore[misc]
            for item in dataclasses.fields(node):
                walk(getattr(node, item.name))
        elif isinstance(node, tuple):
            for item in node:
                walk(item)

    walk(tree)
    assert count > 150


def test_spans_point_at_the_source() -> None:
    text = (
        'strategy "s" {\n  market ETH-USD on hyperliquid\n'
        "  enter long when rsi(close, 14) < 30\n}\n"
    )
    tree = parse(text, "f.rules")
    enter = tree.strategies[0].body[1]
    assert isinstance(enter, ast.Enter)
    call = enter.condition.left  # type: ignore[union-attr]
    assert isinstance(call, ast.Call)
    assert (call.span.line, call.span.column, call.span.end_column) == (3, 19, 33)
    assert text.splitlines()[2][call.span.column - 1 : call.span.end_column - 1] == "rsi(close, 14)"


def test_units_lex_the_same_word_as_timeframe_or_duration() -> None:
    tree = parse(strategy("enter long when close > 1\nrisk max_duration 5m"))
    _, timeframe, _, risk = tree.strategies[0].body
    assert timeframe == ast.TimeframeStmt(ast.Quantity(Decimal(1), "h", "1h"))
    assert isinstance(risk, ast.Risk)
    assert risk.items[0] == ast.RiskItem("max_duration", ast.Quantity(Decimal(5), "m", "5m"))
    # a unit word is still a plain name where a name is expected
    tree = parse(strategy("let m = close\nlet x = m\nenter long when x > 1"))
    lets = [s for s in tree.strategies[0].body if isinstance(s, ast.Let)]
    assert [let.name for let in lets] == ["m", "x"]


def test_comments_of_both_styles_are_ignored() -> None:
    with_comments = "# top\nlet a = close // trailing\n// own line\nlet b = open # end\n"
    assert parse(with_comments) == parse("let a = close\nlet b = open\n")


def test_precedence_and_associativity() -> None:
    tree = parse("let a = 1 - 2 - 3 * 4 > 0 and not b < 1 or c > 2")
    expr = tree.items[0].value  # type: ignore[union-attr]
    assert isinstance(expr, ast.Logic)
    assert expr.op == "or"
    left = expr.left
    assert isinstance(left, ast.Logic)
    assert left.op == "and"
    assert isinstance(left.right, ast.Not)
    assert isinstance(left.right.operand, ast.Compare)
    sub = left.left.left  # type: ignore[union-attr]
    # (1 - 2) - (3 * 4)
    assert isinstance(sub, ast.Binary)
    assert sub.op == "-"
    assert isinstance(sub.left, ast.Binary)
    assert sub.left.op == "-"
    assert isinstance(sub.right, ast.Binary)
    assert sub.right.op == "*"


def test_numbers_keep_their_digits_and_underscores() -> None:
    tree = parse("initial_equity 10_000.50 USD")
    item = tree.items[0]
    assert isinstance(item, ast.InitialEquity)
    assert item.value.value == Decimal("10000.50")
    assert item.value.text == "10_000.50 USD"


def test_ast_equality_ignores_spans_only() -> None:
    assert parse("let a = close + 1") == parse("\n\n   let   a=close+1")
    assert parse("let a = close + 1") != parse("let a = close + 2")
