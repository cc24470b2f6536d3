"""Text for report cells: one place decides how a ratio, an amount or a duration reads.

The terminal and HTML reports both take their metric rows from :func:`metric_rows`, so the two
always show the same numbers with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sparkstacker.backtest.metrics import BacktestMetrics
from sparkstacker.backtest.result import BacktestResult

DASH = "—"
INFINITY = "∞"


@dataclass(frozen=True, slots=True)
class MetricRow:
    section: str
    label: str
    text: str
    tone: int = 0  # +1 good (green), -1 bad (red), 0 neutral
    hint: str = ""


def pct(value: float | None, digits: int = 2, *, signed: bool = False) -> str:
    if value is None:
        return DASH
    return f"{value * 100:{'+' if signed else ''},.{digits}f} %"


def ratio(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:,.{digits}f}"


def money(value: Decimal | float | None, digits: int = 2, *, signed: bool = False) -> str:
    if value is None:
        return DASH
    return f"{float(value):{'+' if signed else ''},.{digits}f}"


def duration(value: timedelta | None) -> str:
    """``3d 4h``, ``5h 12m``, ``42m``, ``12s``: the two largest units."""
    if value is None:
        return DASH
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def when(value: datetime | None) -> str:
    return DASH if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def tone_of(value: Decimal | float | None) -> int:
    if value is None or value == 0:
        return 0
    return 1 if value > 0 else -1


def profit_factor_text(m: BacktestMetrics) -> str:
    if m.profit_factor is not None:
        return ratio(m.profit_factor)
    if m.gross_profit > 0:
        return f"{INFINITY} (no losing trades)"
    return DASH


def data_origin(result: BacktestResult) -> str:
    """One line per market: what data the run used, with the synthetic flag spelled out."""
    if not result.markets:
        return "not recorded"
    lines = []
    for m in result.markets:
        origin = m.origin or ("synthetic sample data" if m.synthetic else "stored data")
        flag = " — SYNTHETIC, not real prices" if m.synthetic else ""
        lines.append(f"{m.symbol} on {m.venue} {m.timeframe}: {origin}{flag}")
    return "; ".join(lines)


def assumption_rows(result: BacktestResult) -> list[tuple[str, str]]:
    """The runner's assumptions plus what the result itself says (engine, data origin)."""
    rows = [(key.replace("_", " "), str(value)) for key, value in result.assumptions.items()]
    keys = {key for key, _ in rows}
    if "engine" not in keys:
        rows.append(("engine", result.engine))
    if not any(key == "data" or key.startswith("data ") for key in keys):
        rows.append(("data", data_origin(result)))
    elif result.synthetic_data and not any("synthetic" in v.lower() for _, v in rows):
        rows.append(("data", data_origin(result)))  # the runner's words must not hide the flag
    return rows


def title(result: BacktestResult) -> str:
    text = f"Backtest {result.run_id}"
    if result.strategies:
        text += f" — {', '.join(result.strategies)}"
    if result.synthetic_data:
        text += " (synthetic sample data)"
    return text


