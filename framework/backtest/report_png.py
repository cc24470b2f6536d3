"""A static equity + drawdown chart (matplotlib, Agg, no pyplot global state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sparkstacker.backtest.metrics import BacktestMetrics
from sparkstacker.backtest.report_charts import minmax_downsample
from sparkstacker.backtest.report_format import pct, profit_factor_text, ratio, title
from sparkstacker.backtest.result import BacktestResult

PNG_SIZE = (1200, 700)  # pixels
DPI = 100
MAX_PNG_POINTS = 20_000


def write_png(
    result: BacktestResult, path: str | Path, metrics: BacktestMetrics | None = None
) -> Path:
    """Equity over drawdown, ``PNG_SIZE`` pixels; key numbers under the title with ``metrics``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(PNG_SIZE[0] / DPI, PNG_SIZE[1] / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    initial = float(result.initial_equity)
    equity = np.asarray(result.equity, dtype=np.float64)
    times = np.asarray(result.timestamp, dtype=np.int64)
    if len(equity):
        x = times.astype("datetime64[ms]")
        ex, ey = minmax_downsample(x, equity, MAX_PNG_POINTS)
        top.plot(ex, ey, color="#2563eb", linewidth=1.2, label="equity")
        top.axhline(initial, color="#94a3b8", linewidth=0.8, linestyle=":")
        peak = np.maximum.accumulate(np.concatenate([[initial], equity]))[1:]
        safe = np.where(peak > 0, peak, 1.0)
        drawdown = np.where(peak > 0, (equity - peak) / safe, 0.0) * 100
        dx, dy = minmax_downsample(x, drawdown, MAX_PNG_POINTS)
        bottom.fill_between(dx, dy, 0, color="#dc2626", alpha=0.45, linewidth=0)
        bottom.plot(dx, dy, color="#dc2626", linewidth=0.8)
    else:
        top.text(0.5, 0.5, "no bars", ha="center", va="center", transform=top.transAxes)
    top.set_title(title(result), fontsize=12, loc="left", pad=18 if metrics else 6)
    if metrics is not None:
        top.text(0, 1.01, _summary(metrics), transform=top.transAxes, fontsize=9, color="#475569")
    top.set_ylabel("equity")
    bottom.set_ylabel("drawdown %")
    for ax in (top, bottom):
        ax.grid(True, color="#e2e8f0", linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(target, format="png", dpi=DPI)
    return target


def _summary(m: BacktestMetrics) -> str:
    dd = pct(m.max_drawdown.fraction) if m.max_drawdown else "—"
    return (
        f"return {pct(m.total_return, signed=True)}   CAGR {pct(m.cagr, signed=True)}   "
        f"Sharpe {ratio(m.sharpe)}   max DD {dd}   trades {m.trades:,}   "
        f"win rate {pct(m.win_rate, 1)}   profit factor {profit_factor_text(m)}"
    )
