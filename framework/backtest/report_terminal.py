"""The backtest report in a terminal: metrics, the per-strategy / per-leg split, assumptions."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sparkstacker.backtest.metrics import BacktestMetrics, GroupStats
from sparkstacker.backtest.report_format import (
    MetricRow,
    assumption_rows,
    metric_rows,
    money,
    pct,
    period,
    title,
    tone_of,
)
from sparkstacker.backtest.result import BacktestResult

_TONE = {1: "green", -1: "red", 0: ""}
SECTION_WIDTH = 11


def render_terminal(result: BacktestResult, metrics: BacktestMetrics, console: Console) -> None:
    """Print the report: metrics table, breakdown table, assumptions and notes."""
    console.print(_metrics_table(result, metrics, console))
    if metrics.by_strategy_leg or metrics.by_direction:
        console.print(breakdown_table(metrics))
    console.print(_assumptions_table(result))
    for note in metrics.notes:
        console.print(f"[yellow]note:[/] {note}")
    if result.synthetic_data:
        console.print(
            "[bold yellow]synthetic sample data:[/] prices are generated, not recorded; "
            "these results say nothing about real markets."
        )


def _metrics_table(result: BacktestResult, metrics: BacktestMetrics, console: Console) -> Table:
    """The widest layout that fits without cropping a value.

    In order of preference: sections in two columns with hints; one column with hints; one
    column without hints; section names on their own lines.
    """
    rows = metric_rows(metrics)
    sections = list(dict.fromkeys(row.section for row in rows))
    layouts = [
        ([sections[:2], sections[2:]], True, False),
        ([sections], True, False),
        ([sections], False, False),
        ([sections], False, True),
    ]
    for halves, hints, compact in layouts:
        body = Table.grid(padding=(0, 3))
        for _ in halves:
            body.add_column()
        body.add_row(
            *(_section_table([r for r in rows if r.section in h], hints, compact) for h in halves)
        )
        wide = console.options.update_width(10_000)
        if console.measure(body, options=wide).maximum <= console.width:
            break
    wrapper = Table(
        title=title(result),
        title_style="bold yellow" if result.synthetic_data else "bold",
        caption=f"{period(metrics)} · engine {result.engine} · {metrics.bars:,} bars",
        box=None,
        show_header=False,
        pad_edge=False,
    )
    wrapper.add_column()
    wrapper.add_row(body)
    return wrapper


def _section_table(rows: list[MetricRow], hints: bool, compact: bool = False) -> Table:
    """Metric rows; ``compact`` puts section names on their own line instead of a column."""
    value_width = max(len(r.text) for r in rows)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_header=False)
    if not compact:
        table.add_column("Section", style="bold cyan", no_wrap=True, min_width=SECTION_WIDTH)
    table.add_column("Metric", no_wrap=not compact)
    table.add_column("Value", justify="right", no_wrap=True, min_width=value_width)
    section = ""
    for row in rows:
        if row.section != section and section:
            table.add_section()
        label = Text(row.label)
        if row.hint and hints:
            label.append(f"  {row.hint}", style="dim")
        value = Text(row.text, style=_TONE[row.tone])
        if compact:
            if row.section != section:
                table.add_row(Text(row.section, style="bold cyan"), "")
            table.add_row(label, value)
        else:
            table.add_row(row.section if row.section != section else "", label, value)
        section = row.section
    return table


def breakdown_table(metrics: BacktestMetrics) -> Table:
    """Trades, PnL, fees, funding and win rate per strategy, per leg and per direction."""
    table = Table(title="By strategy and leg", box=box.SIMPLE_HEAVY)
    for name, justify in (
        ("Strategy", "left"),
        ("Leg", "left"),
        ("Trades", "right"),
        ("Open", "right"),
        ("Win rate", "right"),
        ("Price PnL", "right"),
        ("Fees", "right"),
        ("Funding", "right"),
        ("Net PnL", "right"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for group in breakdown_groups(metrics):
        rows, total = group
        for stats in rows:
            table.add_row(*_cells(stats))
        if total is not None:
            table.add_row(*_cells(total), style="bold")
        table.add_section()
    return table


def breakdown_groups(
    metrics: BacktestMetrics,
) -> list[tuple[list[GroupStats], GroupStats | None]]:
    """Blocks of rows: each strategy's legs with its total, then legs and directions overall."""
    blocks: list[tuple[list[GroupStats], GroupStats | None]] = []
    for total in metrics.by_strategy:
        legs = [g for g in metrics.by_strategy_leg if g.strategy == total.strategy]
        blocks.append((legs, total if len(legs) != 1 else None))
    if len(metrics.by_strategy) > 1 and metrics.by_leg:
        blocks.append((list(metrics.by_leg), None))
    if metrics.by_direction:
        blocks.append((list(metrics.by_direction), None))
    return blocks


def _cells(stats: GroupStats) -> list[str | Text]:
    second = stats.leg if stats.direction == "all" else stats.direction
    return [
        stats.strategy if stats.strategy != "all" or stats.leg != "all" else "all",
        "all legs" if second == "all" else second,
        f"{stats.trades:,}",
        f"{stats.open_trades:,}",
        pct(stats.win_rate, 1),
        money(stats.pnl, signed=True),
        money(stats.fees),
        money(stats.funding, signed=True),
        Text(money(stats.net_pnl, signed=True), style=_TONE[tone_of(stats.net_pnl)]),
    ]


def _assumptions_table(result: BacktestResult) -> Table:
    table = Table(title="Assumptions", box=box.SIMPLE, show_header=False)
    table.add_column("What", style="bold")
    table.add_column("Value", overflow="fold")
    for key, value in assumption_rows(result):
        style = "bold yellow" if key == "data" and result.synthetic_data else ""
        table.add_row(key, Text(value, style=style))
    return table
