"""Plugin parameters written in a rule file → an instance of the plugin's pydantic model.

Each model field may declare its unit (``json_schema_extra={"unit": ...}``): ``USD`` (money,
written ``100 USD``), ``fraction`` (written ``5%`` or ``50 bps``, arriving as 0.05 / 0.005),
``ratio`` (a plain number), ``bool`` (true/false), ``bars`` (``3 bars``), ``x`` (leverage) or
``duration`` (``10s``). Fields without a unit take a plain number, a word or a quoted text,
guided by their type. Validation errors are reported at the offending parameter.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from sparkstacker.lang import ast
from sparkstacker.lang.diagnostics import Diagnostics
from sparkstacker.lang.units import (
    DURATION_SECONDS,
    Unit,
    duration,
    fraction_text,
    too_long,
    unit_of,
)
from sparkstacker.registry import suggest

UNIT_WORDS = {
    "USD": "an amount of money, like 100 USD",
    "fraction": "a percentage, like 5% or 50 bps",
    "ratio": "a plain number",
    "bool": "true or false",
    "bars": "a number of bars, like 3 bars",
    "x": "a leverage, like 5x",
    "duration": "a duration, like 10s or 5m",
}


@dataclass(frozen=True)
class Written:
    """A constant value as written: a quantity, a word, a text or a boolean."""

    value: ast.Quantity | ast.Word | ast.Text | ast.BoolLiteral
    span: ast.Span


def written_of(expr: ast.Expr | ast.ParamValue) -> Written | None:
    """The constant behind a call argument or a ``params`` value (None: not a constant)."""
    if isinstance(expr, ast.Quantity | ast.Word | ast.Text | ast.BoolLiteral):
        return Written(expr, expr.span)
    if isinstance(expr, ast.Literal):
        return Written(expr.quantity, expr.span)
    if isinstance(expr, ast.Neg) and isinstance(expr.operand, ast.Literal):
        q = expr.operand.quantity
        return Written(ast.Quantity(-q.value, q.unit, f"-{q.text}", span=expr.span), expr.span)
    if isinstance(expr, ast.Name):
        return Written(ast.Word(expr.name, span=expr.span), expr.span)
    return None


def field_unit(info: FieldInfo) -> str | None:
    extra = info.json_schema_extra
    if isinstance(extra, dict):
        unit = extra.get("unit")
        return str(unit) if unit is not None else None
    return None


def field_key(name: str, info: FieldInfo) -> str:
    """The key ``model_validate`` accepts for a field (its alias when it has one)."""
    return info.alias or name


def describe_field(name: str, info: FieldInfo) -> str:
    unit = field_unit(info)
    if unit is not None:
        return f"{info.alias or name} ({unit})"
    return info.alias or name


class ParamBinder:
    """Binds written values to one plugin's params model and validates them."""

    def __init__(self, owner: str, model: type[BaseModel], diag: Diagnostics) -> None:
        self.owner = owner
        self.model = model
        self.diag = diag
        self.fields = dict(model.model_fields)
        self._by_written: dict[str, str] = {}
        for name, info in self.fields.items():
            self._by_written[name] = name
            if info.alias:
                self._by_written[info.alias] = name

    def valid_names(self) -> list[str]:
        return [describe_field(n, i) for n, i in self.fields.items()]

    def resolve(self, written_name: str, span: ast.Span) -> str | None:
        name = self._by_written.get(written_name)
        if name is None:
            close = suggest(written_name, list(self._by_written))
            hint = f"did you mean {close[0]!r}? " if close else ""
            self.diag.error(
                f"{self.owner} has no parameter {written_name!r}",
                span,
                hint=hint + "valid: " + ", ".join(self.valid_names()),
            )
        return name

    def convert(self, name: str, written: Written) -> Any:
        """The written value in the form the model field wants; errors return None."""
        info = self.fields[name]
        unit = field_unit(info)
        shown = info.alias or name
        value = written.value
        expected = UNIT_WORDS.get(unit or "")
        if unit == "bool" or (unit is None and _is_bool(info)):
            if isinstance(value, ast.BoolLiteral):
                return value.value
            return self._wrong(shown, "true or false", written)
        if isinstance(value, ast.Quantity):
            kind = unit_of(value.unit)
            if unit == "USD":
                if kind is Unit.MONEY:
                    return value.value
            elif unit == "fraction":
                if kind is Unit.FRACTION:
                    return value.value / (100 if value.unit == "%" else 10_000)
            elif unit == "bars":
                if kind is Unit.BARS and value.value == value.value.to_integral():
                    return int(value.value)
            elif unit == "x":
                if kind is Unit.LEVERAGE:
                    return value.value
            elif unit == "duration":
                if kind is Unit.DURATION and value.unit in DURATION_SECONDS:
                    if too_long(value.value, value.unit):
                        return self._wrong(shown, "a duration of at most ten years", written)
                    return duration(value.value, value.unit)
            elif unit in ("ratio", None):
                if kind is Unit.NUMBER:
                    return value.value
                return self._wrong(
                    shown, "a plain number", written, hint=f"drop the unit: {shown} {value.value}"
                )
            else:
                return value.value
            return self._wrong(shown, expected or f"a value in {unit}", written)
        if isinstance(value, ast.Word | ast.Text):
            text = value.word if isinstance(value, ast.Word) else value.text
            if unit in (None,) and not _is_numeric(info):
                return text
            return self._wrong(shown, expected or "a number", written)
        return self._wrong(shown, expected or "a value", written)

    def _wrong(self, name: str, expected: str, written: Written, hint: str | None = None) -> None:
        shown = _written_text(written)
        self.diag.error(
            f"{self.owner} {name} must be {expected}, got {shown}", written.span, hint=hint
        )
        return None

    def validate(
        self, values: dict[str, Any], spans: dict[str, ast.Span], whole: ast.Span
    ) -> BaseModel | None:
        """Build the model; each validation error is located at its parameter."""
        data = {field_key(name, self.fields[name]): value for name, value in values.items()}
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = error.get("loc") or ()
                key = str(loc[0]) if loc else ""
                name = self._by_written.get(key, key)
                span = spans.get(name, whole)
                self.diag.error(self._message(name, error), span, hint=self._hint(name, error))
            return None

    def _message(self, name: str, error: Any) -> str:
        kind = error.get("type", "")
        info = self.fields.get(name)
        shown = (info.alias or name) if info is not None else name
        unit = field_unit(info) if info is not None else None
        ctx = error.get("ctx") or {}
        bounds = {
            "greater_than": ("more than", "gt"),
            "greater_than_equal": ("at least", "ge"),
            "less_than": ("less than", "lt"),
            "less_than_equal": ("at most", "le"),
        }
        if kind == "missing":
            need = UNIT_WORDS.get(unit or "", "a value")
            return f"{self.owner} needs {shown} ({need})"
        if kind in bounds:
            words, key = bounds[kind]
            return f"{self.owner} {shown} must be {words} {_in_unit(ctx.get(key), unit)}"
        if not name or info is None:
            message = str(error.get("msg", "is invalid"))
            return f"{self.owner} parameters: {message.removeprefix('Value error, ')}"
        return f"{self.owner} {shown}: {error.get('msg', 'is invalid')}"

    def _hint(self, name: str, error: Any) -> str | None:
        if error.get("type") == "literal_error":
            return f"expected one of {error.get('ctx', {}).get('expected', '')}"
        return None


def _in_unit(value: Any, unit: str | None) -> str:
    return "the allowed value" if value is None else value_text(value, unit)


def value_text(value: Any, unit: str | None) -> str:
    """A parameter value written with its field's unit: ``5%``, ``100 USD``, ``20 bars``, ``3x``."""
    if unit == "fraction":
        return fraction_text(Decimal(str(value)))
    if unit == "USD":
        return f"{value} USD"
    if unit == "bars":
        return f"{value} bars"
    if unit == "x":
        return f"{value}x"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _written_text(written: Written) -> str:
    value = written.value
    if isinstance(value, ast.Quantity):
        return value.text
    if isinstance(value, ast.Word):
        return value.word
    if isinstance(value, ast.Text):
        return f'"{value.text}"'
    return "true" if value.value else "false"


def _annotation_types(info: FieldInfo) -> set[Any]:
    annotation = info.annotation
    args = typing.get_args(annotation)
    return set(args) | {annotation} if args else {annotation}


def _is_bool(info: FieldInfo) -> bool:
    return bool in _annotation_types(info)


def _is_numeric(info: FieldInfo) -> bool:
    return bool(_annotation_types(info) & {int, float, Decimal})
