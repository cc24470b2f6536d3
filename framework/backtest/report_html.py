"""A self-contained HTML backtest report: plotly.js is embedded, the page works offline.

Layout: title and run facts, a synthetic-data banner when it applies, summary cards, how the
run was simulated (assumptions), charts, the metrics, the per-strategy / per-leg split,
monthly returns, a sortable and filterable trade table, risk events and governor actions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from sparkstacker.backtest.metrics import BacktestMetrics
from sparkstacker.backtest.report_charts import Chart, all_charts
from sparkstacker.backtest.report_format import (
    DASH,
    assumption_rows,
    duration,
    metric_rows,
    money,
    pct,
    period,
    profit_factor_text,
    ratio,
    title,
    tone_of,
)
from sparkstacker.backtest.report_html_assets import CSS, TRADES_JS
from sparkstacker.backtest.report_terminal import breakdown_groups
from sparkstacker.backtest.report_trades import trades_payload
from sparkstacker.backtest.result import BacktestResult

MAX_EVENT_ROWS = 1_000
_TONE = {1: "pos", -1: "neg", 0: ""}
_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "scrollZoom": False}


def write_html(result: BacktestResult, metrics: BacktestMetrics, path: str | Path) -> Path:
    """Write the report to ``path`` (parent folders are created) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(result, metrics), encoding="utf-8")
    return target


def render_html(result: BacktestResult, metrics: BacktestMetrics) -> str:
    from plotly.offline import get_plotlyjs

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title(result))}</title>",
        f"<style>{CSS}</style>",
        f"<script>{get_plotlyjs()}</script>",
        "</head><body><main>",
        _header(result, metrics),
        _synthetic_banner(result),
        _cards(metrics),
        _assumptions(result),
        *(_chart(chart) for chart in all_charts(result, metrics)),
        _metrics(metrics),
        _breakdown(metrics),
        _monthly(metrics),
        _trades(result),
        _events("Risk events", result.risk_events, "risk-events"),
        _events("Governor actions", result.governor_actions, "governor-actions"),
        _footer(result),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _header(result: BacktestResult, metrics: BacktestMetrics) -> str:
    facts = [
        ("strategies", ", ".join(result.strategies) or DASH),
        ("rules", ", ".join(result.rule_files) or DASH),
        ("period", period(metrics)),
        ("bars", f"{metrics.bars:,}" + (f" × {duration(_bar(metrics))}" if _bar(metrics) else "")),
        ("engine", result.engine),
    ]
    items = "".join(f"<span><b>{escape(k)}</b> {escape(v)}</span>" for k, v in facts)
    return f'<header><h1>{escape(title(result))}</h1><div class="facts">{items}</div></header>'


def _bar(metrics: BacktestMetrics) -> Any:
    from datetime import timedelta

    return timedelta(seconds=metrics.bar_seconds) if metrics.bar_seconds else None


def _synthetic_banner(result: BacktestResult) -> str:
    if not result.synthetic_data:
        return ""
    return (
        '<div class="banner" id="synthetic-banner"><b>Synthetic sample data.</b> The prices in '
        "this run are generated, not recorded from a market. The results show that the "
        "strategy runs; they say nothing about how it would perform for real.</div>"
    )


def _cards(m: BacktestMetrics) -> str:
    dd = m.max_drawdown
    cards = [
        (
            "Total return",
            pct(m.total_return, signed=True),
            tone_of(m.total_return),
            f"net profit {money(m.net_profit, signed=True)}",
        ),
        ("CAGR", pct(m.cagr, signed=True), tone_of(m.cagr), "365-day year"),
        ("Sharpe", ratio(m.sharpe), tone_of(m.sharpe), f"Sortino {ratio(m.sortino)}"),
        (
            "Max drawdown",
            pct(dd.fraction) if dd else DASH,
            -1 if dd and dd.fraction else 0,
            f"{money(dd.value)} · {duration(dd.duration)}" if dd else "",
        ),
        ("Win rate", pct(m.win_rate, 1), 0, f"{m.trades:,} closed trades"),
        (
            "Profit factor",
            profit_factor_text(m),
            0,
            f"expectancy {money(m.expectancy, signed=True)}",
        ),
        (
            "Fees + funding",
            money(m.fees_paid + m.net_funding),
            0,
            f"fees {money(m.fees_paid)} · funding {money(m.net_funding, signed=True)}",
        ),
        ("Exposure", pct(m.exposure, 1), 0, f"avg hold {duration(m.avg_holding_time)}"),
    ]
    html = "".join(
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value {_TONE[tone]}">{escape(value)}</div>'
        f'<div class="sub">{escape(sub)}</div></div>'
        for label, value, tone, sub in cards
    )
    return f'<section class="cards" id="summary">{html}</section>'


def _assumptions(result: BacktestResult) -> str:
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in assumption_rows(result)
    )
    return (
        '<section id="assumptions"><h2>How this run was simulated</h2>'
        f'<table class="kv">{rows}</table></section>'
    )


def _chart(chart: Chart) -> str:
    import plotly.io as pio

    div = pio.to_html(
        chart.figure,
        include_plotlyjs=False,
        full_html=False,
        config=_PLOTLY_CONFIG,
        div_id=f"chart-{chart.key}",
    )
    caption = f'<p class="caption">{escape(chart.caption)}</p>' if chart.caption else ""
    return (
        f'<section class="chart" data-chart="{escape(chart.key)}"><h2>{escape(chart.title)}</h2>'
        f"{caption}{div}</section>"
    )


