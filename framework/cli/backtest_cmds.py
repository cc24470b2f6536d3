"""``spark-stacker backtest``: run rule files on the event engine (or ``--fast``) and report."""

from __future__ import annotations

import json
import sys
import tempfile
from contextlib import ExitStack
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sparkstacker.cli import app
from sparkstacker.errors import ConfigError
from sparkstacker.registry import Registry

console = Console()
err = Console(stderr=True)

# Fee schedules a user can pick by venue name instead of typing percentages.
FEE_SCHEDULES = {
    "hyperliquid": (Decimal("0.00015"), Decimal("0.00045")),
    "hyperliquid-vip1": (Decimal("0.00012"), Decimal("0.0004")),
    "hyperliquid-mm": (Decimal("-0.00001"), Decimal("0.00024")),
    "coinbase": (Decimal("0.0000"), Decimal("0.0003")),
    "zero": (Decimal(0), Decimal(0)),
}

RULES_ARGUMENT = typer.Argument(..., help="Rule files (or bundle:file.rules from a package).")


def parse_fraction(text: str | None, what: str) -> Decimal | None:
    """``0.05%``, ``5bps``, ``0.0005`` → Decimal fraction."""
    if text is None:
        return None
    raw = text.strip().lower().replace(" ", "")
    try:
        if raw.endswith("%"):
            return Decimal(raw[:-1]) / 100
        if raw.endswith("bps"):
            return Decimal(raw[:-3]) / 10_000
        return Decimal(raw)
    except InvalidOperation:
        raise ConfigError(
            f"{what} {text!r} is not a number (use e.g. 0.02%, 2bps or 0.0002)"
        ) from None


def resolve_rule_paths(rules: list[str], registry: Registry) -> list[Path]:
    """Files on disk, or ``bundle:name`` references to rule files shipped by packages."""
    paths = []
    for ref in rules:
        path = Path(ref)
        if path.exists():
            paths.append(path)
            continue
        if ":" in ref and ref in registry.rule_files:
            item = registry.rule_files.get(ref)
            paths.append(Path(str(item.path)))
            continue
        raise ConfigError(
            f"rule file {ref!r} not found"
            + (
                f"; installed bundles: {', '.join(registry.rule_files.names())}"
                if len(registry.rule_files)
                else ""
            )
        )
    return paths


