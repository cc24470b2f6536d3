"""Column types that keep money exact and times in UTC on SQLite and PostgreSQL alike.

* :class:`ExactDecimal` stores ``str(Decimal)``. SQLite has no exact numeric type (its NUMERIC
  affinity stores REAL), so a string is the only representation that round-trips every Decimal
  bit for bit, including its exponent (``1.10`` stays ``1.10``), on both databases.
* :class:`UtcDateTime` accepts only timezone-aware datetimes and always returns UTC ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, String
from sqlalchemy.types import TypeDecorator


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored as its exact string form. Non-finite values are refused."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"expected a Decimal, got {type(value).__name__} {value!r}")
        if not value.is_finite():
            raise ValueError(f"cannot journal the non-finite amount {value}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as UTC (``timestamptz`` on PostgreSQL, naive UTC on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__} {value!r}")
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value.isoformat()} is naive; the journal needs UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
