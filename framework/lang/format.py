"""Canonical formatting: AST (+ the comments of the source) → text.

The output re-parses to the same AST (spans aside): parentheses are printed exactly where the
tree needs them, quantities keep the digits they were written with, comments keep their place
before or after the statement they belonged to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparkstacker.lang import ast

INDENT = "    "
SYMBOL_RE = re.compile(r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)+$")

# precedence levels, lowest first
OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, POSTFIX, ATOM = range(9)


# ---- expressions -------------------------------------------------------------------------------


def _precedence(expr: ast.Expr) -> int:
    if isinstance(expr, ast.Logic):
        return OR if expr.op == "or" else AND
    if isinstance(expr, ast.Not):
        return NOT
    if isinstance(expr, ast.Compare | ast.Crosses):
        return COMPARE
    if isinstance(expr, ast.Binary):
        return SUM if expr.op in "+-" else PRODUCT
    if isinstance(expr, ast.Neg):
        return UNARY
    if isinstance(expr, ast.Index | ast.Attr):
        return POSTFIX
    return ATOM


def _child(expr: ast.Expr, minimum: int) -> str:
    text = expr_text(expr)
    return text if _precedence(expr) >= minimum else f"({text})"


def expr_text(expr: ast.Expr) -> str:
    """One expression in canonical form."""
    if isinstance(expr, ast.Literal):
        return expr.quantity.text
    if isinstance(expr, ast.BoolLiteral):
        return "true" if expr.value else "false"
    if isinstance(expr, ast.Name):
        return expr.name
    if isinstance(expr, ast.AtTimeframe):
        return f"{expr.name}@{expr.timeframe.text}"
    if isinstance(expr, ast.Call):
        return call_text(expr)
    if isinstance(expr, ast.Attr):
        return f"{_child(expr.target, POSTFIX)}.{expr.name}"
    if isinstance(expr, ast.Index):
        return f"{_child(expr.target, POSTFIX)}[{expr_text(expr.offset)}]"
    if isinstance(expr, ast.Neg):
        return f"-{_child(expr.operand, UNARY)}"
    if isinstance(expr, ast.Not):
        return f"not {_child(expr.operand, NOT)}"
    if isinstance(expr, ast.Logic | ast.Binary):
        level = _precedence(expr)
        return f"{_child(expr.left, level)} {expr.op} {_child(expr.right, level + 1)}"
    if isinstance(expr, ast.Compare):
        return f"{_child(expr.left, SUM)} {expr.op} {_child(expr.right, SUM)}"
    if isinstance(expr, ast.Crosses):
        return f"{_child(expr.left, SUM)} crosses {expr.direction} {_child(expr.right, SUM)}"
    raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover


def call_text(call: ast.Call) -> str:
    args = [
        expr_text(a.value) if a.name is None else f"{a.name}: {expr_text(a.value)}"
        for a in call.args
    ]
    return f"{call.func}({', '.join(args)})"


def _symbol(symbol: str) -> str:
    return symbol if SYMBOL_RE.match(symbol) else f'"{symbol}"'


# ---- statements --------------------------------------------------------------------------------


def statement_text(stmt: ast.Statement | ast.TopItem) -> str:
    """One single-line statement (blocks are printed by :class:`Printer`)."""
    if isinstance(stmt, ast.Import):
        return f'import "{stmt.path}"'
    if isinstance(stmt, ast.Let):
        return f"let {stmt.name} = {expr_text(stmt.value)}"
    if isinstance(stmt, ast.Market):
        return f"market {_symbol(stmt.symbol)} on {stmt.venue}"
    if isinstance(stmt, ast.TimeframeStmt):
        return f"timeframe {stmt.value.text}"
    if isinstance(stmt, ast.Enter):
        text = f"enter {stmt.side} when {expr_text(stmt.condition)}"
        if stmt.confidence is not None:
            text += f" confidence {expr_text(stmt.confidence)}"
        if stmt.order == "limit" and stmt.limit_price is not None:
            text += f" at limit {expr_text(stmt.limit_price)}"
        elif stmt.explicit_order:
            text += " at market"
        if stmt.post_only:
            text += " post_only"
        return text
    if isinstance(stmt, ast.Exit):
        side = f" {stmt.side}" if stmt.side else ""
        return f"exit{side} when {expr_text(stmt.condition)}"
    if isinstance(stmt, ast.Size):
        return f"size {call_text(stmt.call)}"
    if isinstance(stmt, ast.Leverage):
        return f"leverage {stmt.value.text}"
    if isinstance(stmt, ast.Hedge):
        return "hedge " + ", ".join(_hedge_item(i) for i in stmt.items)
    if isinstance(stmt, ast.Risk):
        return "risk " + ", ".join(risk_item_text(i) for i in stmt.items)
    if isinstance(stmt, ast.Fees):
        return "fees " + " ".join(f"{f.side} {f.value.text}" for f in stmt.items)
    if isinstance(stmt, ast.Slippage):
        if stmt.model is not None:
            return f"slippage {call_text(stmt.model)}"
        assert stmt.value is not None
        return f"slippage {stmt.value.text}"
    if isinstance(stmt, ast.Fill):
        return f"fill at {stmt.at}"
    if isinstance(stmt, ast.InitialEquity):
        return f"initial_equity {stmt.value.text}"
    raise TypeError(f"not a single-line statement: {stmt!r}")  # pragma: no cover


def _hedge_item(item: ast.HedgeItem) -> str:
    if isinstance(item, ast.HedgeRatio):
        return f"ratio {item.value.text}"
    if isinstance(item, ast.HedgeLeverage):
        return f"leverage {item.value.text}"
    if isinstance(item, ast.HedgeVenue):
        text = f"on {item.venue}"
        if item.symbol is not None:
            text += f" market {_symbol(item.symbol)}"
        if item.account is not None:
            text += f' account "{item.account}"'
        return text
    if isinstance(item, ast.HedgeMarket):
        return f"market {_symbol(item.symbol)}"
    if isinstance(item, ast.HedgeAccount):
        return f'account "{item.account}"'
    action = f"retry {item.retries}" if item.action == "retry" else item.action
    return f"within {item.within.text} else {action}"


def risk_item_text(item: ast.RiskItem | ast.MarginWarningItem) -> str:
    if isinstance(item, ast.RiskItem):
        return f"{item.key} {item.value.text}"
    action = f"reduce {item.reduce.text}" if item.reduce is not None else item.action
    return f"margin_warning {item.level.text} {action}"


def param_text(param: ast.Param) -> str:
    value = param.value
    if isinstance(value, ast.Quantity):
        shown = value.text
    elif isinstance(value, ast.Word):
        shown = value.word
    elif isinstance(value, ast.Text):
        shown = f'"{value.text}"'
    else:
        shown = "true" if value.value else "false"
    return f"{param.name} {shown}"


def portfolio_item_text(item: ast.PortfolioItem) -> str:
    if isinstance(item, ast.MaxGrossExposure):
        return f"max_gross_exposure {item.value.text}"
    if isinstance(item, ast.PortfolioMaxLeverage):
        return f"max_leverage {item.value.text}"
    if isinstance(item, ast.GovernorLevelItem):
        return f"on {item.metric} {item.threshold.text} {item.action}"
    if isinstance(item, ast.DailyReset):
        zone = f" {item.timezone}" if item.timezone else ""
        return f"daily_reset {item.time}{zone}"
    return f"hysteresis {item.value.text}"


# ---- comments ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comment:
    line: int
    text: str
    own_line: bool  # nothing but the comment on its line


def find_comments(text: str) -> list[Comment]:
    """``#`` and ``//`` comments outside quoted text, in order."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        in_string = False
        for index, char in enumerate(line):
            if char == '"':
                in_string = not in_string
            elif in_string:
                continue
            elif char == "#" or line.startswith("//", index):
                found.append(
                    Comment(number, line[index:].rstrip(), own_line=not line[:index].strip())
                )
                break
    return found


