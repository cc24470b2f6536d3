"""Shared base for domain models: frozen pydantic v2, Decimal-friendly, timezone-aware times."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

ZERO = Decimal(0)
ONE = Decimal(1)


class FrozenModel(BaseModel):
    """Immutable model; unknown fields are errors so typos never pass silently."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def to_decimal(value: Any, *, what: str = "value") -> Decimal:
    """Convert numbers and numeric strings to Decimal without binary float artefacts."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a number, not a boolean")
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{what} {value!r} is not a number") from exc


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC); got a naive datetime")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]


def utcnow() -> datetime:
    return datetime.now(UTC)


_last_millis: tuple[int | float, datetime] = (0, datetime.fromtimestamp(0, tz=UTC))


def from_millis(ms: int | float) -> datetime:
    """Venue timestamps in epoch milliseconds to aware UTC datetimes.

    Simulated runs ask for the same instant many times in a row (an order's report, its fill,
    the event around it): the last answer is kept (datetimes are immutable).
    """
    global _last_millis
    last = _last_millis
    if ms == last[0]:
        return last[1]
    value = datetime.fromtimestamp(ms / 1000, tz=UTC)
    _last_millis = (ms, value)
    return value


def to_millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)