def metric_rows(m: BacktestMetrics) -> list[MetricRow]:
    """Every metric as a labelled, formatted row, grouped in sections."""
    dd = m.max_drawdown
    deep = dd if dd is not None and dd.fraction > 0 else None
    rows = [
        MetricRow("Performance", "Bars", f"{m.bars:,}", hint=_bar_hint(m)),
        MetricRow("Performance", "Initial equity", money(m.initial_equity)),
        MetricRow("Performance", "Final equity", money(m.final_equity)),
        MetricRow(
            "Performance", "Net profit", money(m.net_profit, signed=True), tone_of(m.net_profit)
        ),
        MetricRow(
            "Performance",
            "Total return",
            pct(m.total_return, signed=True),
            tone_of(m.total_return),
        ),
        MetricRow("Performance", "CAGR", pct(m.cagr, signed=True), tone_of(m.cagr), "365-day"),
        MetricRow("Performance", "Annual volatility", pct(m.annual_volatility)),
        MetricRow("Performance", "Sharpe", ratio(m.sharpe), tone_of(m.sharpe), "rf 0, √bars/yr"),
        MetricRow("Performance", "Sortino", ratio(m.sortino), tone_of(m.sortino), "target 0"),
        MetricRow("Performance", "Calmar", ratio(m.calmar), tone_of(m.calmar), "CAGR / max DD"),
        MetricRow("Risk", "Max drawdown", pct(dd.fraction) if dd else DASH, -1 if dd else 0),
        MetricRow("Risk", "Max drawdown value", money(dd.value) if dd else DASH),
        MetricRow("Risk", "Drawdown peak", when(deep.peak_time) if deep else DASH),
        MetricRow("Risk", "Drawdown trough", when(deep.trough_time) if deep else DASH),
        MetricRow("Risk", "Recovered", _recovery(m)),
        MetricRow("Risk", "Drawdown duration", duration(deep.duration) if deep else DASH),
        MetricRow("Risk", "Longest under water", duration(m.longest_drawdown)),
        MetricRow("Risk", "Exposure", pct(m.exposure, 1), hint="bars in a position"),
        MetricRow("Risk", "Liquidations", str(m.liquidations), -1 if m.liquidations else 0),
        MetricRow("Risk", "Risk events", str(m.risk_events)),
        MetricRow("Risk", "Governor actions", str(m.governor_actions)),
        MetricRow(
            "Risk",
            "Margin-warning actions",
            str(m.margin_actions),
            hint="orders sent on a margin warning before a liquidation",
        ),
        MetricRow("Trades", "Closed trades", f"{m.trades:,}"),
        MetricRow("Trades", "Open at end", f"{m.open_trades:,}"),
        MetricRow("Trades", "Win rate", pct(m.win_rate, 1), hint="net PnL > 0"),
        MetricRow("Trades", "Profit factor", profit_factor_text(m), hint="gross win / gross loss"),
        MetricRow(
            "Trades", "Expectancy", money(m.expectancy, signed=True), tone_of(m.expectancy), "net"
        ),
        MetricRow("Trades", "Average win", money(m.avg_win, signed=True)),
        MetricRow("Trades", "Average loss", money(m.avg_loss, signed=True)),
        MetricRow("Trades", "Best trade", money(m.best_trade, signed=True)),
        MetricRow("Trades", "Worst trade", money(m.worst_trade, signed=True)),
        MetricRow("Trades", "Max consecutive losses", str(m.max_consecutive_losses)),
        MetricRow("Trades", "Average holding time", duration(m.avg_holding_time)),
        MetricRow(
            "Trades",
            "Average bars held",
            DASH if m.avg_bars_held is None else f"{m.avg_bars_held:.1f}",
        ),
        MetricRow("Costs", "Fees paid", money(m.fees_paid), hint="net of rebates"),
        MetricRow("Costs", "Maker rebates", money(m.rebates)),
        MetricRow("Costs", "Funding paid", money(m.funding_paid)),
        MetricRow("Costs", "Funding received", money(m.funding_received)),
        MetricRow("Costs", "Fills", f"{m.fills:,}"),
        MetricRow("Costs", "Maker ratio (fills)", pct(m.maker_ratio, 1)),
        MetricRow("Costs", "Maker ratio (notional)", pct(m.maker_notional_ratio, 1)),
    ]
    return rows


def period(m: BacktestMetrics) -> str:
    return f"{when(m.start)} → {when(m.end)}"


def _bar_hint(m: BacktestMetrics) -> str:
    return "" if m.bar_seconds is None else f"{duration(timedelta(seconds=m.bar_seconds))} bars"


def _recovery(m: BacktestMetrics) -> str:
    dd = m.max_drawdown
    if dd is None:
        return DASH
    if dd.fraction == 0:
        return "no drawdown"
    return when(dd.recovery_time) if dd.recovery_time else "no — still open at the end"
