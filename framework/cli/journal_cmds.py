"""Journal commands: ``orders``, ``trades``, ``export --csv``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sparkstacker.cli import app
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal, RoundTrip
from sparkstacker.journal.database import parse_url, sqlite_path
from sparkstacker.model import ZERO, Order

console = Console()

DB_HELP = "Journal database URL (default: SPARKSTACKER_DB or sqlite:///spark_stacker.db)."
RUN_HELP = "Only this run (a unique prefix of its id is enough)."


@contextmanager
def open_journal(db: str | None) -> Iterator[Journal]:
    """Open an existing journal for reading; a missing SQLite file is an error, not a new db."""
    if db is None:
        from sparkstacker.config import load_settings

        db = load_settings().db
    path = sqlite_path(parse_url(db))
    if path is not None and not path.exists():
        raise JournalError(f"no journal at {path}; pass --db or run something first")
    journal = Journal(db)
    try:
        yield journal
    finally:
        journal.close()


def _run(journal: Journal, run: str | None) -> str | None:
    return journal.resolve_run(run) if run else None


def _num(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


@app.command()
def orders(
    run: str | None = typer.Option(None, "--run", help=RUN_HELP),
    open_only: bool = typer.Option(False, "--open", help="Only orders not yet finished."),
    venue: str | None = typer.Option(None, "--venue", help="Only this venue."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List journaled orders with their current state."""
    with open_journal(db) as journal:
        rows = journal.orders(_run(journal, run), open_only=open_only, venue=venue)
    if as_json:
        typer.echo(json.dumps([o.model_dump(mode="json") for o in rows], indent=2))
        return
    console.print(_orders_table(rows))


def _orders_table(rows: list[Order]) -> Table:
    table = Table(title=f"Orders ({len(rows)})")
    for column in ("client order id", "venue", "symbol", "side", "type", "size", "price"):
        table.add_column(column, justify="right" if column in ("size", "price") else "left")
    for column in ("filled", "avg price", "fees", "status", "reason", "updated"):
        table.add_column(column, justify="right" if column in ("filled", "avg price") else "left")
    for o in rows:
        when = o.updated_at or o.created_at
        table.add_row(
            o.client_order_id,
            o.venue,
            o.symbol,
            o.side.value,
            o.type.value,
            _num(o.size),
            _num(o.price if o.price is not None else o.trigger_price),
            _num(o.filled_size),
            _num(o.avg_fill_price),
            _num(o.fees),
            o.status.value,
            o.reason or "",
            when.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


@app.command()
def trades(
    run: str | None = typer.Option(None, "--run", help=RUN_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Round trips rebuilt from fills: entry, exit, PnL, fees, funding."""
    with open_journal(db) as journal:
        rows = journal.trades(_run(journal, run))
    if as_json:
        typer.echo(json.dumps([t.model_dump(mode="json") for t in rows], indent=2))
        return
    console.print(_trades_table(rows))


def _trades_table(rows: list[RoundTrip]) -> Table:
    table = Table(title=f"Trades ({len(rows)})", show_footer=True)
    table.add_column("opened", footer="total")
    table.add_column("closed")
    for column in ("venue", "symbol", "side"):
        table.add_column(column)
    net = sum((t.net_pnl for t in rows), ZERO)
    totals = {
        "pnl": sum((t.pnl for t in rows), ZERO),
        "fees": sum((t.fees for t in rows), ZERO),
        "funding": sum((t.funding for t in rows), ZERO),
    }
    for column in ("size", "entry", "exit"):
        table.add_column(column, justify="right")
    for column in ("pnl", "fees", "funding"):
        table.add_column(column, justify="right", footer=_num(totals[column]))
    table.add_column("net", justify="right", footer=_num(net))
    for t in rows:
        style = "green" if t.net_pnl > 0 else "red" if t.net_pnl < 0 else ""
        table.add_row(
            t.opened_at.strftime("%Y-%m-%d %H:%M"),
            t.closed_at.strftime("%Y-%m-%d %H:%M") if t.closed_at else "open",
            t.venue,
            t.symbol,
            t.direction.value,
            _num(t.size),
            _num(t.entry_price),
            _num(t.exit_price),
            _num(t.pnl),
            _num(t.fees),
            _num(t.funding),
            _num(t.net_pnl),
            style=style,
        )
    return table


@app.command()
def export(
    csv_dir: Annotated[Path, typer.Option("--csv", help="Folder to write one CSV per table into.")],
    run: str | None = typer.Option(None, "--run", help=RUN_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Export the journal as CSV: orders, order_events, fills, signals, balances, funding, …"""
    with open_journal(db) as journal:
        counts = journal.export_all(csv_dir, _run(journal, run))
    table = Table(title=f"Exported to {csv_dir}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, count in counts.items():
        table.add_row(f"{name}.csv", str(count))
    console.print(table)
