"""The one error hierarchy. Every error the framework raises on purpose derives from here.

User-facing code catches :class:`SparkStackerError` and prints its message; anything else is a bug.
"""

from __future__ import annotations

from typing import Any


class SparkStackerError(Exception):
    """Base of every deliberate error. ``str(err)`` is a complete, human sentence."""


class ConfigError(SparkStackerError):
    """A setting is missing, unknown or invalid."""


class PluginError(SparkStackerError):
    """A plugin failed to load, broke a hook contract or claimed a name another plugin owns."""


class RuleError(SparkStackerError):
    """A rule file is wrong. Carries where (file, line, column) and shows the line with a caret."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        source_line: str | None = None,
        hint: str | None = None,
        end_column: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.end_column = end_column
        self.source_line = source_line
        self.hint = hint
        super().__init__(self.render())

    @property
    def location(self) -> str:
        parts = [self.file or "<rules>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def render(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.source_line is not None and self.column is not None:
            width = max(1, (self.end_column or self.column + 1) - self.column)
            text += f"\n    {self.source_line.rstrip()}\n    {' ' * (self.column - 1)}{'^' * width}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_column": self.end_column,
            "message": self.message,
            "hint": self.hint,
        }


class RuleErrors(RuleError):
    """Several rule errors found in one pass (``check`` reports all of them, not just the first)."""

    def __init__(self, errors: list[RuleError]) -> None:
        if not errors:
            raise ValueError("RuleErrors needs at least one error")
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(
            first.message,
            file=first.file,
            line=first.line,
            column=first.column,
            source_line=first.source_line,
            hint=first.hint,
            end_column=first.end_column,
        )

    def render(self) -> str:
        errors = getattr(self, "errors", None)
        if not errors:
            return super().render()
        return "\n\n".join(RuleError.render(err) for err in errors)


class ModelError(SparkStackerError):
    """A domain object would become invalid (bad order transition, zero size, off-tick price)."""


class IllegalTransition(ModelError):
    """An order was asked to move between two states the state machine does not connect."""


class OrderSizeError(ModelError):
    """A size rounds to zero, under the lot, or under the venue's minimum notional."""


class PriceRuleError(ModelError):
    """A price does not satisfy the instrument's tick / significant-figure rule."""


class LeverageLimitError(ModelError):
    """A leverage is not positive or exceeds what the instrument allows."""


class RiskError(SparkStackerError):
    """A risk check or the account governor refused something."""


class OrderVetoed(RiskError):
    """A pre-trade check or a submit_order wrapper refused an order before it was sent."""

    def __init__(self, reason: str, *, check: str = "risk") -> None:
        self.reason = reason
        self.check = check
        super().__init__(f"order vetoed by {check}: {reason}")


class ExchangeError(SparkStackerError):
    """A venue refused or failed a request."""

    def __init__(self, message: str, *, venue: str | None = None) -> None:
        self.venue = venue
        super().__init__(f"{venue}: {message}" if venue else message)


class RetryableExchangeError(ExchangeError):
    """A transient failure (timeout, 5xx, rate limit): the request may be retried as-is."""


class RateLimited(RetryableExchangeError):
    """The venue said slow down (HTTP 429 or its own rate-limit message)."""


class OrderRejected(ExchangeError):
    """The venue rejected an order; ``reason`` holds the venue's own words."""

    def __init__(
        self, reason: str, *, venue: str | None = None, client_order_id: str | None = None
    ):
        self.reason = reason
        self.client_order_id = client_order_id
        super().__init__(f"order rejected: {reason}", venue=venue)


class ExchangeFormatError(ExchangeError):
    """A venue response did not match the shape we understand. Trading on that venue stops."""

    def __init__(self, endpoint: str, path: str, problem: str, *, venue: str | None = None):
        self.endpoint = endpoint
        self.path = path
        self.problem = problem
        super().__init__(
            f"unexpected response from {endpoint} at {path or '<root>'}: {problem}", venue=venue
        )


class LeverageMismatch(ExchangeError):
    """The leverage the venue reports is not the leverage the strategy configured."""


class DataError(SparkStackerError):
    """Market data is missing, malformed or has gaps where none are allowed."""


class JournalError(SparkStackerError):
    """The journal could not record or read something; trading must not continue blind."""
