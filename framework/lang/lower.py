"""Expressions → DAG nodes, checking names, units, timeframes and look-ahead on the way.

One :class:`Lowerer` serves one strategy (its timeframe, its ``let`` bindings). Every problem
becomes a located message in the shared :class:`Diagnostics`; a sub-expression with an error
lowers to ``None`` and its parents stay quiet, so one mistake gives one message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sparkstacker.indicators import IndicatorSpec
from sparkstacker.lang import ast
from sparkstacker.lang.dag import Dag
from sparkstacker.lang.diagnostics import Diagnostics
from sparkstacker.lang.format import expr_text
from sparkstacker.lang.program import ExplainTree
from sparkstacker.lang.units import DURATION_SECONDS, Unit, magnitude, unit_of
from sparkstacker.lang.units import expected as expected_words
from sparkstacker.model.timeframe import timeframe_seconds
from sparkstacker.registry import Registry, suggest

BAR_FIELDS = {
    "open": Unit.PRICE,
    "high": Unit.PRICE,
    "low": Unit.PRICE,
    "close": Unit.PRICE,
    "volume": Unit.VOLUME,
    "funding": Unit.FRACTION,
}
STATE_FIELDS = {
    "position": Unit.VOLUME,
    "entry_price": Unit.PRICE,
    "bars_held": Unit.BARS,
    "unrealized_pnl": Unit.MONEY,
    "equity": Unit.MONEY,
    "funding_rate": Unit.FRACTION,
    "mark_price": Unit.PRICE,
}
FUNCTIONS = ("highest", "lowest", "abs", "min", "max", "change", "bars_since")
RESERVED = (
    set(BAR_FIELDS) | set(STATE_FIELDS) | set(FUNCTIONS) | {"true", "false", "and", "or", "not"}
)
PRICE_LIKE_GROUPS = {"overlap studies", "price transform"}
MAX_HISTORY = 100_000


@dataclass(frozen=True)
class Value:
    """A lowered expression: its node (None for a multi-output call) and its unit."""

    node: int | None
    unit: Unit
    literal: bool = False
    outputs: tuple[str, ...] = ()
    indicator: int | None = None
    name: str = ""


@dataclass
class LetDef:
    let: ast.Let
    scope: str  # strategy | file | import


@dataclass
class Lowerer:
    dag: Dag
    base: str
    registry: Registry
    diag: Diagnostics
    lets: Mapping[str, LetDef]
    cache: dict[str, Value | None] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    node_of: dict[int, int] = field(default_factory=dict)
    _active: list[str] = field(default_factory=list)

    # ---- entry points -------------------------------------------------------------------
    def condition(self, expr: ast.Expr, what: str) -> tuple[int, ExplainTree] | None:
        """A rule condition: must be true/false and must depend on data or state."""
        value = self._single_expr(expr)
        if value is None:
            return None
        if value.unit is not Unit.BOOL:
            self.diag.error(
                f"the condition of `{what}` is {_words(value.unit)}, not true/false",
                expr.span,
                hint="compare it with something: rsi(close, 14) < 30, close > ema(close, 50)",
            )
            return None
        assert value.node is not None
        node = self.dag.align(value.node, self.base)
        if self.dag[node].is_const:
            verdict = "true" if self.dag[node].value == 1.0 else "false"
            self.diag.error(
                f"this condition is always {verdict}, whatever the market does",
                expr.span,
                hint="compare a series (close, an indicator, bars_held, …) with something",
            )
            return None
        return node, self.explain(expr)

    def number(self, expr: ast.Expr, what: str, units: tuple[Unit, ...]) -> int | None:
        """A per-bar number (confidence, limit price) in one of ``units``."""
        value = self._single_expr(expr)
        if value is None:
            return None
        if value.unit not in (*units, Unit.ANY):
            expected = " or ".join(expected_words(u) for u in units)
            self.diag.error(f"{what} must be {expected}, got {_words(value.unit)}", expr.span)
            return None
        assert value.node is not None
        return self.dag.align(value.node, self.base)

    # ---- expressions --------------------------------------------------------------------
    def expr(self, expr: ast.Expr) -> Value | None:
        value = self._lower(expr)
        if value is not None and value.node is not None:
            self.node_of[id(expr)] = value.node
        return value

    def _lower(self, expr: ast.Expr) -> Value | None:
        if isinstance(expr, ast.Literal):
            return self._literal(expr.quantity, expr.span)
        if isinstance(expr, ast.BoolLiteral):
            return Value(self.dag.const(1.0 if expr.value else 0.0), Unit.BOOL, literal=True)
        lower = _LOWER_BY_NODE.get(type(expr))
        if lower is None:  # pragma: no cover
            raise TypeError(f"not an expression: {expr!r}")
        return lower(self, expr)

    def _literal(self, quantity: ast.Quantity, span: ast.Span) -> Value | None:
        unit = unit_of(quantity.unit)
        if unit is Unit.LEVERAGE:
            self.diag.error(
                f"{quantity} is a leverage; it has no meaning inside an expression",
                span,
                hint="set leverage with its own line: leverage 10x",
            )
            return None
        return Value(
            self.dag.const(float(magnitude(quantity.value, quantity.unit))), unit, literal=True
        )

    def _name(self, expr: ast.Name) -> Value | None:
        name = expr.name
        if name in self.lets:
            return self._let(name, expr.span)
        if name in BAR_FIELDS:
            return Value(self.dag.field(name, self.base), BAR_FIELDS[name], name=name)
        if name in STATE_FIELDS:
            return Value(self.dag.state(name, self.base), STATE_FIELDS[name], name=name)
        if name in FUNCTIONS or name in self.registry.indicators:
            self.diag.error(
                f"{name} is a function; call it with its arguments",
                expr.span,
                hint=f"for example {name}(close, 14)" if name not in FUNCTIONS else None,
            )
            return None
        pool = list(self.lets) + list(BAR_FIELDS) + list(STATE_FIELDS)
        close = suggest(name, pool)
        hint = (
            f"did you mean {' or '.join(repr(c) for c in close)}?"
            if close
            else ("define it first with `let " + name + " = …`")
        )
        self.diag.error(
            f"unknown name {name!r}: not a let binding, bar field (open high low close volume "
            "funding) or state (position entry_price bars_held unrealized_pnl equity "
            "funding_rate mark_price)",
            expr.span,
            hint=hint,
        )
        return None

    def _let(self, name: str, span: ast.Span) -> Value | None:
        self.used.add(name)
        if name in self.cache:
            return self.cache[name]
        if name in self._active:
            chain = " → ".join([*self._active[self._active.index(name) :], name])
            self.diag.error(f"let {name} refers to itself ({chain})", span)
            return None
        self._active.append(name)
        try:
            value = self.expr(self.lets[name].let.value)
        finally:
            self._active.pop()
        if value is not None:
            value = Value(
                value.node, value.unit, value.literal, value.outputs, value.indicator, name
            )
        self.cache[name] = value
        return value

    def _at_timeframe(self, expr: ast.AtTimeframe) -> Value | None:
        if expr.name not in BAR_FIELDS or expr.name == "funding":
            self.diag.error(
                f"@ picks a bar field of a higher timeframe; {expr.name!r} is not one",
                expr.span,
                hint="use open, high, low, close or volume, e.g. close@4h or rsi(close@4h, 14)",
            )
            return None
        timeframe = self._timeframe(expr.timeframe, expr.span)
        if timeframe is None:
            return None
        return Value(self.dag.field(expr.name, timeframe), BAR_FIELDS[expr.name], name=expr.name)

    def _timeframe(self, quantity: ast.Quantity, span: ast.Span) -> str | None:
        text = f"{quantity.value}{quantity.unit or ''}"
        if quantity.unit not in DURATION_SECONDS or quantity.value != quantity.value.to_integral():
            self.diag.error(f"{quantity} is not a timeframe; use 1m, 5m, 15m, 1h, 4h or 1d", span)
            return None
        seconds = timeframe_seconds(text)
        base = timeframe_seconds(self.base)
        if seconds < base or seconds % base:
            self.diag.error(
                f"{text} is not a whole multiple of the strategy's timeframe {self.base}",
                span,
                hint="only equal or longer timeframes can be read: their closed bars are "
                "known at every bar of the strategy's timeframe",
            )
            return None
        return self.base if seconds == base else text

    # ---- calls --------------------------------------------------------------------------
    def _call(self, expr: ast.Call) -> Value | None:
        func = expr.func
        if func in FUNCTIONS:
            return self._function(expr)
        if func in self.registry.indicators:
            return self._indicator(expr, self.registry.indicators.get(func))
        if func in BAR_FIELDS or func in STATE_FIELDS:
            self.diag.error(
                f"{func} is a series, not a function",
                expr.name_span,
                hint=f"the value n bars ago is written {func}[n], e.g. {func}[1]",
            )
            return None
        close = suggest(func, [*FUNCTIONS, *self.registry.indicators.names()])
        hint = (
            f"did you mean {' or '.join(repr(c) for c in close)}?"
            if close
            else ("list the installed indicators with `spark-stacker indicators`")
        )
        self.diag.error(f"unknown indicator or function {func!r}", expr.name_span, hint=hint)
        return None

    def _indicator(self, expr: ast.Call, spec: IndicatorSpec) -> Value | None:
        series: list[tuple[ast.Arg, Value]] = []
        numbers: list[float] = []
        named_numbers: dict[str, float] = {}
        named_series: dict[str, tuple[ast.Arg, Value]] = {}
        input_names = [i.name for i in spec.inputs]
        param_names = set(spec.param_names) | {
            alias for p in spec.params for alias in getattr(p, "aliases", ())
        }
        ok = True
        for arg in expr.args:
            constant = _constant_number(arg.value)
            if isinstance(arg.value, ast.Literal) and constant is None:
                self.diag.error(
                    f"{spec.name} parameters are plain numbers; drop the unit of "
                    f"{arg.value.quantity}",
                    arg.value.span,
                    hint=_signature(spec),
                )
                ok = False
                continue
            if arg.name is None:
                if constant is None:
                    if numbers:
                        self.diag.error(
                            f"{spec.name}: input series come before the numbers",
                            arg.span,
                            hint=_signature(spec),
                        )
                        ok = False
                        continue
                    value = self._series_arg(arg, spec)
                    if value is None:
                        ok = False
                        continue
                    series.append((arg, value))
                else:
                    numbers.append(constant)
            elif arg.name in input_names:
                value = self._series_arg(arg, spec)
                if value is None:
                    ok = False
                    continue
                named_series[arg.name] = (arg, value)
            elif arg.name in param_names:
                if constant is None:
                    self.diag.error(
                        f"{spec.name} parameter {arg.name} must be a plain number",
                        arg.value.span,
                        hint=_signature(spec),
                    )
                    ok = False
                    continue
                named_numbers[arg.name] = constant
            else:
                valid = [*input_names, *sorted(param_names)]
                close = suggest(arg.name, valid)
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.diag.error(
                    f"{spec.name} has no parameter {arg.name!r}",
                    arg.span,
                    hint=hint + _signature(spec),
                )
                ok = False
        if not ok:
            return None
        if len(series) > len(input_names):
            self.diag.error(
                f"{spec.name} takes {len(input_names)} input series "
                f"({', '.join(input_names) or 'none'}), got {len(series)}",
                expr.span,
                hint=_signature(spec),
            )
            return None
        bound: dict[str, tuple[ast.Arg | None, Value]] = {}
        for name, item in zip(input_names, series, strict=False):
            bound[name] = item
        for name, item in named_series.items():
            if name in bound:
                self.diag.error(f"{spec.name} input {name} is given twice", item[0].span)
                return None
            bound[name] = item
        try:
            params = spec.resolve_params(numbers, named_numbers)
        except ValueError as exc:
            self.diag.error(f"{exc}", expr.span, hint=_signature(spec))
            return None
        domains = {self.dag[v.node].domain for _, v in bound.values() if v.node is not None}
        domains.discard("")
        if len(domains) > 1:
            self.diag.error(
                f"the inputs of {spec.name} are on different timeframes "
                f"({', '.join(sorted(domains))})",
                expr.span,
                hint="give every input the same @timeframe, e.g. atr(high@4h, low@4h, close@4h)",
            )
            return None
        domain = domains.pop() if domains else self.base
        inputs: dict[str, int] = {}
        first_unit = Unit.ANY
        for spec_input in spec.inputs:
            if spec_input.name in bound:
                value = bound[spec_input.name][1]
                assert value.node is not None
                inputs[spec_input.name] = value.node
            elif spec_input.default is not None:
                inputs[spec_input.name] = self.dag.field(spec_input.default, domain)
                value = Value(None, BAR_FIELDS.get(spec_input.default, Unit.ANY))
            else:
                self.diag.error(
                    f"{spec.name} needs the input series {spec_input.name}",
                    expr.span,
                    hint=_signature(spec),
                )
                return None
            if spec_input is spec.inputs[0]:
                first_unit = value.unit
        call = self.dag.indicator(spec, params, inputs, domain)
        unit = first_unit if spec.group.lower() in PRICE_LIKE_GROUPS else Unit.ANY
        if unit is Unit.BOOL:
            unit = Unit.ANY
        if len(spec.outputs) == 1:
            return Value(self.dag.output(call, spec.outputs[0]), unit, name=spec.name)
        return Value(None, unit, outputs=spec.outputs, indicator=call, name=spec.name)

    def _series_arg(self, arg: ast.Arg, spec: IndicatorSpec) -> Value | None:
        value = self.expr(arg.value)
        if value is None:
            return None
        value = self._single(value, arg.value)
        if value is None:
            return None
        if self._stateful(value, arg.value, f"an input of {spec.name}"):
            return None
        if value.unit is Unit.DURATION:
            self.diag.error("a duration is not a series", arg.value.span, hint=_signature(spec))
            return None
        return value

    def _function(self, expr: ast.Call) -> Value | None:
        func = expr.func
        for arg in expr.args:
            if arg.name is not None:
                self.diag.error(f"{func} takes no named arguments", arg.span)
                return None
        args = [a.value for a in expr.args]
        arity = {
            "highest": (2, 2),
            "lowest": (2, 2),
            "abs": (1, 1),
            "change": (1, 2),
            "bars_since": (1, 1),
            "min": (2, 16),
            "max": (2, 16),
        }[func]
        if not arity[0] <= len(args) <= arity[1]:
            usage = {
                "highest": "highest(high, 20)",
                "lowest": "lowest(low, 20)",
                "abs": "abs(change(close, 1))",
                "change": "change(close) or change(close, 5)",
                "bars_since": "bars_since(close > open)",
                "min": "min(a, b, …)",
                "max": "max(a, b, …)",
            }[func]
            count = f"{arity[0]}" if arity[0] == arity[1] else f"{arity[0]} to {arity[1]}"
            self.diag.error(
                f"{func} takes {count} arguments, got {len(args)}", expr.span, hint=f"write {usage}"
            )
            return None
        if func in ("highest", "lowest", "change"):
            return self._windowed(func, expr, args)
        if func == "bars_since":
            value = self._single_expr(args[0])
            if value is None:
                return None
            if value.unit is not Unit.BOOL:
                self.diag.error(
                    "bars_since needs a condition, e.g. bars_since(close > open)", args[0].span
                )
                return None
            if self._stateful(value, args[0], "bars_since"):
                return None
            assert value.node is not None
            return Value(self.dag.bars_since(value.node, self.base), Unit.BARS)
        if func == "abs":
            value = self._arith_operand(args[0], "abs")
            if value is None:
                return None
            assert value.node is not None
            return Value(self.dag.unary("abs", value.node), value.unit, value.literal)
        # min / max
        values = [self._arith_operand(a, func) for a in args]
        if any(v is None for v in values):
            return None
        result = values[0]
        assert result is not None
        for operand, value in zip(args[1:], values[1:], strict=True):
            assert value is not None
            unit = _additive_unit(result, value)
            if unit is None:
                self._unit_mismatch(func, result, value, operand.span)
                return None
            assert result.node is not None
            assert value.node is not None
            result = Value(
                self.dag.binary(func, result.node, value.node, self.base),
                unit,
                result.literal and value.literal,
            )
        return result

    def _windowed(self, func: str, expr: ast.Call, args: list[ast.Expr]) -> Value | None:
        value = self._arith_operand(args[0], func)
        if value is None:
            return None
        if len(args) == 2:
            bars = self._bar_count(args[1], func, minimum=1)
            if bars is None:
                return None
        else:
            bars = 1
        if self._stateful(value, args[0], func):
            return None
        assert value.node is not None
        if func == "change":
            past = self.dag.shift(value.node, bars)
            return Value(self.dag.binary("sub", value.node, past, self.base), value.unit)
        return Value(self.dag.window(func, value.node, bars), value.unit)

    def _bar_count(self, expr: ast.Expr, what: str, *, minimum: int) -> int | None:
        number = _constant_number(expr)
        unit = expr.quantity.unit if isinstance(expr, ast.Literal) else None
        if number is None or unit not in (None, "bars", "bar") or number != int(number):
            self.diag.error(f"the bar count of {what} must be a whole number, like 20", expr.span)
            return None
        if number < minimum:
            self.diag.error(f"the bar count of {what} must be at least {minimum}", expr.span)
            return None
        if number > MAX_HISTORY:
            self.diag.error(f"{what} can look back at most {MAX_HISTORY} bars", expr.span)
            return None
        return int(number)

    def _attr(self, expr: ast.Attr) -> Value | None:
        target = self.expr(expr.target)
        if target is None:
            return None
        if target.indicator is None:
            self.diag.error(
                f"{expr_text(expr.target)} has no outputs to pick with .{expr.name}",
                expr.span,
                hint="only multi-output indicators (like macd or bbands) have .outputs",
            )
            return None
        outputs = target.outputs or self.dag.specs[self.dag[target.indicator].attrs[0]].outputs
        if expr.name not in outputs:
            close = suggest(expr.name, list(outputs))
            hint = f"did you mean {close[0]!r}?" if close else None
            self.diag.error(
                f"{target.name} has no output {expr.name!r}; its outputs are {', '.join(outputs)}",
                expr.span,
                hint=hint,
            )
            return None
        return Value(self.dag.output(target.indicator, expr.name), target.unit)

    def _index(self, expr: ast.Index) -> Value | None:
        offset = expr.offset
        if isinstance(offset, ast.Neg) or ((n := _constant_number(offset)) is not None and n < 0):
            self.diag.error(
                f"{expr_text(expr)} would read a future bar; history looks back only",
                expr.span,
                hint="x[0] is this bar, x[1] the previous one; rules never see bars that "
                "have not closed yet",
            )
            return None
        bars = self._bar_count(offset, "a history offset", minimum=0)
        if bars is None:
            return None
        value = self.expr(expr.target)
        if value is None:
            return None
        value = self._single(value, expr.target)
        if value is None or self._stateful(value, expr.target, "history [n]"):
            return None
        if value.literal:
            return value
        assert value.node is not None
        return Value(self.dag.shift(value.node, bars), value.unit)

    # ---- operators ----------------------------------------------------------------------
    def _neg(self, expr: ast.Neg) -> Value | None:
        value = self._arith_operand(expr.operand, "-")
        if value is None:
            return None
        assert value.node is not None
        return Value(self.dag.unary("neg", value.node), value.unit, value.literal)

    def _binary(self, expr: ast.Binary) -> Value | None:
        left = self._arith_operand(expr.left, expr.op)
        right = self._arith_operand(expr.right, expr.op)
        if left is None or right is None:
            return None
        if expr.op in "+-":
            unit = _additive_unit(left, right)
        elif expr.op == "*":
            unit = _product_unit(left, right)
        else:
            unit = _quotient_unit(left, right)
        if unit is None:
            self._unit_mismatch(expr.op, left, right, expr.span)
            return None
        op = {"+": "add", "-": "sub", "*": "mul", "/": "div"}[expr.op]
        assert left.node is not None
        assert right.node is not None
        node = self.dag.binary(op, left.node, right.node, self.base)
        return Value(node, unit, left.literal and right.literal)

    def _arith_operand(self, expr: ast.Expr, op: str) -> Value | None:
        value = self._single_expr(expr)
        if value is None:
            return None
        if value.unit is Unit.BOOL:
            self.diag.error(
                f"{expr_text(expr)} is a condition; it can't be used with {op}", expr.span
            )
            return None
        if value.unit is Unit.DURATION:
            self.diag.error(
                f"a duration can only be compared with bars_held or bars_since(…), not used "
                f"with {op}",
                expr.span,
            )
            return None
        return value

    def _compare(self, expr: ast.Compare) -> Value | None:
        pair = self._comparable(expr.left, expr.right, expr.op, expr.span)
        if pair is None:
            return None
        left, right = pair
        op = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}[expr.op]
        return Value(self.dag.binary(op, left, right, self.base), Unit.BOOL)

    def _crosses(self, expr: ast.Crosses) -> Value | None:
        pair = self._comparable(expr.left, expr.right, f"crosses {expr.direction}", expr.span)
        if pair is None:
            return None
        left, right = (self.dag.align(n, self.base) for n in pair)
        for side, node in ((expr.left, left), (expr.right, right)):
            if self.dag[node].stateful:
                self._stateful(Value(node, Unit.ANY), side, "crosses")
                return None
        before_left, before_right = self.dag.shift(left, 1), self.dag.shift(right, 1)
        if expr.direction == "above":
            now = self.dag.binary("gt", left, right, self.base)
            before = self.dag.binary("le", before_left, before_right, self.base)
        else:
            now = self.dag.binary("lt", left, right, self.base)
            before = self.dag.binary("ge", before_left, before_right, self.base)
        return Value(self.dag.binary("and", now, before, self.base), Unit.BOOL)

    def _comparable(
        self, left_expr: ast.Expr, right_expr: ast.Expr, op: str, span: ast.Span
    ) -> tuple[int, int] | None:
        left = self._single_expr(left_expr)
        right = self._single_expr(right_expr)
        if left is None or right is None:
            return None
        for value, side in ((left, left_expr), (right, right_expr)):
            if value.unit is Unit.BOOL and op not in ("==", "!="):
                self.diag.error(
                    f"{expr_text(side)} is a condition; it can't be compared with {op}",
                    side.span,
                    hint="combine conditions with and / or / not",
                )
                return None
        left, right = self._durations_to_bars(left, right, left_expr, right_expr)
        if left is None or right is None:
            return None
        if not _comparable_units(left, right):
            self._unit_mismatch(op, left, right, span)
            return None
        assert left.node is not None
        assert right.node is not None
        return left.node, right.node

    def _durations_to_bars(
        self, left: Value, right: Value, left_expr: ast.Expr, right_expr: ast.Expr
    ) -> tuple[Value | None, Value | None]:
        out: list[Value | None] = []
        for value, other, expr in ((left, right, left_expr), (right, left, right_expr)):
            if value.unit is not Unit.DURATION:
                out.append(value)
                continue
            if other.unit is not Unit.BARS or not value.literal:
                self.diag.error(
                    "a duration can only be compared with a bar count (bars_held, bars_since(…))",
                    expr.span,
                    hint="write the number of bars: 1440 bars is 24h of 1m bars",
                )
                out.append(None)
                continue
            assert value.node is not None
            seconds = self.dag[value.node].value
            bars = math.ceil(seconds / timeframe_seconds(self.base))
            out.append(Value(self.dag.const(float(bars)), Unit.BARS, literal=True))
        return out[0], out[1]

    def _logic(self, expr: ast.Logic) -> Value | None:
        left = self._boolean(expr.left, expr.op)
        right = self._boolean(expr.right, expr.op)
        if left is None or right is None:
            return None
        return Value(self.dag.binary(expr.op, left, right, self.base), Unit.BOOL)

    def _not(self, expr: ast.Not) -> Value | None:
        operand = self._boolean(expr.operand, "not")
        if operand is None:
            return None
        return Value(self.dag.unary("not", self.dag.align(operand, self.base)), Unit.BOOL)

    def _boolean(self, expr: ast.Expr, op: str) -> int | None:
        value = self._single_expr(expr)
        if value is None:
            return None
        if value.unit is not Unit.BOOL:
            self.diag.error(
                f"`{op}` combines conditions, but {expr_text(expr)} is {_words(value.unit)}",
                expr.span,
                hint="compare it first, e.g. rsi(close, 14) < 30",
            )
            return None
        return value.node

    # ---- helpers ------------------------------------------------------------------------
    def _single_expr(self, expr: ast.Expr) -> Value | None:
        value = self.expr(expr)
        return None if value is None else self._single(value, expr)

    def _single(self, value: Value, expr: ast.Expr) -> Value | None:
        if value.node is None:
            self.diag.error(
                f"{value.name} has several outputs ({', '.join(value.outputs)}); pick one",
                expr.span,
                hint=f"for example {expr_text(expr)}.{value.outputs[0]}",
            )
            return None
        return value

    def _stateful(self, value: Value, expr: ast.Expr, where: str) -> bool:
        if value.node is not None and self.dag[value.node].stateful:
            self.diag.error(
                f"{expr_text(expr)} reads engine state, which is known only for the current "
                f"bar; it can't be used in {where}",
                expr.span,
                hint="state (position, bars_held, equity, …) works in plain comparisons",
            )
            return True
        return False

    def _unit_mismatch(self, op: str, left: Value, right: Value, span: ast.Span) -> None:
        hint = None
        units = {left.unit, right.unit}
        if Unit.FRACTION in units and units & {Unit.PRICE, Unit.MONEY, Unit.VOLUME}:
            hint = (
                "a percentage is relative: scale instead, e.g. close * (1 + 5%), or compare "
                "a relative change, e.g. close / close[1] - 1 > 5%"
            )
        self.diag.error(
            f"can't use {op} between {_words(left.unit)} and {_words(right.unit)}",
            span,
            hint=hint,
        )

    # ---- explain ------------------------------------------------------------------------
    def explain(self, expr: ast.Expr) -> ExplainTree:
        node = self.node_of.get(id(expr))
        text = expr_text(expr)
        if isinstance(expr, ast.Logic):
            return ExplainTree(
                text, node, expr.op, (self.explain(expr.left), self.explain(expr.right))
            )
        if isinstance(expr, ast.Not):
            return ExplainTree(text, node, "not", (self.explain(expr.operand),))
        if isinstance(expr, ast.Compare | ast.Crosses):
            kind = "compare" if isinstance(expr, ast.Compare) else "crosses"
            children = tuple(
                ExplainTree(expr_text(side), self.node_of.get(id(side)), "value")
                for side in (expr.left, expr.right)
            )
            return ExplainTree(text, node, kind, children)
        return ExplainTree(text, node, "value")


# ---- unit algebra ------------------------------------------------------------------------------


def _additive_unit(left: Value, right: Value) -> Unit | None:
    """The unit of ``left + right`` (or ``-``, ``min``, ``max``); None when they don't mix."""
    a, b = left.unit, right.unit
    if a == b:
        return a
    if Unit.ANY in (a, b):
        other = b if a is Unit.ANY else a
        return Unit.ANY if other in (Unit.NUMBER, Unit.FRACTION) else other
    if {a, b} == {Unit.NUMBER, Unit.FRACTION}:
        return Unit.NUMBER  # 1 + 5%
    if Unit.NUMBER in (a, b):
        return b if a is Unit.NUMBER else a  # close + 10: the number takes the price's unit
    return None


