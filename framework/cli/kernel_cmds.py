"""Kernel commands: ``version``, ``plugins``, ``indicators``."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table
from sparkstacker import __version__
from sparkstacker.cli import app
from sparkstacker.registry import Registry

console = Console()


@app.command()
def version() -> None:
    """Print the installed version."""
    console.print(f"spark-stacker {__version__}")


@app.command()
def plugins(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List installed plugins: kind, name, distribution, version, module."""
    rows = Registry.load().plugin_rows()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Installed plugins")
    for column in ("kind", "name", "plugin", "distribution", "version", "module"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(row[c] for c in ("kind", "name", "plugin", "distribution", "version", "module"))
        )
    console.print(table)


@app.command()
def indicators(
    search: str = typer.Option("", "--search", "-s", help="Only names/summaries containing this."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List indicators with their inputs, parameters (defaults) and outputs."""
    registry = Registry.load()
    needle = search.lower()
    specs = [
        registry.indicators.get(name)
        for name in registry.indicators.names()
        if needle in name.lower() or needle in registry.indicators.get(name).summary.lower()
    ]
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "group": s.group,
                        "summary": s.summary,
                        "inputs": [{"name": i.name, "default": i.default} for i in s.inputs],
                        "params": [
                            {"name": p.name, "kind": p.kind, "default": p.default} for p in s.params
                        ],
                        "outputs": list(s.outputs),
                        "plugin": registry.indicators.origin(s.name).plugin,
                    }
                    for s in specs
                ],
                indent=2,
            )
        )
        return
    table = Table(title=f"{len(specs)} indicators")
    for column in ("name", "inputs", "params", "outputs", "summary"):
        table.add_column(column, overflow="fold")
    for spec in specs:
        inputs = ", ".join(
            i.name if i.default is None else f"{i.name}={i.default}" for i in spec.inputs
        )
        params = ", ".join(f"{p.name}={p.default:g}" for p in spec.params)
        table.add_row(spec.name, inputs, params, ", ".join(spec.outputs), spec.summary)
    console.print(table)
    if not specs:
        raise typer.Exit(1)