@app.command()
def backtest(
    rules: list[str] = RULES_ARGUMENT,
    data: Path | None = typer.Option(
        None, "--data", help="Data store folder, or one candles file for the rules' market."
    ),
    start: str | None = typer.Option(None, "--from", help="First bar (ISO date/time, UTC)."),
    end: str | None = typer.Option(None, "--to", help="End (exclusive, ISO date/time, UTC)."),
    equity: str | None = typer.Option(None, "--equity", help="Starting equity per account, USD."),
    exchange_fees: str | None = typer.Option(
        None, "--exchange-fees", help=f"Fee schedule: {', '.join(FEE_SCHEDULES)}."
    ),
    maker_fee: str | None = typer.Option(None, "--maker-fee", help="e.g. 0.015%"),
    taker_fee: str | None = typer.Option(None, "--taker-fee", help="e.g. 0.045%"),
    slippage: str | None = typer.Option(None, "--slippage", help="Fixed slippage, e.g. 2bps."),
    fill_at: str | None = typer.Option(None, "--fill-at", help="next_open or close."),
    intrabar: str = typer.Option("nearest", "--intrabar", help="ohlc, olhc or nearest."),
    volume_share: str = typer.Option(
        "10%", "--volume-share", help="Max share of a bar's volume per order, or 'none'."
    ),
    latency_ms: int = typer.Option(0, "--latency-ms", min=0),
    fast: bool = typer.Option(
        False, "--fast", help="Vectorised path (refuses what it can't match)."
    ),
    report: Path | None = typer.Option(None, "--report", help="Write an HTML report here."),
    png: Path | None = typer.Option(None, "--png", help="Write an equity/drawdown PNG here."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON (no table)."),
    trades_csv: Path | None = typer.Option(None, "--trades-csv", help="Write trades as CSV."),
    show_progress: bool | None = typer.Option(None, "--progress/--no-progress"),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the synthetic sample data."),
) -> None:
    """Backtest rule files on the same engine that trades live (simulated clock and venue)."""
    from sparkstacker.backtest.metrics import compute_metrics
    from sparkstacker.backtest.report import (
        render_terminal,
        to_json,
        write_html,
        write_png,
        write_trades_csv,
    )
    from sparkstacker.backtest.runner import BacktestOptions, run_backtest
    from sparkstacker.lang import compile_file
    from sparkstacker.lang.plan import CompiledRules

    registry = Registry.load()
    paths = resolve_rule_paths(rules, registry)
    compiled_parts = [compile_file(path, registry) for path in paths]
    compiled = CompiledRules(
        strategies=tuple(s for c in compiled_parts for s in c.strategies),
        portfolio=next((c.portfolio for c in compiled_parts if c.portfolio is not None), None),
        files=tuple(f for c in compiled_parts for f in c.files),
    )
    maker = parse_fraction(maker_fee, "--maker-fee")
    taker = parse_fraction(taker_fee, "--taker-fee")
    if exchange_fees is not None:
        if exchange_fees not in FEE_SCHEDULES:
            raise ConfigError(
                f"unknown fee schedule {exchange_fees!r}; known: {', '.join(FEE_SCHEDULES)}"
            )
        maker = maker if maker is not None else FEE_SCHEDULES[exchange_fees][0]
        taker = taker if taker is not None else FEE_SCHEDULES[exchange_fees][1]
    if fill_at not in (None, "next_open", "close"):
        raise ConfigError(f"--fill-at must be next_open or close, not {fill_at!r}")
    if intrabar not in ("ohlc", "olhc", "nearest"):
        raise ConfigError(f"--intrabar must be ohlc, olhc or nearest, not {intrabar!r}")
    share = (
        None if volume_share.lower() == "none" else parse_fraction(volume_share, "--volume-share")
    )
    slip = parse_fraction(slippage, "--slippage")
    data_dir = _data_dir(data, compiled)
    progress_on = (not as_json and sys.stderr.isatty()) if show_progress is None else show_progress
    with _LazyProgress(progress_on) as bar:
        options = BacktestOptions(
            data_dir=data_dir,
            start=start,
            end=end,
            initial_equity=Decimal(equity) if equity is not None else None,
            maker_fee=maker,
            taker_fee=taker,
            slippage="fixed_bps" if slip is not None else None,
            slippage_params={"bps": float(slip * 10_000)} if slip is not None else None,
            fill_at=fill_at,
            intrabar_path=intrabar,
            volume_share=share,
            latency_ms=latency_ms,
            sample_seed=seed,
            on_progress=bar,
        )
        if fast:
            from sparkstacker.backtest.fast import run_fast

            result = run_fast(compiled, registry, options)
        else:
            result = run_backtest(compiled, registry, options)
    metrics = compute_metrics(result)
    if as_json:
        typer.echo(json.dumps(to_json(result, metrics), indent=2, default=str))
    else:
        render_terminal(result, metrics, console)
    if report is not None:
        written = write_html(result, metrics, report)
        if not as_json:
            console.print(f"HTML report: {written}")
    if png is not None:
        write_png(result, png, metrics)
    if trades_csv is not None:
        write_trades_csv(result, trades_csv)


def _data_dir(data: Path | None, compiled: object) -> Path | None:
    """A folder is the store; a file is imported into a temporary store for the rules' market."""
    if data is None or data.is_dir():
        return data
    if not data.exists():
        raise ConfigError(f"--data {data}: no such file or folder")
    from sparkstacker.data.importers import import_file
    from sparkstacker.data.store import CandleStore

    markets = {(p.venue.split(".")[0], p.symbol) for p in compiled.strategies}  # type: ignore[attr-defined]
    if len(markets) != 1:
        raise ConfigError(
            f"--data {data} is one file but the rules trade {len(markets)} markets; "
            "import each file with `spark-stacker data import` and pass the store folder"
        )
    ((venue, symbol),) = markets
    folder = Path(tempfile.mkdtemp(prefix="spark-stacker-data-"))
    import_file(CandleStore(folder), data, venue=venue, symbol=symbol)
    return folder


class _LazyProgress:
    """A progress bar opened on the runner's first report, when the bar count is known."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._stack = ExitStack()
        self._bar: Any = None

    def __enter__(self) -> _LazyProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from sparkstacker.backtest.report import progress

            self._bar = self._stack.enter_context(progress(total, True, console=err))
        self._bar.update(done)
