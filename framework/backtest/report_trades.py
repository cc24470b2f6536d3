"""Trades as records: CSV rows, JSON objects and the compact table data of the HTML report."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sparkstacker.backtest.result import BacktestResult, RoundTrip

TRADE_FIELDS = (
    "id",
    "strategy",
    "leg",
    "venue",
    "symbol",
    "direction",
    "size",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "bars_held",
    "pnl",
    "fees",
    "funding",
    "net_pnl",
    "exit_reason",
    "liquidated",
)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``: ``2024-01-01T00:00:00Z`` (milliseconds when present)."""
    if value is None:
        return None
    utc = value.astimezone(UTC)
    text = utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def trade_record(index: int, t: RoundTrip) -> dict[str, Any]:
    """One trade with exact Decimals as strings and ISO UTC times."""
    return {
        "id": index,
        "strategy": t.strategy,
        "leg": t.leg,
        "venue": t.venue,
        "symbol": t.symbol,
        "direction": t.direction,
        "size": _dec(t.size),
        "entry_time": iso(t.entry_time),
        "entry_price": _dec(t.entry_price),
        "exit_time": iso(t.exit_time),
        "exit_price": _dec(t.exit_price),
        "bars_held": t.bars_held,
        "pnl": _dec(t.pnl),
        "fees": _dec(t.fees),
        "funding": _dec(t.funding),
        "net_pnl": _dec(t.net_pnl),
        "exit_reason": t.exit_reason,
        "liquidated": t.liquidated,
    }


def ordered_trades(result: BacktestResult) -> list[RoundTrip]:
    """Trades by entry time (stable: equal times keep the runner's order)."""
    return sorted(result.trades, key=lambda t: t.entry_time)


def write_trades_csv(result: BacktestResult, path: str | Path) -> Path:
    """One row per round trip (header first); empty cells for what an open trade lacks."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRADE_FIELDS)
        writer.writeheader()
        for i, t in enumerate(ordered_trades(result), start=1):
            row = trade_record(i, t)
            row["liquidated"] = "true" if t.liquidated else "false"
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return target


def trades_payload(result: BacktestResult) -> dict[str, Any]:
    """Column-coded rows for the HTML trade table (names go through lookup lists)."""
    lookups: dict[str, dict[str, int]] = {
        k: {} for k in ("strategy", "leg", "dir", "market", "reason")
    }

    def code(kind: str, value: str) -> int:
        table = lookups[kind]
        return table.setdefault(value, len(table))

    rows = []
    for t in ordered_trades(result):
        rows.append(
            [
                code("strategy", t.strategy),
                code("leg", t.leg),
                code("dir", t.direction),
                code("market", f"{t.symbol} @ {t.venue}"),
                _ms(t.entry_time),
                None if t.exit_time is None else _ms(t.exit_time),
                _num(t.entry_price),
                None if t.exit_price is None else _num(t.exit_price),
                _num(t.size),
                t.bars_held,
                _num(t.pnl),
                _num(t.fees),
                _num(t.funding),
                _num(t.net_pnl),
                code("reason", t.exit_reason or ("open" if t.is_open else "")),
                int(t.liquidated),
            ]
        )
    return {"lookups": {k: list(v) for k, v in lookups.items()}, "rows": rows}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _num(value: Decimal) -> float:
    """Eight significant digits: exact enough to read, short enough for 100k rows."""
    return float(f"{value:.8g}")
