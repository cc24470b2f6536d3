"""``spark-stacker data …``: import, list, gaps, resample, download, sample, delete."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sparkstacker.cli import app
from sparkstacker.data.frames import describe_ms
from sparkstacker.data.gaps import Gap
from sparkstacker.data.store import CandleStore, DatasetInfo, WriteReport
from sparkstacker.errors import DataError

data_app = typer.Typer(
    help="Market data: import files, download history, list, find gaps, resample, samples.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")
console = Console()

DATA_DIR_HELP = "Store folder (default: SPARKSTACKER_DATA_DIR, else ./spark_stacker_data)."
GAPS_SHOWN = 10
# typer reads parameters from defaults; shared ones are module-level singletons
DATA_DIR_OPTION = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)
FILE_ARGUMENT = typer.Argument(..., help="CSV, JSON, Feather or Parquet file.")
EXCHANGE_OPTIONS = typer.Option([], "--option", "-o", help="Exchange option key=value.")
SAMPLE_SYMBOLS_OPTION = typer.Option(
    [], "--symbol", "-s", help="Symbols (default ETH-USD, BTC-USD, SOL-USD)."
)


def _store(data_dir: Path | None) -> CandleStore:
    if data_dir is not None:
        return CandleStore(data_dir)
    from sparkstacker.config import load_settings

    return CandleStore(load_settings().data_dir)


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def _minute(ms: int | None) -> str:
    return "" if ms is None else describe_ms(ms)[:16]


def _origin(info: DatasetInfo) -> str:
    if not info.synthetic:
        return escape(info.source)
    text = "[bold yellow]SYNTHETIC[/]"
    match = re.search(r"seed (-?\d+)", info.source)
    if match:
        text += f" seed {match.group(1)}"
    if "resampled" in info.source:
        text += ", resampled"
    return text


def _print_report(report: WriteReport) -> None:
    console.print(escape(report.summary()), highlight=False)
    _print_gaps(report.gaps)


def _print_gaps(gaps: tuple[Gap, ...] | list[Gap], shown: int = GAPS_SHOWN) -> None:
    for gap in gaps[:shown]:
        console.print(f"  gap: {gap.describe()}", highlight=False)
    if len(gaps) > shown:
        console.print(
            f"  … and {len(gaps) - shown} more gap(s) (`spark-stacker data gaps` lists them)"
        )


def _time(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    from sparkstacker.data.frames import timestamp_ms

    try:
        return timestamp_ms(value)
    except DataError:
        raise DataError(
            f"{option} {value!r} is not a time; use ISO form such as 2024-05-01 or "
            "2024-05-01T12:00Z"
        ) from None


@data_app.command("import")
def import_(
    file: Path = FILE_ARGUMENT,
    venue: str | None = typer.Option(None, "--venue", help="Venue name (inferred for freqtrade)."),
    symbol: str | None = typer.Option(None, "--symbol", help="Market symbol, e.g. ETH-USD."),
    timeframe: str | None = typer.Option(None, "--timeframe", help="Bar length, e.g. 1m."),
    mapping: str | None = typer.Option(
        None, "--map", help="Column names, target=source: open=o,timestamp=Date"
    ),
    funding: bool = typer.Option(False, "--funding", help="The file holds funding rates."),
    funding_interval: str | None = typer.Option(
        None, "--funding-interval", help="Funding period (default: from the print spacing)."
    ),
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Import candles (or funding with --funding) from a file into the store."""
    from sparkstacker.data.importers import import_file

    result = import_file(
        _store(data_dir),
        file,
        venue=venue,
        symbol=symbol,
        timeframe=timeframe,
        mapping=mapping,
        funding=funding or None,
        funding_interval=funding_interval,
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    for item in result.inferred:
        console.print(f"inferred {escape(item)}", highlight=False)
    for note in result.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    rate = result.rows_read / result.seconds if result.seconds > 0 else 0.0
    console.print(
        f"read {result.rows_read} rows from {escape(str(file))} in {result.seconds:.2f}s "
        f"({rate:,.0f} rows/s)",
        highlight=False,
    )
    _print_report(result.report)


@data_app.command("list")
def list_(
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List stored datasets: rows, range, gaps, size, and whether they are synthetic."""
    store = _store(data_dir)
    infos = store.datasets()
    if as_json:
        typer.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    if not infos:
        console.print(
            f"no data in {escape(str(store.root))}; `spark-stacker data import|download|sample`"
        )
        return
    table = Table(title=f"Market data in {escape(str(store.root))}")
    for column in ("venue", "symbol", "tf", "rows", "first", "last", "gaps", "size"):
        numeric = column in ("rows", "gaps", "size")
        table.add_column(
            column, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold"
        )
    table.add_column("origin", overflow="fold")
    for info in infos:
        table.add_row(
            escape(info.venue),
            escape(info.symbol),
            info.timeframe or "funding",
            f"{info.rows:,}",
            _minute(info.first),
            _minute(info.last),
            str(info.gaps),
            _size(info.bytes),
            _origin(info),
        )
    console.print(table)
    if any(i.synthetic for i in infos):
        console.print("[yellow]SYNTHETIC datasets are generated sample data, not market data.[/]")


def _select(
    store: CandleStore,
    venue: str | None,
    symbol: str | None,
    timeframe: str | None,
    kind: str = "candles",
) -> list[DatasetInfo]:
    chosen = [
        i
        for i in store.datasets()
        if i.kind == kind
        and (venue is None or i.venue == venue)
        and (symbol is None or i.symbol == symbol)
        and (timeframe is None or i.timeframe == timeframe)
    ]
    if not chosen:
        wanted = " ".join(x for x in (venue, symbol, timeframe) if x) or "any"
        raise DataError(f"no {kind} datasets match ({wanted}) in {store.root}")
    return chosen


@data_app.command("gaps")
def gaps(
    venue: str | None = typer.Option(None, "--venue"),
    symbol: str | None = typer.Option(None, "--symbol"),
    timeframe: str | None = typer.Option(None, "--timeframe"),
    funding: bool = typer.Option(False, "--funding", help="Missing funding prints instead."),
    limit: int = typer.Option(20, "--limit", help="Gaps shown per dataset (0: all)."),
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List missing bars (start, end, count) of stored datasets."""
    store = _store(data_dir)
    kind = "funding" if funding else "candles"
    found: list[tuple[DatasetInfo, list[Gap]]] = []
    for info in _select(store, venue, symbol, None if funding else timeframe, kind):
        if funding:
            found.append((info, store.funding_gaps(info.venue, info.symbol)))
        else:
            assert info.timeframe is not None
            found.append((info, store.gaps(info.venue, info.symbol, info.timeframe)))
    if as_json:
        payload = [
            {
                "venue": i.venue,
                "symbol": i.symbol,
                "timeframe": i.timeframe,
                "synthetic": i.synthetic,
                "gaps": [g.to_dict() for g in found_gaps],
                "missing": sum(g.missing for g in found_gaps),
            }
            for i, found_gaps in found
        ]
        typer.echo(json.dumps(payload, indent=2))
        return
    for info, found_gaps in found:
        missing = sum(g.missing for g in found_gaps)
        title = f"{info.venue} {info.symbol} {info.timeframe or 'funding'}"
        console.print(
            f"[bold]{escape(title)}[/]: {len(found_gaps)} gap(s), {missing} missing"
            + (" [yellow](SYNTHETIC)[/]" if info.synthetic else ""),
            highlight=False,
        )
        _print_gaps(found_gaps, shown=limit or len(found_gaps))


@data_app.command("resample")
def resample(
    source: str = typer.Option("1m", "--from", help="Stored timeframe to build from."),
    target: str = typer.Option(..., "--to", help="Timeframe to build, e.g. 4h."),
    venue: str | None = typer.Option(None, "--venue"),
    symbol: str | None = typer.Option(None, "--symbol"),
    include_partial: bool = typer.Option(
        False, "--include-partial", help="Also keep bars missing some source bars."
    ),
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Build a higher timeframe from stored bars and store it (no look-ahead)."""
    from sparkstacker.data.resample import check_resample, resample_candles

    check_resample(source, target)
    store = _store(data_dir)
    for info in _select(store, venue, symbol, source):
        started = time.perf_counter()
        candles = store.read_candles(info.venue, info.symbol, source)
        result = resample_candles(candles, source, target, include_partial=include_partial)
        label = f"resampled from {source}"
        if info.synthetic:
            label = f"{info.source}, {label}"
        report = store.write_candles(
            info.venue, info.symbol, target, result.frame, synthetic=info.synthetic, source=label
        )
        dropped = (
            f"; {result.partial_dropped} incomplete bar(s) left out"
            if result.partial_dropped
            else ""
        )
        console.print(
            f"{escape(info.venue)} {escape(info.symbol)}: {len(candles)} {source} bars → "
            f"{len(result.frame)} {target} bars in {time.perf_counter() - started:.2f}s{dropped}",
            highlight=False,
        )
        _print_report(report)


def _options(items: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DataError(f"--option {item!r} must look like key=value")
        options[key.strip()] = value.strip()
    return options


@data_app.command("download")
def download(
    exchange: str = typer.Option(
        ..., "--exchange", "-e", help="Exchange plugin, e.g. hyperliquid."
    ),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Market symbol, e.g. ETH-USD."),
    timeframe: str = typer.Option("1m", "--timeframe", "-t"),
    since: str | None = typer.Option(None, "--since", help="Start (ISO); default: resume."),
    until: str | None = typer.Option(None, "--until", help="End (ISO, exclusive); default: now."),
    venue: str | None = typer.Option(None, "--venue", help="Store under this venue name."),
    instance: str | None = typer.Option(None, "--instance", help="Exchange instance name."),
    option: list[str] = EXCHANGE_OPTIONS,
    page_limit: int | None = typer.Option(None, "--page-limit", help="Bars per request."),
    with_funding: bool = typer.Option(True, "--funding/--no-funding", help="Also funding."),
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Download candle (and funding) history from an exchange plugin into the store."""
    from sparkstacker.data.download import download_candles, download_funding
    from sparkstacker.exchange import MarketHistory
    from sparkstacker.registry import Registry

    start, end = _time(since, "--since"), _time(until, "--until")
    plugin = Registry.load().exchanges.get(exchange)
    client = plugin.create(instance or f"{exchange}.data", _options(option))
    if not isinstance(client, MarketHistory):
        raise DataError(
            f"exchange {exchange!r} does not serve market history (its instances have no "
            "candles()/funding_history()); pick a venue that does, or import files instead"
        )
    capabilities = getattr(client, "capabilities", None) or plugin.capabilities
    history_limit = capabilities.max_history_candles
    limit = page_limit or history_limit or 5000
    store = _store(data_dir)
    where = venue or exchange

    async def run() -> list[Any]:
        connect = getattr(client, "connect", None)
        close = getattr(client, "close", None)
        if connect is not None:
            await connect()
        try:
            candles = await download_candles(
                client, store, where, symbol, timeframe, start, end,
                page_limit=limit, history_limit=history_limit,
            )  # fmt: skip
            reports = [candles]
            if with_funding:
                reports.append(await download_funding(client, store, where, symbol, None, end))
            return reports
        finally:
            if close is not None:
                await close()

    reports = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], indent=2))
        return
    for report in reports:
        console.print(escape(report.summary()), highlight=False)
        if report.writes:
            _print_gaps(report.writes[-1].gaps)


