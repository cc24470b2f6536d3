"""Plotly figures for the HTML report: price with trades, equity and drawdown, funding, PnL.

Times go to plotly as epoch milliseconds on ``date`` axes and arrays stay numpy (plotly
embeds them as compact base64), so a 1M-bar run still makes a report of reasonable size.
Long series are downsampled with a min/max-per-bucket rule that keeps every spike; trade
markers are never dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sparkstacker.backtest.metrics import BacktestMetrics
from sparkstacker.backtest.result import BacktestResult, MarketSeries, RoundTrip

if TYPE_CHECKING:
    import plotly.graph_objects as go

MAX_PRICE_POINTS = 200_000  # price lines above this are downsampled
MAX_CURVE_POINTS = 50_000  # equity, leg PnL and drawdown curves
MAX_CANDLES = 1_500  # up to this many bars the price chart draws candles
SVG_POINTS = 5_000  # traces with more points use WebGL
DAILY_FUNDING_ABOVE = 2_000  # more payments than this are shown as daily sums
DAY_MS = 86_400_000

GREEN, RED, SLATE = "#16a34a", "#dc2626", "#334155"
HEDGE_LONG, HEDGE_SHORT, HEDGE_EXIT = "#0891b2", "#ea580c", "#7c3aed"
BLUE, LIQUIDATION = "#2563eb", "#a21caf"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


@dataclass(frozen=True, slots=True)
class Chart:
    """A figure plus the one-line caption shown under its heading."""

    key: str
    title: str
    figure: go.Figure
    caption: str = ""


def minmax_downsample(
    x: np.ndarray, y: np.ndarray, max_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: each bucket keeps its lowest and highest y, in time order."""
    n = len(y)
    if n <= max_points:
        return x, y
    size = -(-n // max(1, max_points // 2))
    buckets = -(-n // size)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = y
    grid = padded.reshape(buckets, size)
    base = np.arange(buckets) * size
    keep = np.unique(np.concatenate([base + np.nanargmin(grid, 1), base + np.nanargmax(grid, 1)]))
    return x[keep], y[keep]


def _ms(values: Sequence[datetime]) -> np.ndarray:
    return np.array([v.timestamp() * 1000 for v in values], dtype=np.float64)


def _f4(values: Any) -> np.ndarray:
    """float32 for y values: 7 significant digits draw exactly and embed at half the size."""
    return np.asarray(values, dtype=np.float32)


def _line(x: np.ndarray, y: np.ndarray, **kwargs: Any) -> Any:
    import plotly.graph_objects as go

    trace = go.Scattergl if len(x) > SVG_POINTS else go.Scatter
    return trace(x=x, y=y, mode="lines", **kwargs)


def _layout(fig: go.Figure, height: int, **kwargs: Any) -> None:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        font={"family": FONT, "size": 12},
        hovermode="closest",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        **kwargs,
    )
    fig.update_xaxes(type="date", showspikes=True, spikethickness=1, spikemode="across")


# ---- price and trades ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MarkerStyle:
    name: str
    symbol: str
    color: str
    size: int = 9


_ENTRY = {
    ("main", "long"): _MarkerStyle("long entry", "triangle-up", GREEN),
    ("main", "short"): _MarkerStyle("short entry", "triangle-down", RED),
    ("hedge", "long"): _MarkerStyle("hedge long entry", "triangle-up-open", HEDGE_LONG, 10),
    ("hedge", "short"): _MarkerStyle("hedge short entry", "triangle-down-open", HEDGE_SHORT, 10),
}
_EXIT = {
    "main": _MarkerStyle("exit", "x", SLATE, 8),
    "hedge": _MarkerStyle("hedge exit", "x-thin-open", HEDGE_EXIT, 9),
    "liquidated": _MarkerStyle("liquidation", "star", LIQUIDATION, 13),
}
_HOVER = (
    "<b>%{fullData.legendgroup}</b> · %{fullData.name}<br>%{x|%Y-%m-%d %H:%M:%S} UTC"
    "<br>price %{y}<br>size %{customdata[0]}<br>trade net PnL %{customdata[1]:+,.2f}"
    "<extra></extra>"
)


def trades_by_market(
    result: BacktestResult,
) -> tuple[dict[int, list[RoundTrip]], list[RoundTrip]]:
    """Each trade's chart: its own venue and symbol, else the first market of that symbol.

    A hedge on a second account (``hyperliquid.hedge``) draws over the main venue's prices.
    The second list holds trades whose symbol has no price series at all.
    """
    exact = {(m.venue, m.symbol): i for i, m in enumerate(result.markets)}
    by_symbol: dict[str, int] = {}
    for i, m in enumerate(result.markets):
        by_symbol.setdefault(m.symbol, i)
    placed: dict[int, list[RoundTrip]] = defaultdict(list)
    unplaced = []
    for t in result.trades:
        index = exact.get((t.venue, t.symbol), by_symbol.get(t.symbol))
        if index is None:
            unplaced.append(t)
        else:
            placed[index].append(t)
    return placed, unplaced


def price_chart(
    result: BacktestResult,
    market: MarketSeries,
    index: int,
    trades: Sequence[RoundTrip] | None = None,
) -> Chart:
    """Price of one market with every trade's entry and exit on it."""
    import plotly.graph_objects as go

    fig = go.Figure()
    x = market.timestamp.astype(np.float64)
    caption = f"{len(x):,} {market.timeframe} bars"
    if len(x) <= MAX_CANDLES:
        fig.add_trace(
            go.Candlestick(
                x=x,
                open=market.open,
                high=market.high,
                low=market.low,
                close=market.close,
                name="price",
                increasing={"line": {"color": "#64748b"}, "fillcolor": "#ffffff"},
                decreasing={"line": {"color": "#64748b"}, "fillcolor": "#64748b"},
                showlegend=False,
            )
        )
    else:
        close = np.asarray(market.close, dtype=np.float64)
        px, py = minmax_downsample(x, close, MAX_PRICE_POINTS)
        if len(px) < len(x):
            caption += f", close downsampled to {len(px):,} points (min/max per bucket)"
        fig.add_trace(_line(px, _f4(py), name="close", line={"color": "#64748b", "width": 1}))
        fig.data[-1].showlegend = False
    mine = trades_by_market(result)[0].get(index, []) if trades is None else list(trades)
    for trace in _trade_markers(mine):
        fig.add_trace(trace)
    caption += (
        f"; {len(mine):,} trades: ▲ long entry, ▼ short entry, ✕ exit, hollow/thin = hedge leg, "
        "★ liquidation"
    )
    if market.synthetic:
        caption += " — synthetic sample data"
    _layout(fig, 480, xaxis_rangeslider_visible=False, yaxis_title="price")
    fig.update_layout(legend={"orientation": "v", "x": 1.01, "y": 1, "yanchor": "top"})
    return Chart(
        f"price-{index}", f"{market.symbol} on {market.venue} — price and trades", fig, caption
    )


def _trade_markers(trades: Sequence[RoundTrip]) -> list[Any]:
    groups: dict[tuple[str, str, _MarkerStyle], list[RoundTrip]] = defaultdict(list)
    for t in trades:
        side = "short" if t.direction == "short" else "long"
        entry = _ENTRY.get((t.leg, side), _ENTRY["main", side])  # other roles draw as main
        groups[(t.strategy, "entry", entry)].append(t)
        if t.exit_time is not None and t.exit_price is not None:
            style = _EXIT["liquidated" if t.liquidated else "hedge" if t.leg == "hedge" else "main"]
            groups[(t.strategy, "exit", style)].append(t)
    order = [*_ENTRY.values(), *_EXIT.values()]
    keys = sorted(groups, key=lambda k: (k[0], order.index(k[2])))
    return [_marker_trace(s, kind, style, groups[s, kind, style]) for s, kind, style in keys]


def _marker_trace(strategy: str, kind: str, style: _MarkerStyle, trades: list[RoundTrip]) -> Any:
    import plotly.graph_objects as go

    if kind == "entry":
        x = _ms([t.entry_time for t in trades])
        y = _f4([float(t.entry_price) for t in trades])
    else:
        x = _ms([t.exit_time for t in trades if t.exit_time is not None])
        y = _f4([float(t.exit_price or 0) for t in trades])
    data = np.array([[float(t.size), float(t.net_pnl)] for t in trades], dtype=np.float32)
    many = len(trades) > SVG_POINTS
    trace = go.Scattergl if many else go.Scatter
    size = max(4, style.size // 2) if many else style.size
    return trace(
        x=x,
        y=y,
        mode="markers",
        name=style.name,
        legendgroup=strategy,
        legendgrouptitle={"text": strategy},
        customdata=data,
        hovertemplate=_HOVER,
        marker={
            "symbol": style.symbol,
            "color": style.color,
            "size": size,
            "line": {"width": 1 if many else 1.5, "color": style.color},
        },
    )


# ---- equity and drawdown ------------------------------------------------------------------


def equity_chart(result: BacktestResult, metrics: BacktestMetrics) -> Chart:
    """Equity, PnL by leg (when recorded) and drawdown on one shared time axis."""
    from plotly.subplots import make_subplots

    legs = {k: v for k, v in result.equity_by_leg.items() if len(v) == len(result.equity)}
    skipped = sorted(set(result.equity_by_leg) - set(legs))
    rows = 3 if legs else 2
    heights = [0.55, 0.22, 0.23] if legs else [0.72, 0.28]
    fig = make_subplots(
        rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=heights
    )
    x = result.timestamp.astype(np.float64)
    equity = np.asarray(result.equity, dtype=np.float64)
    ex, ey = minmax_downsample(x, equity, MAX_CURVE_POINTS)
    fig.add_trace(_line(ex, _f4(ey), name="equity", line={"color": BLUE, "width": 1.6}), 1, 1)
    fig.add_hline(
        y=float(result.initial_equity),
        line={"dash": "dot", "color": "#94a3b8", "width": 1},
        row=1,
        col=1,
    )
    colours = {"main": GREEN, "hedge": HEDGE_SHORT}
    for name, curve in legs.items():
        lx, ly = minmax_downsample(x, np.asarray(curve, dtype=np.float64), MAX_CURVE_POINTS)
        fig.add_trace(
            _line(
                lx, _f4(ly), name=f"{name} leg PnL", line={"color": colours.get(name), "width": 1.2}
            ),
            2,
            1,
        )
    if len(equity):
        peak = np.maximum.accumulate(np.concatenate([[float(result.initial_equity)], equity]))[1:]
        drawdown = np.where(peak > 0, (equity - peak) / np.where(peak > 0, peak, 1), 0.0) * 100
        dx, dy = minmax_downsample(x, drawdown, MAX_CURVE_POINTS)
        fig.add_trace(
            _line(dx, _f4(dy), name="drawdown %", fill="tozeroy", line={"color": RED, "width": 1}),
            rows,
            1,
        )
    dd = metrics.max_drawdown
    caption = ""
    if dd is not None and dd.fraction > 0:
        end = dd.recovery_time or metrics.end or dd.trough_time
        fig.add_vrect(
            x0=dd.peak_time.timestamp() * 1000,
            x1=end.timestamp() * 1000,
            fillcolor=RED,
            opacity=0.07,
            line_width=0,
        )
        caption = f"shaded: deepest drawdown ({dd.fraction * 100:.2f} %)"
        caption += ", still open at the end" if dd.is_open else ""
    if skipped:
        caption += f"; leg curves {', '.join(skipped)} skipped (length differs from the timeline)"
    if len(ex) < len(x):
        caption += f"; curves downsampled to ≤ {MAX_CURVE_POINTS:,} points (min/max per bucket)"
    _layout(fig, 640 if legs else 520)
    fig.update_yaxes(title_text="equity", row=1, col=1)
    if legs:
        fig.update_yaxes(title_text="leg PnL", row=2, col=1)
    fig.update_yaxes(title_text="drawdown %", row=rows, col=1)
    return Chart("equity", "Equity and drawdown", fig, caption.lstrip("; "))


# ---- funding and trade PnL ----------------------------------------------------------------


def funding_chart(result: BacktestResult) -> Chart | None:
    """Funding payments (positive = paid) and their running total, per market."""
    if not result.funding:
        return None
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    by_market: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p in result.funding:
        by_market[f"{p.symbol} on {p.venue}"].append(
            (p.timestamp.timestamp() * 1000, float(p.payment))
        )
    daily = len(result.funding) > DAILY_FUNDING_ABOVE
    for name, points in by_market.items():
        arr = np.array(sorted(points), dtype=np.float64)
        x, pay = arr[:, 0], arr[:, 1]
        fig.add_trace(
            _line(x, np.cumsum(pay), name=f"{name} cumulative", line={"width": 1.5}),
            secondary_y=True,
        )
        if daily:
            days, inverse = np.unique(np.floor(x / DAY_MS) * DAY_MS, return_inverse=True)
            x = days.astype(np.float64)
            pay = np.bincount(inverse, weights=pay).astype(np.float64)
        colours = np.where(pay > 0, RED, GREEN)
        fig.add_trace(
            go.Bar(
                x=x,
                y=pay,
                name=f"{name} {'daily' if daily else 'payment'}",
                marker={"color": colours},
                opacity=0.6,
            ),
            secondary_y=False,
        )
    _layout(fig, 360, bargap=0)
    fig.update_yaxes(title_text="daily sum" if daily else "payment", secondary_y=False)
    fig.update_yaxes(title_text="cumulative", secondary_y=True, showgrid=False)
    caption = "positive = paid by the account (red), negative = received (green)"
    if daily:
        caption += "; bars are daily sums"
    return Chart("funding", "Funding", fig, caption)


def pnl_histogram(result: BacktestResult) -> Chart | None:
    """Distribution of closed trades' net PnL, winners and losers in their own colour."""
    nets = np.array([float(t.net_pnl) for t in result.trades if not t.is_open], dtype=np.float32)
    if not len(nets):
        return None
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, values, colour in (
        ("winners", nets[nets > 0], GREEN),
        ("losers and flat", nets[nets <= 0], RED),
    ):
        if len(values):
            fig.add_trace(
                go.Histogram(
                    x=values, name=name, marker_color=colour, bingroup=1, opacity=0.8, nbinsx=60
                )
            )
    _layout(fig, 360, barmode="overlay", xaxis_title="net PnL per trade", yaxis_title="trades")
    fig.update_xaxes(type="linear", showspikes=False)
    return Chart("pnl", "Trade PnL distribution", fig, f"{len(nets):,} closed trades, net")


def all_charts(result: BacktestResult, metrics: BacktestMetrics) -> list[Chart]:
    placed, unplaced = trades_by_market(result)
    charts = [price_chart(result, m, i, placed.get(i, [])) for i, m in enumerate(result.markets)]
    if charts and unplaced:
        first = charts[0]
        note = f"; {len(unplaced):,} trades on markets without prices are only in the trade table"
        charts[0] = Chart(first.key, first.title, first.figure, first.caption + note)
    charts.append(equity_chart(result, metrics))
    charts.extend(c for c in (funding_chart(result), pnl_histogram(result)) if c is not None)
    return charts
