"""Lark parse tree → typed AST (:mod:`sparkstacker.lang.ast`), one method per grammar rule."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.tree import Meta
from sparkstacker.lang import ast


class _BadLiteral(Exception):
    """A token the grammar accepted but that is not a usable value (raised inside the visitor)."""

    def __init__(self, message: str, span: ast.Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


def _quote(text: str) -> str:
    return text[1:-1]


@v_args(meta=True)
class AstBuilder(Transformer[Token, ast.RuleFile]):
    """Builds frozen AST nodes; every node gets the span lark recorded for it."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    # -- spans ----------------------------------------------------------------------------
    def _span(self, meta: Meta) -> ast.Span:
        if getattr(meta, "empty", True):
            return ast.Span(self.file, 1, 1, 1, 2)
        return ast.Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, token: Token) -> ast.Span:
        line = token.line or 1
        column = token.column or 1
        end_line = token.end_line or line
        end_column = token.end_column or column + len(token)
        return ast.Span(self.file, line, column, end_line, end_column)

    # -- file -----------------------------------------------------------------------------
    def start(self, meta: Meta, items: list[Any]) -> ast.RuleFile:
        return ast.RuleFile(tuple(items), file=self.file, span=self._span(meta))

    def import_stmt(self, meta: Meta, children: list[Token]) -> ast.Import:
        return ast.Import(_quote(children[0]), span=self._span(meta))

    def strategy(self, meta: Meta, children: list[Any]) -> ast.Strategy:
        name_tok, uses, *body = children
        uses_name, uses_span = (None, self._span(meta)) if uses is None else uses
        return ast.Strategy(
            name=_quote(name_tok),
            uses=uses_name,
            body=tuple(body),
            span=self._span(meta),
            name_span=self._tok(name_tok),
            uses_span=uses_span,
        )

    def uses(self, meta: Meta, children: list[Token]) -> tuple[str, ast.Span]:
        return str(children[0]), self._tok(children[0])

    # -- statements -----------------------------------------------------------------------
    def market(self, meta: Meta, children: list[Any]) -> ast.Market:
        symbol, venue = children
        return ast.Market(symbol, str(venue), span=self._span(meta), venue_span=self._tok(venue))

    def symbol(self, meta: Meta, children: list[Token]) -> str:
        text = str(children[0])
        return _quote(text) if text.startswith('"') else text

    def timeframe(self, meta: Meta, children: list[Any]) -> ast.TimeframeStmt:
        return ast.TimeframeStmt(children[0], span=self._span(meta))

    def let_stmt(self, meta: Meta, children: list[Any]) -> ast.Let:
        name, value = children
        return ast.Let(str(name), value, span=self._span(meta), name_span=self._tok(name))

    def side(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def enter(self, meta: Meta, children: list[Any]) -> ast.Enter:
        side, condition, confidence, order, post_only = children
        kind, price, explicit = ("market", None, False) if order is None else order
        return ast.Enter(
            side=side,
            condition=condition,
            confidence=confidence,
            order=kind,
            limit_price=price,
            explicit_order=explicit,
            post_only=post_only is not None,
            span=self._span(meta),
        )

    def confidence(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    def at_market(self, meta: Meta, children: list[Any]) -> tuple[str, None, bool]:
        return ("market", None, True)

    def at_limit(self, meta: Meta, children: list[Any]) -> tuple[str, Any, bool]:
        return ("limit", children[0], True)

    def post_only(self, meta: Meta, children: list[Any]) -> bool:
        return True

    def exit(self, meta: Meta, children: list[Any]) -> ast.Exit:
        side, condition = children
        return ast.Exit(side, condition, span=self._span(meta))

    def size(self, meta: Meta, children: list[Any]) -> ast.Size:
        return ast.Size(children[0], span=self._span(meta))

    def leverage(self, meta: Meta, children: list[Any]) -> ast.Leverage:
        return ast.Leverage(children[0], span=self._span(meta))

    # -- hedge ----------------------------------------------------------------------------
    def hedge(self, meta: Meta, children: list[Any]) -> ast.Hedge:
        return ast.Hedge(tuple(children), span=self._span(meta))

    def hedge_item(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    def hedge_ratio(self, meta: Meta, children: list[Any]) -> ast.HedgeRatio:
        return ast.HedgeRatio(children[0], span=self._span(meta))

    def hedge_leverage(self, meta: Meta, children: list[Any]) -> ast.HedgeLeverage:
        return ast.HedgeLeverage(children[0], span=self._span(meta))

    def hedge_venue(self, meta: Meta, children: list[Any]) -> ast.HedgeVenue:
        venue, market, account = children
        return ast.HedgeVenue(
            str(venue),
            market.symbol if market is not None else None,
            account.account if account is not None else None,
            span=self._span(meta),
            venue_span=self._tok(venue),
        )

    def hedge_market(self, meta: Meta, children: list[Any]) -> ast.HedgeMarket:
        return ast.HedgeMarket(children[0], span=self._span(meta))

    def hedge_account(self, meta: Meta, children: list[Token]) -> ast.HedgeAccount:
        return ast.HedgeAccount(_quote(children[0]), span=self._span(meta))

    def hedge_within(self, meta: Meta, children: list[Any]) -> ast.HedgeWithin:
        within, (action, retries) = children
        return ast.HedgeWithin(within, action, retries, span=self._span(meta))

    def unwind(self, meta: Meta, children: list[Any]) -> tuple[str, int]:
        return ("unwind", 0)

    def keep(self, meta: Meta, children: list[Any]) -> tuple[str, int]:
        return ("keep", 0)

    def retry(self, meta: Meta, children: list[Token]) -> tuple[str, int]:
        token = children[0]
        text = str(token).replace("_", "")
        if not text.isdigit():
            raise _BadLiteral(
                f"retry needs a whole number of attempts, got {token}", self._tok(token)
            )
        return ("retry", int(text))

    # -- risk -----------------------------------------------------------------------------
    def risk_inline(self, meta: Meta, children: list[Any]) -> ast.Risk:
        return ast.Risk(tuple(children), block=False, span=self._span(meta))

    def risk_block(self, meta: Meta, children: list[Any]) -> ast.Risk:
        return ast.Risk(tuple(children), block=True, span=self._span(meta))

    def risk_key(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def risk_item(self, meta: Meta, children: list[Any]) -> ast.RiskItem:
        key, value = children
        return ast.RiskItem(key, value, span=self._span(meta))

    def margin_warning(self, meta: Meta, children: list[Any]) -> ast.MarginWarningItem:
        level, (action, reduce) = children
        return ast.MarginWarningItem(level, action, reduce, span=self._span(meta))

    def close_hedge_if_profitable(self, meta: Meta, children: list[Any]) -> tuple[str, None]:
        return ("close_hedge_if_profitable", None)

    def close_all(self, meta: Meta, children: list[Any]) -> tuple[str, None]:
        return ("close_all", None)

    def reduce(self, meta: Meta, children: list[Any]) -> tuple[str, Any]:
        return ("reduce", children[0])

    # -- params ---------------------------------------------------------------------------
    def params(self, meta: Meta, children: list[Any]) -> ast.Params:
        return ast.Params(tuple(c for c in children if isinstance(c, ast.Param)), self._span(meta))

    def param(self, meta: Meta, children: list[Any]) -> ast.Param:
        name, value = children
        return ast.Param(str(name), value, span=self._span(meta))

    def word(self, meta: Meta, children: list[Token]) -> ast.Word:
        return ast.Word(str(children[0]), span=self._span(meta))

    def text(self, meta: Meta, children: list[Token]) -> ast.Text:
        return ast.Text(_quote(children[0]), span=self._span(meta))

    # -- settings -------------------------------------------------------------------------
    def fees(self, meta: Meta, children: list[Any]) -> ast.Fees:
        return ast.Fees(tuple(children), span=self._span(meta))

    def fee_side(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def fee(self, meta: Meta, children: list[Any]) -> ast.Fee:
        side, value = children
        return ast.Fee(side, value, span=self._span(meta))

    def slippage_fixed(self, meta: Meta, children: list[Any]) -> ast.Slippage:
        return ast.Slippage(value=children[0], span=self._span(meta))

    def slippage_model(self, meta: Meta, children: list[Any]) -> ast.Slippage:
        return ast.Slippage(model=children[0], span=self._span(meta))

    def fill_at(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def fill(self, meta: Meta, children: list[Any]) -> ast.Fill:
        return ast.Fill(children[0], span=self._span(meta))

    def initial_equity(self, meta: Meta, children: list[Any]) -> ast.InitialEquity:
        return ast.InitialEquity(children[0], span=self._span(meta))

    # -- portfolio ------------------------------------------------------------------------
    def portfolio(self, meta: Meta, children: list[Any]) -> ast.Portfolio:
        items = tuple(c for c in children if not isinstance(c, Token))
        return ast.Portfolio(items, span=self._span(meta))

    def portfolio_item(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    def max_gross_exposure(self, meta: Meta, children: list[Any]) -> ast.MaxGrossExposure:
        return ast.MaxGrossExposure(children[0], span=self._span(meta))

    def portfolio_max_leverage(self, meta: Meta, children: list[Any]) -> ast.PortfolioMaxLeverage:
        return ast.PortfolioMaxLeverage(children[0], span=self._span(meta))

    def metric(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def governor_action(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def timezone(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def governor_level(self, meta: Meta, children: list[Any]) -> ast.GovernorLevelItem:
        metric, threshold, action = children
        return ast.GovernorLevelItem(metric, threshold, action, span=self._span(meta))

    def daily_reset(self, meta: Meta, children: list[Any]) -> ast.DailyReset:
        time, zone = children
        return ast.DailyReset(str(time), zone, span=self._span(meta))

    def hysteresis(self, meta: Meta, children: list[Any]) -> ast.Hysteresis:
        return ast.Hysteresis(children[0], span=self._span(meta))

    # -- quantities -----------------------------------------------------------------------
    def _number(self, token: Token) -> Decimal:
        try:
            return Decimal(str(token).replace("_", ""))
        except InvalidOperation as exc:  # pragma: no cover - the NUMBER pattern excludes this
            raise _BadLiteral(f"{token} is not a number", self._tok(token)) from exc

    def unit(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def minus(self, meta: Meta, children: list[Token]) -> str:
        return "-"

    def quantity(self, meta: Meta, children: list[Any]) -> ast.Quantity:
        minus, number, unit = children
        value = self._number(number)
        if minus is not None:
            value = -value
        text = f"{'-' if minus else ''}{number}{_unit_suffix(unit)}"
        return ast.Quantity(value, unit, text, span=self._span(meta))

    def literal(self, meta: Meta, children: list[Any]) -> ast.Literal:
        number, unit = children
        value = self._number(number)
        span = self._span(meta)
        quantity = ast.Quantity(value, unit, f"{number}{_unit_suffix(unit)}", span=span)
        return ast.Literal(quantity, span=span)

    # -- expressions ----------------------------------------------------------------------
    def boolean(self, meta: Meta, children: list[Token]) -> ast.BoolLiteral:
        return ast.BoolLiteral(str(children[0]) == "true", span=self._span(meta))

    def name(self, meta: Meta, children: list[Token]) -> ast.Name:
        return ast.Name(str(children[0]), span=self._span(meta))

    def at_timeframe(self, meta: Meta, children: list[Any]) -> ast.AtTimeframe:
        name, literal = children
        return ast.AtTimeframe(str(name), literal.quantity, span=self._span(meta))

    def call(self, meta: Meta, children: list[Any]) -> ast.Call:
        func, *args = children
        args = [a for a in args if a is not None]
        return ast.Call(str(func), tuple(args), span=self._span(meta), name_span=self._tok(func))

    def positional_arg(self, meta: Meta, children: list[Any]) -> ast.Arg:
        return ast.Arg(None, children[0], span=self._span(meta))

    def named_arg(self, meta: Meta, children: list[Any]) -> ast.Arg:
        name, value = children
        return ast.Arg(str(name), value, span=self._span(meta))

    def attr(self, meta: Meta, children: list[Any]) -> ast.Attr:
        target, name = children
        return ast.Attr(target, str(name), span=self._span(meta))

    def index(self, meta: Meta, children: list[Any]) -> ast.Index:
        target, offset = children
        return ast.Index(target, offset, span=self._span(meta))

    def neg(self, meta: Meta, children: list[Any]) -> ast.Neg:
        return ast.Neg(children[0], span=self._span(meta))

    def add_op(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    mul_op = add_op
    compare_op = add_op
    direction = add_op

    def binary(self, meta: Meta, children: list[Any]) -> ast.Binary:
        left, op, right = children
        return ast.Binary(op, left, right, span=self._span(meta))

    def compare(self, meta: Meta, children: list[Any]) -> ast.Compare:
        left, op, right = children
        return ast.Compare(op, left, right, span=self._span(meta))

    def crosses(self, meta: Meta, children: list[Any]) -> ast.Crosses:
        left, direction, right = children
        return ast.Crosses(direction, left, right, span=self._span(meta))

    def and_(self, meta: Meta, children: list[Any]) -> ast.Logic:
        return ast.Logic("and", children[0], children[1], span=self._span(meta))

    def or_(self, meta: Meta, children: list[Any]) -> ast.Logic:
        return ast.Logic("or", children[0], children[1], span=self._span(meta))

    def not_(self, meta: Meta, children: list[Any]) -> ast.Not:
        return ast.Not(children[0], span=self._span(meta))


def _unit_suffix(unit: str | None) -> str:
    """How a unit is printed after its number: ``5%``, ``10x``, ``24h`` but ``10 bps``."""
    if unit is None:
        return ""
    if unit in ("%", "x", "s", "m", "h", "d", "w"):
        return unit
    return f" {unit}"


def tree_to_ast(tree: Tree[Token], file: str) -> ast.RuleFile:
    result = AstBuilder(file).transform(tree)
    assert isinstance(result, ast.RuleFile)
    return result