def _metrics(m: BacktestMetrics) -> str:
    blocks: dict[str, list[str]] = {}
    for row in metric_rows(m):
        hint = f' <span class="hint">{escape(row.hint)}</span>' if row.hint else ""
        blocks.setdefault(row.section, []).append(
            f"<tr><th>{escape(row.label)}{hint}</th>"
            f'<td class="{_TONE[row.tone]}">{escape(row.text)}</td></tr>'
        )
    tables = "".join(
        f'<div><h3>{escape(name)}</h3><table class="kv num">{"".join(rows)}</table></div>'
        for name, rows in blocks.items()
    )
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in m.notes)
    return (
        f'<section id="metrics"><h2>Metrics</h2><div class="grid">{tables}</div>{notes}</section>'
    )


def _breakdown(m: BacktestMetrics) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "Strategy",
            "Leg / side",
            "Trades",
            "Open",
            "Win rate",
            "Price PnL",
            "Fees",
            "Funding",
            "Net PnL",
        )
    )
    body = []
    for rows, total in breakdown_groups(m):
        for stats in [*rows, *([total] if total else [])]:
            second = stats.leg if stats.direction == "all" else stats.direction
            cls = ' class="total"' if stats is total else ""
            body.append(
                f"<tr{cls}><td>{escape(stats.strategy)}</td>"
                f"<td>{escape('all legs' if second == 'all' else second)}</td>"
                f"<td>{stats.trades:,}</td><td>{stats.open_trades:,}</td>"
                f"<td>{pct(stats.win_rate, 1)}</td><td>{money(stats.pnl, signed=True)}</td>"
                f"<td>{money(stats.fees)}</td><td>{money(stats.funding, signed=True)}</td>"
                f'<td class="{_TONE[tone_of(stats.net_pnl)]}">'
                f"{money(stats.net_pnl, signed=True)}</td></tr>"
            )
        body.append('<tr class="gap"><td colspan="9"></td></tr>')
    if not m.by_strategy_leg:
        return ""
    return (
        '<section id="breakdown"><h2>By strategy and leg</h2><p class="caption">Funding is '
        "paid (negative = received); net PnL = price PnL − fees − funding; win rate counts "
        "closed trades.</p>"
        f'<table class="data num" id="breakdown-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body[:-1])}</tbody></table></section>"
    )


def _monthly(m: BacktestMetrics) -> str:
    if not m.monthly_returns:
        return ""
    years = sorted({y for y, _, _ in m.monthly_returns})
    cells = {(y, mo): r for y, mo, r in m.monthly_returns}
    months = "JFMAMJJASOND"
    head = "<th>Year</th>" + "".join(
        f'<th title="month {i + 1}">{c}</th>' for i, c in enumerate(months)
    )
    rows = []
    for year in years:
        tds = []
        for month in range(1, 13):
            r = cells.get((year, month))
            if r is None:
                tds.append("<td></td>")
                continue
            alpha = min(0.85, abs(r) * 8 + 0.08)
            colour = f"rgba(22,163,74,{alpha:.2f})" if r > 0 else f"rgba(220,38,38,{alpha:.2f})"
            tds.append(f'<td style="background:{colour}">{r * 100:+.1f}</td>')
        rows.append(f"<tr><th>{year}</th>{''.join(tds)}</tr>")
    return (
        '<section id="monthly"><h2>Monthly returns (%)</h2>'
        f'<table class="data num heat"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _trades(result: BacktestResult) -> str:
    if not result.trades:
        return '<section id="trades"><h2>Trades</h2><p class="caption">No trades.</p></section>'
    payload = json.dumps(trades_payload(result), separators=(",", ":"), allow_nan=False)
    payload = payload.replace("</", "<\\/")
    markets = sorted({f"{t.symbol} on {t.venue}" for t in result.trades})
    where = f" — {markets[0]}" if len(markets) == 1 else ""
    return (
        f'<section id="trades"><h2>Trades ({len(result.trades):,}){escape(where)}</h2>'
        '<div class="controls"><select id="f-strategy"></select><select id="f-leg"></select>'
        '<select id="f-dir"></select><span id="t-count"></span>'
        '<span class="pager"><button id="t-prev">‹ prev</button><span id="t-page"></span>'
        '<button id="t-next">next ›</button></span></div>'
        '<div class="scroll"><table class="data num" id="trades-table"><thead></thead>'
        "<tbody></tbody></table></div>"
        '<p class="caption">Click a column to sort. Times UTC. Net = price PnL − fees − '
        "funding. The full list is also written as trades.csv.</p>"
        f'<script type="application/json" id="trades-data">{payload}</script>'
        f"<script>{TRADES_JS}</script></section>"
    )


def _events(heading: str, events: list[dict[str, Any]], key: str) -> str:
    if not events:
        return ""
    columns: list[str] = []
    for event in events[:MAX_EVENT_ROWS]:
        columns.extend(k for k in event if k not in columns)
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_text(e.get(c)))}</td>" for c in columns) + "</tr>"
        for e in events[:MAX_EVENT_ROWS]
    )
    more = (
        f'<p class="caption">Showing the first {MAX_EVENT_ROWS:,} of {len(events):,}.</p>'
        if len(events) > MAX_EVENT_ROWS
        else ""
    )
    return (
        f'<section id="{key}"><h2>{escape(heading)} ({len(events):,})</h2>'
        f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{more}</section>"
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _footer(result: BacktestResult) -> str:
    from sparkstacker import __version__

    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    speed = f" · simulated in {result.elapsed_seconds:.1f} s" if result.elapsed_seconds > 0 else ""
    return (
        f"<footer>spark-stacker {escape(__version__)} · run {escape(result.run_id)} · "
        f"report generated {made}{speed}</footer>"
    )
