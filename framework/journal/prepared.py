"""INSERTs built once per dialect and run straight on the DBAPI cursor, for the request path.

SQLAlchemy's per-statement work (execution context, event dispatch, result setup) costs about
50 µs a statement; the order intent, committed while an order request waits, runs three. A
:class:`PreparedInsert` keeps what that work produces — the SQL text and each column's bind
processor, taken from the column types themselves (``ExactDecimal``, ``UtcDateTime``, JSON) —
so a row is stored exactly as SQLAlchemy would store it and read back through it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Dialect, Table

_PLACEHOLDERS: dict[str, Callable[[str], str]] = {
    "qmark": lambda _name: "?",
    "format": lambda _name: "%s",
    "named": lambda name: f":{name}",
    "pyformat": lambda name: f"%({name})s",
}


class PreparedInsert:
    """``INSERT INTO table (every column but the generated id) VALUES (…) [RETURNING col]``.

    :meth:`params` takes the same mapping a SQLAlchemy ``insert(table)`` would and returns the
    DBAPI parameters; every column must be given (a missing one is a programming error, not a
    silent NULL).
    """

    def __init__(self, table: Table, dialect: Dialect, *, returning: str | None = None) -> None:
        placeholder = _PLACEHOLDERS.get(str(dialect.paramstyle))
        if placeholder is None:
            raise ValueError(f"DBAPI paramstyle {dialect.paramstyle!r} is not supported")
        columns = [c for c in table.columns if not (c.primary_key and c.autoincrement)]
        quote = dialect.identifier_preparer.quote
        self.table = table.name
        self.names = tuple(c.name for c in columns)
        self.named = dialect.paramstyle in ("named", "pyformat")
        self._processors = tuple(
            (c.name, c.type.dialect_impl(dialect).bind_processor(dialect)) for c in columns
        )
        tail = f" RETURNING {quote(returning)}" if returning is not None else ""
        self.sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in self.names)}) "
            f"VALUES ({', '.join(placeholder(n) for n in self.names)}){tail}"
        )

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        processed: list[Any] = []
        try:
            for name, process in self._processors:
                value = values[name]
                if process is not None and value.__class__ is not Encoded:
                    value = process(value)
                processed.append(value)
        except KeyError:
            missing = [n for n in self.names if n not in values]
            if not missing:
                raise
            raise KeyError(f"insert into {self.table} lacks {', '.join(missing)}") from None
        if self.named:
            return dict(zip(self.names, processed, strict=True))
        return tuple(processed)


class Encoded(str):
    """A JSON column's value already serialised (``model_dump_json``): stored as it is, so a
    snapshot written to two rows is encoded once."""

    __slots__ = ()