class Printer:
    """Prints a RuleFile, placing each comment before or after the statement it was near."""

    def __init__(self, comments: list[Comment], source_lines: list[str]) -> None:
        self.lines: list[str] = []
        self.comments = list(comments)
        self.source = source_lines

    def _blank_before(self, line: int) -> bool:
        """Was there an empty line right above ``line`` (or above its leading comments)?"""
        number = line - 1
        while number >= 1 and any(c.line == number and c.own_line for c in self.comments):
            number -= 1
        return 1 <= number <= len(self.source) and not self.source[number - 1].strip()

    def _leading(self, line: int, depth: int) -> None:
        while self.comments and self.comments[0].line < line:
            comment = self.comments.pop(0)
            self.lines.append(INDENT * depth + comment.text)
            after = comment.line + 1
            if after < line and after <= len(self.source) and not self.source[after - 1].strip():
                self.lines.append("")

    def _trailing(self, line: int) -> str:
        if self.comments and self.comments[0].line == line and not self.comments[0].own_line:
            return "  " + self.comments.pop(0).text
        return ""

    def _emit(self, text: str, span: ast.Span, depth: int, *, first: bool, next_line: int) -> None:
        """``next_line``: where the next sibling (or the closing brace) starts; a comment at
        the end of a line belongs to the last thing written on that line."""
        if not first and self._blank_before(span.line) and self.lines and self.lines[-1]:
            self.lines.append("")
        self._leading(span.line, depth)
        trailing = self._trailing(span.end_line) if next_line > span.end_line else ""
        self.lines.append(INDENT * depth + text + trailing)

    def file(self, tree: ast.RuleFile) -> str:
        previous: ast.TopItem | None = None
        for position, item in enumerate(tree.items):
            block = isinstance(item, ast.Strategy | ast.Portfolio)
            if previous is not None and (
                block
                or isinstance(previous, ast.Strategy | ast.Portfolio)
                or _kind(previous) != _kind(item)
                or self._blank_before(item.span.line)
            ):
                self.lines.append("")
            if isinstance(item, ast.Strategy):
                self._strategy(item)
            elif isinstance(item, ast.Portfolio):
                self._block("portfolio", item.span, item.items, portfolio_item_text, 0)
            else:
                following = tree.items[position + 1] if position + 1 < len(tree.items) else None
                alone = following is None or following.span.line > item.span.end_line
                self._leading(item.span.line, 0)
                trailing = self._trailing(item.span.end_line) if alone else ""
                self.lines.append(statement_text(item) + trailing)
            previous = item
        self._leading(10**9, 0)
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines) + "\n"

    def _strategy(self, strategy: ast.Strategy) -> None:
        self._leading(strategy.span.line, 0)
        uses = f" uses {strategy.uses}" if strategy.uses else ""
        header = f'strategy "{strategy.name}"{uses} {{'
        body = strategy.body
        alone = not body or body[0].span.line > strategy.span.line
        self.lines.append(header + (self._trailing(strategy.span.line) if alone else ""))
        for index, stmt in enumerate(body):
            first = index == 0
            if isinstance(stmt, ast.Risk) and stmt.block:
                if not first and self._blank_before(stmt.span.line):
                    self.lines.append("")
                self._block("risk", stmt.span, stmt.items, risk_item_text, 1)
                continue
            if isinstance(stmt, ast.Params):
                if not first and self._blank_before(stmt.span.line):
                    self.lines.append("")
                self._block("params", stmt.span, stmt.items, param_text, 1)
                continue
            text = statement_text(stmt)
            following = body[index + 1] if index + 1 < len(body) else None
            if _swallows_market(stmt, following):
                text += ";"
            next_line = following.span.line if following else strategy.span.end_line
            self._emit(text, stmt.span, 1, first=first, next_line=next_line)
        self._leading(strategy.span.end_line, 1)
        self.lines.append("}" + self._trailing(strategy.span.end_line))

    def _block(
        self,
        keyword: str,
        span: ast.Span,
        items: tuple[Any, ...],
        render: Callable[[Any], str],
        depth: int,
    ) -> None:
        self._leading(span.line, depth)
        alone = not items or items[0].span.line > span.line
        trailing = self._trailing(span.line) if alone else ""
        self.lines.append(INDENT * depth + f"{keyword} {{" + trailing)
        for index, item in enumerate(items):
            next_line = items[index + 1].span.line if index + 1 < len(items) else span.end_line
            self._emit(render(item), item.span, depth + 1, first=index == 0, next_line=next_line)
        self._leading(span.end_line, depth + 1)
        self.lines.append(INDENT * depth + "}" + self._trailing(span.end_line))


def _kind(item: ast.TopItem) -> str:
    """Top-level items of one kind stay together; a blank line separates kinds."""
    if isinstance(item, ast.Fees | ast.Slippage | ast.Fill | ast.InitialEquity):
        return "setting"
    return type(item).__name__


def _swallows_market(stmt: ast.Statement, following: ast.Statement | None) -> bool:
    """``hedge …, on x`` directly followed by ``market …`` needs a ``;`` to stay two lines."""
    return (
        isinstance(stmt, ast.Hedge)
        and isinstance(following, ast.Market)
        and isinstance(stmt.items[-1], ast.HedgeVenue)
        and stmt.items[-1].symbol is None
        and stmt.items[-1].account is None
    )


def format_tree(tree: ast.RuleFile, source: str = "") -> str:
    return Printer(find_comments(source), source.splitlines()).file(tree)


def format_text(text: str, filename: str = "<rules>") -> str:
    """Canonical formatting of one rule file (raises RuleError if it does not parse)."""
    from sparkstacker.lang.parser import parse

    return format_tree(parse(text, filename), text)
