"""``spark-stacker markets``: list a venue's instruments and their trading rules."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sparkstacker.cli import app
from sparkstacker.exchange import Exchange
from sparkstacker.registry import Registry

console = Console()
COLUMNS = (
    ("symbol", "symbol"),
    ("venue_symbol", "venue symbol"),
    ("asset_id", "asset id"),
    ("tick_rule", "tick rule"),
    ("lot", "lot"),
    ("max_leverage", "max leverage"),
    ("min_notional", "min notional"),
)


async def _rows(venue: Exchange) -> list[dict[str, str]]:
    try:
        describe = getattr(venue, "market_rows", None)
        if describe is not None:
            rows: list[dict[str, str]] = await describe()
            return rows
        return [
            {
                "symbol": i.symbol,
                "venue_symbol": i.venue_symbol or i.symbol,
                "asset_id": "",
                "kind": i.kind.value,
                "tick_rule": f"tick {i.tick_size:f}"
                + (
                    f", {i.price_significant_figures} sig. figs"
                    if i.price_significant_figures
                    else ""
                ),
                "lot": f"{i.lot_size:f}",
                "max_leverage": f"{i.max_leverage:f}",
                "min_notional": f"{i.min_notional:f}",
            }
            for i in await venue.instruments()
        ]
    finally:
        await venue.close()


@app.command()
def markets(
    exchange: str = typer.Option("hyperliquid", "--exchange", "-e", help="Exchange plugin name."),
    testnet: bool | None = typer.Option(
        None, "--testnet/--mainnet", help="Network (default: the plugin's setting, testnet)."
    ),
    search: str = typer.Option("", "--search", "-s", help="Only symbols containing this."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List instruments: symbol, venue symbol, asset id, tick rule, lot, max leverage, minimum."""
    plugin = Registry.load().exchanges.get(exchange)
    options: dict[str, Any] = {}
    if testnet is not None:
        options["network"] = "testnet" if testnet else "mainnet"
    venue = plugin.create(exchange, options)
    rows = asyncio.run(_rows(venue))
    needle = search.upper()
    rows = [r for r in rows if needle in r["symbol"].upper() or needle in r["venue_symbol"].upper()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} markets on {exchange}")
    for _, title in COLUMNS:
        table.add_column(title, overflow="fold")
    for row in rows:
        table.add_row(*(row.get(key, "") for key, _ in COLUMNS))
    console.print(table)
    if not rows:
        raise typer.Exit(1)