def _product_unit(left: Value, right: Value) -> Unit:
    a, b = left.unit, right.unit
    if {a, b} == {Unit.PRICE, Unit.VOLUME}:
        return Unit.MONEY
    if Unit.ANY in (a, b):
        other = b if a is Unit.ANY else a
        return Unit.ANY if other in (Unit.NUMBER, Unit.FRACTION, Unit.ANY) else other
    plain = (Unit.NUMBER, Unit.FRACTION)
    if a in plain and b in plain:
        return Unit.FRACTION if Unit.FRACTION in (a, b) else Unit.NUMBER
    if a in plain:
        return b
    if b in plain:
        return a
    return Unit.ANY


def _quotient_unit(left: Value, right: Value) -> Unit:
    a, b = left.unit, right.unit
    if Unit.ANY in (a, b):
        return Unit.ANY
    if a == b:
        return Unit.NUMBER
    if b in (Unit.NUMBER, Unit.FRACTION):
        return a
    if (a, b) == (Unit.MONEY, Unit.PRICE):
        return Unit.VOLUME
    if (a, b) == (Unit.MONEY, Unit.VOLUME):
        return Unit.PRICE
    return Unit.ANY


def _comparable_units(left: Value, right: Value) -> bool:
    a, b = left.unit, right.unit
    if a == b or Unit.ANY in (a, b):
        return True
    if Unit.NUMBER in (a, b):
        other = b if a is Unit.NUMBER else a
        literal = left.literal if a is Unit.NUMBER else right.literal
        return literal or other is Unit.FRACTION or other is Unit.BARS
    return False