@data_app.command("sample")
def sample(
    venue: str = typer.Option("hyperliquid", "--venue", help="Venue name to store under."),
    symbol: list[str] = SAMPLE_SYMBOLS_OPTION,
    days: int = typer.Option(60, "--days", min=1, help="Length in days of 1m bars."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same data)."),
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Write deterministic SYNTHETIC sample data (1m candles + hourly funding)."""
    from sparkstacker.data.sample import SAMPLE_SYMBOLS, ensure_sample

    store = _store(data_dir)
    symbols = tuple(symbol) or SAMPLE_SYMBOLS
    started = time.perf_counter()
    reports = ensure_sample(store, venue, symbols, bars=days * 1440, seed=seed)
    for report in reports:
        console.print(escape(report.summary()), highlight=False)
    skipped = [s for s in symbols if not any(r.symbol == s for r in reports)]
    if skipped:
        console.print(f"already stored (left alone): {escape(', '.join(skipped))}")
    console.print(f"done in {time.perf_counter() - started:.2f}s", highlight=False)


@data_app.command("delete")
def delete(
    venue: str = typer.Option(..., "--venue"),
    symbol: str = typer.Option(..., "--symbol"),
    timeframe: str | None = typer.Option(
        None, "--timeframe", help="Only this timeframe (default: all, and the funding)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Delete stored data of one market."""
    store = _store(data_dir)
    what = f"{venue} {symbol} {timeframe or '(all timeframes and funding)'}"
    if not yes and not typer.confirm(f"delete {what} from {store.root}?"):
        raise typer.Exit(1)
    removed = store.delete(venue, symbol, timeframe)
    if not removed:
        raise DataError(f"nothing stored for {what} in {store.root}")
    for folder in removed:
        console.print(f"removed {escape(str(folder))}", highlight=False)
