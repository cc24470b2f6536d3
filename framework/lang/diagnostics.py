"""Located rule errors and warnings, and a collector that gathers all of them in one pass."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from sparkstacker.errors import RuleError, RuleErrors
from sparkstacker.lang.ast import Span

Severity = Literal["error", "warning"]


class RuleWarning(RuleError):
    """A finding that does not stop compilation (an unused ``let``, a suspicious value).

    ``check`` reports it; ``compile`` succeeds and lists it in ``CompiledRules.warnings``.
    """

    severity: Severity = "warning"

    def render(self) -> str:
        return super().render().replace(": ", ": warning: ", 1)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["severity"] = "warning"
        return data


def severity(error: RuleError) -> Severity:
    """``"warning"`` for :class:`RuleWarning`, ``"error"`` for every other rule error."""
    return "warning" if isinstance(error, RuleWarning) else "error"


def as_dict(error: RuleError) -> dict[str, Any]:
    data = error.to_dict()
    data["severity"] = severity(error)
    return data


class Sources:
    """Source texts by file name, to show the offending line under each message."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def add(self, file: str, text: str) -> None:
        self._lines[file] = text.splitlines()

    def line(self, file: str, line: int) -> str | None:
        lines = self._lines.get(file)
        if lines is None or not 1 <= line <= len(lines):
            return None
        return lines[line - 1]


def make_error(
    message: str,
    span: Span | None,
    sources: Sources | None = None,
    *,
    hint: str | None = None,
    warning: bool = False,
) -> RuleError:
    cls = RuleWarning if warning else RuleError
    if span is None:
        return cls(message, hint=hint)
    source_line = sources.line(span.file, span.line) if sources is not None else None
    end_column = span.end_column if span.end_line == span.line else None
    if source_line is not None and end_column is None:
        end_column = len(source_line.rstrip()) + 1
    if end_column is not None and end_column <= span.column:
        end_column = span.column + 1
    return cls(
        message,
        file=span.file,
        line=span.line,
        column=span.column,
        end_column=end_column,
        source_line=source_line,
        hint=hint,
    )


class Diagnostics:
    """Collects errors and warnings; :meth:`raise_errors` raises them together."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.items: list[RuleError] = []

    def error(self, message: str, span: Span | None, *, hint: str | None = None) -> None:
        self.items.append(make_error(message, span, self.sources, hint=hint))

    def warning(self, message: str, span: Span | None, *, hint: str | None = None) -> None:
        self.items.append(make_error(message, span, self.sources, hint=hint, warning=True))

    def extend(self, errors: Iterable[RuleError]) -> None:
        self.items.extend(errors)

    @property
    def errors(self) -> list[RuleError]:
        return [e for e in self.items if severity(e) == "error"]

    @property
    def warnings(self) -> list[RuleError]:
        return [e for e in self.items if severity(e) == "warning"]

    def raise_errors(self) -> None:
        errors = self.errors
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise RuleErrors(sorted_errors(errors))


def sorted_errors(errors: Iterable[RuleError]) -> list[RuleError]:
    """File, then line, then column order (stable for equal positions)."""
    return sorted(errors, key=lambda e: (e.file or "", e.line or 0, e.column or 0))