def _words(unit: Unit) -> str:
    from sparkstacker.lang.units import WORDS

    return WORDS[unit]


def _constant_number(expr: ast.Expr) -> float | None:
    """A plain written number (optionally negative), else None."""
    if isinstance(expr, ast.Literal) and expr.quantity.unit in (None, "bars", "bar"):
        return float(expr.quantity.value)
    if isinstance(expr, ast.Neg):
        inner = _constant_number(expr.operand)
        return None if inner is None else -inner
    return None


def _signature(spec: IndicatorSpec) -> str:
    inputs = [i.name if i.default is None else f"{i.name}={i.default}" for i in spec.inputs]
    params = [
        f"{p.name}={p.default:g}"
        + (f" (or {', '.join(p.aliases)})" if getattr(p, "aliases", ()) else "")
        for p in spec.params
    ]
    outputs = f" → {', '.join(spec.outputs)}" if len(spec.outputs) > 1 else ""
    return f"usage: {spec.name}({', '.join([*inputs, *params])}){outputs}"


def decimal_of(value: float) -> Decimal:
    return Decimal(repr(value))


_LOWER_BY_NODE: dict[type, Callable[[Lowerer, Any], Value | None]] = {
    ast.Name: Lowerer._name,
    ast.AtTimeframe: Lowerer._at_timeframe,
    ast.Call: Lowerer._call,
    ast.Attr: Lowerer._attr,
    ast.Index: Lowerer._index,
    ast.Neg: Lowerer._neg,
    ast.Binary: Lowerer._binary,
    ast.Compare: Lowerer._compare,
    ast.Crosses: Lowerer._crosses,
    ast.Logic: Lowerer._logic,
    ast.Not: Lowerer._not,
}
