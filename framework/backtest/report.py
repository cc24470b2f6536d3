"""Backtest reports: terminal (rich), HTML (plotly, offline), PNG, JSON and trades CSV.

metrics = compute_metrics(result)
render_terminal(result, metrics, console)
write_reports(result, metrics, "runs/<id>")   # report.html, equity.png, report.json, trades.csv
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sparkstacker.backtest.metrics import BacktestMetrics
from sparkstacker.backtest.report_html import render_html, write_html
from sparkstacker.backtest.report_json import to_json, write_json
from sparkstacker.backtest.report_png import write_png
from sparkstacker.backtest.report_progress import BarProgress, progress
from sparkstacker.backtest.report_terminal import render_terminal
from sparkstacker.backtest.report_trades import write_trades_csv
from sparkstacker.backtest.result import BacktestResult

__all__ = [
    "BarProgress",
    "ReportFiles",
    "progress",
    "render_html",
    "render_terminal",
    "to_json",
    "write_html",
    "write_json",
    "write_png",
    "write_reports",
    "write_trades_csv",
]


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    png: Path
    json: Path
    trades_csv: Path


def write_reports(
    result: BacktestResult, metrics: BacktestMetrics, folder: str | Path
) -> ReportFiles:
    """Write every file report into ``folder`` (created if needed)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    return ReportFiles(
        html=write_html(result, metrics, out / "report.html"),
        png=write_png(result, out / "equity.png", metrics),
        json=write_json(result, metrics, out / "report.json"),
        trades_csv=write_trades_csv(result, out / "trades.csv"),
    )
