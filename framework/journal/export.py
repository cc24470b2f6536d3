"""CSV export: one file per journal table, amounts as exact decimal strings, times in ISO UTC."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sparkstacker.errors import JournalError
from sparkstacker.journal.schema import TABLES
from sqlalchemy import Connection, select

# CSV name -> table. ``export --csv`` writes these; any table can be exported by its own name.
EXPORTS = {
    "runs": "runs",
    "orders": "orders",
    "order_intents": "order_intents",
    "order_events": "order_events",
    "fills": "fills",
    "signals": "signals",
    "balances": "balances",
    "positions": "positions",
    "funding": "funding_payments",
    "risk_events": "risk_events",
    "group_events": "group_events",
}


def table_for(name: str) -> str:
    table = EXPORTS.get(name, name)
    if table not in TABLES:
        known = ", ".join(sorted(set(EXPORTS) | set(TABLES)))
        raise JournalError(f"the journal has no table {name!r}; choose one of {known}")
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def write_csv(connection: Connection, name: str, path: Path, run_id: str | None) -> int:
    """Write one table (optionally one run's rows) to ``path``; returns the number of rows."""
    table = TABLES[table_for(name)]
    key = table.c.id if table.name == "runs" else table.c.run_id
    query = select(table).order_by(*table.primary_key.columns)
    if run_id is not None:
        query = query.where(key == run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    result = connection.execution_options(yield_per=2000).execute(query)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(result.keys()))
        for row in result:
            writer.writerow([_cell(value) for value in row])
            count += 1
    return count
