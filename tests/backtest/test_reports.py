"""Report files are written, parse, and say what the metrics say; the HTML renders in Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import struct
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics_kit import (
    fill,
    funding,
    market,
    result,
    synthetic_result,
    trade,
)
from sparkstacker.backtest import report_progress
from sparkstacker.backtest.metrics import compute_metrics
from sparkstacker.backtest.report import (
    progress,
    render_terminal,
    to_json,
    write_html,
    write_png,
    write_reports,
    write_trades_csv,
)
from sparkstacker.backtest.report_charts import (
    MAX_PRICE_POINTS,
    all_charts,
    minmax_downsample,
    price_chart,
)
from sparkstacker.backtest.report_format import metric_rows
from sparkstacker.backtest.report_png import PNG_SIZE
from sparkstacker.backtest.result import BacktestResult

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _crafted(*, synthetic: bool = False, bars: int = 200) -> BacktestResult:
    """Two strategies, main and hedge legs, a liquidation, an open trade, fills and funding."""
    rng = np.random.default_rng(3)
    equity = 1000 + np.cumsum(rng.normal(0.2, 3, bars))
    trades = [
        trade("12.5", strategy="alpha", entry_h=2, exit_h=9, fees="0.4"),
        trade("-3", strategy="alpha", direction="short", entry_h=12, exit_h=20, funding="0.1"),
        trade("1", strategy="alpha", leg="hedge", direction="short", entry_h=2, exit_h=9),
        trade("-40", strategy="beta", entry_h=30, exit_h=41, liquidated=True),
        trade("4", strategy="beta", leg="hedge", direction="short", entry_h=50, exit_h=60),
        trade("2", strategy="beta", entry_h=190, exit_h=None),
    ]
    return result(
        equity,
        initial="1000",
        strategies=("alpha", "beta"),
        trades=trades,
        fills=[fill("100", "1", fee="0.05", fill_id="a"), fill("101", "1", maker=True)],
        funding=[funding("0.2", h) for h in range(1, bars, 8)] + [funding("-0.1", 5)],
        markets=[market(bars, synthetic=synthetic)],
        equity_by_leg={"main": equity - 1000, "hedge": np.zeros(bars)},
        risk_events=[{"time": "2024-01-02", "kind": "daily_loss", "detail": "limit <hit>"}],
        assumptions={
            "fill_timing": "market orders fill at the next bar's open",
            "fees": "taker 4.5 bps, maker 1.5 bps",
            "slippage": "fixed 2 bps <script>",
            "intrabar_path": "open → low → high → close",
        },
    )


# ---- terminal -----------------------------------------------------------------------------


def _terminal(res: BacktestResult, width: int) -> str:
    console = Console(record=True, width=width, force_terminal=False)
    render_terminal(res, compute_metrics(res), console)
    return console.export_text()


@pytest.mark.parametrize("width", [56, 80, 100, 180])
def test_terminal_shows_every_metric_uncropped(width: int) -> None:
    res = _crafted()
    text = _terminal(res, width)
    for row in metric_rows(compute_metrics(res)):
        assert row.text in text, f"{row.label}: {row.text!r} missing at width {width}"
    if width >= 80:  # narrower, the breakdown table folds long names over two lines
        assert "alpha" in text
        assert "hedge" in text
        assert "fill timing" in text


def test_terminal_breakdown_rows_by_hand() -> None:
    text = _terminal(_crafted(), 120)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    # alpha main: +12.5 and -3.0 net; price PnL 12.9 + (-2.9); fees 0.4; funding 0.1
    assert "alpha main 2 0 50.0 % +10.00 0.40 +0.10 +9.50" in lines
    assert "beta main 1 1 0.0 % -38.00 0.00 +0.00 -38.00" in lines  # open trade: money only
    assert "alpha all legs 3 0 66.7 % +11.00 0.40 +0.10 +10.50" in lines
    assert "all hedge 2 0 100.0 % +5.00 0.00 +0.00 +5.00" in lines
    assert "fill timing market orders fill at the next bar's open" in lines


def test_terminal_labels_synthetic_data_in_the_title() -> None:
    synthetic = _terminal(_crafted(synthetic=True), 160)
    title_line = next(line for line in synthetic.splitlines() if "Backtest test-run" in line)
    assert "synthetic sample data" in title_line
    assert "SYNTHETIC, not real prices" in synthetic
    assert "synthetic" not in _terminal(_crafted(), 160).lower()


def test_terminal_profit_factor_for_all_winners() -> None:
    res = result([101.0, 102.0], trades=[trade("5"), trade("1", entry_h=1, exit_h=2)])
    assert "∞ (no losing trades)" in _terminal(res, 160)


# ---- JSON and CSV -------------------------------------------------------------------------


def test_json_round_trip_keeps_exact_values() -> None:
    res = _crafted()
    m = compute_metrics(res)
    data = json.loads(json.dumps(to_json(res, m), allow_nan=False))
    metrics = data["metrics"]
    assert metrics["total_return"] == pytest.approx(float(res.equity[-1]) / 1000 - 1)
    assert metrics["fees_paid"] == "0.05"
    assert Decimal(metrics["gross_loss"]) == 43
    assert metrics["profit_factor"] == pytest.approx(17.5 / 43)
    assert metrics["liquidated_trades"] == 1
    assert metrics["max_drawdown"]["is_open"] in (True, False)
    assert metrics["start"] == "2024-01-01T00:00:00Z"
    assert metrics["avg_holding_time"] == pytest.approx(3600 * (7 + 8 + 7 + 11 + 10) / 5)
    assert {(g["strategy"], g["leg"]) for g in metrics["by_strategy_leg"]} == {
        ("alpha", "main"),
        ("alpha", "hedge"),
        ("beta", "main"),
        ("beta", "hedge"),
    }
    trades = data["trades"]
    assert len(trades) == len(res.trades)
    liquidated = next(t for t in trades if t["liquidated"])
    assert Decimal(liquidated["net_pnl"]) == Decimal(-40)
    open_trade = next(t for t in trades if t["exit_time"] is None)
    assert open_trade["exit_price"] is None
    assert open_trade["strategy"] == "beta"
    for t in trades:
        assert datetime.fromisoformat(t["entry_time"]).tzinfo == UTC
        assert t["entry_time"].endswith("Z")
    assert data["assumptions"]["slippage"] == "fixed 2 bps <script>"
    assert data["run"]["markets"][0]["bars"] == 200


def test_json_of_a_flat_run_is_strict_json() -> None:
    res = result([100.0] * 5)
    data = to_json(res, compute_metrics(res))
    text = json.dumps(data, allow_nan=False)  # raises on NaN / inf
    assert json.loads(text)["metrics"]["sharpe"] is None
    assert data["trades"] == []


def test_trades_csv_has_one_row_per_trade(tmp_path: Path) -> None:
    res = _crafted()
    path = write_trades_csv(res, tmp_path / "out" / "trades.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(res.trades)
    assert [r["entry_time"] for r in rows] == sorted(r["entry_time"] for r in rows)
    by_net = {Decimal(r["net_pnl"]) for r in rows}
    assert by_net == {t.net_pnl for t in res.trades}
    open_row = next(r for r in rows if r["exit_time"] == "")
    assert open_row["exit_price"] == ""
    assert open_row["liquidated"] == "false"
    assert sum(r["liquidated"] == "true" for r in rows) == 1


# ---- PNG ----------------------------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_png_is_a_valid_png_of_the_expected_size(tmp_path: Path) -> None:
    res = _crafted(synthetic=True)
    assert _png_size(write_png(res, tmp_path / "a.png", compute_metrics(res))) == PNG_SIZE
    empty = result([])
    assert _png_size(write_png(empty, tmp_path / "empty.png")) == PNG_SIZE


def test_write_reports_writes_all_four_files(tmp_path: Path) -> None:
    res = _crafted()
    files = write_reports(res, compute_metrics(res), tmp_path / "run")
    for path in (files.html, files.png, files.json, files.trades_csv):
        assert path.is_file()
        assert path.stat().st_size > 0
    assert json.loads(files.json.read_text())["run"]["run_id"] == "test-run"


# ---- HTML (static checks) -----------------------------------------------------------------


def test_html_is_self_contained_and_escapes_text(tmp_path: Path) -> None:
    res = _crafted(synthetic=True)
    html = write_html(res, compute_metrics(res), tmp_path / "r.html").read_text()
    assert "<script src" not in html
    assert "<link" not in html  # nothing fetched: works offline
    assert "plotly.js v" in html  # the library itself is embedded
    assert "fixed 2 bps &lt;script&gt;" in html
    assert "limit &lt;hit&gt;" in html
    assert 'id="synthetic-banner"' in html
    assert "(synthetic sample data)</title>" in html
    for heading in ("How this run was simulated", "By strategy and leg", "Monthly returns"):
        assert heading in html
    plain = write_html(_crafted(), compute_metrics(_crafted()), tmp_path / "p.html").read_text()
    assert "synthetic-banner" not in plain


@pytest.mark.parametrize("equity", [[], [100.0], [100.0] * 5])
def test_html_of_degenerate_runs(tmp_path: Path, equity: list[float]) -> None:
    res = result(equity)
    html = write_html(res, compute_metrics(res), tmp_path / "r.html").read_text()
    assert "No trades." in html
    assert 'data-chart="equity"' in html
    visible = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    for bad in ("NaN", "nan", "inf ", "None"):
        assert bad not in visible


def test_minmax_downsample_keeps_extremes_and_order() -> None:
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=100_003))
    x = np.arange(len(y), dtype=np.float64)
    dx, dy = minmax_downsample(x, y, 1_000)
    assert len(dx) <= 1_000
    assert np.all(np.diff(dx) > 0)
    assert dy.max() == y.max()
    assert dy.min() == y.min()
    assert np.array_equal(dy, y[dx.astype(int)])
    same_x, _ = minmax_downsample(x[:10], y[:10], 1_000)
    assert len(same_x) == 10


def test_big_price_chart_is_downsampled_but_keeps_every_trade_marker() -> None:
    bars = MAX_PRICE_POINTS + 50_000
    res = synthetic_result(bars, 6_000, minutes=1)
    res.trades.append(trade(entry_h=3, exit_h=None, symbol="ETH-USD", leg="hedge"))
    chart = price_chart(res, res.markets[0], 0)
    line, *markers = chart.figure.data
    assert len(line.x) <= MAX_PRICE_POINTS
    assert sum(len(t.x) for t in markers) == 2 * 6_000 + 1  # entries + exits + one open entry
    assert {t.name for t in markers} >= {"long entry", "short entry", "exit", "hedge exit"}
    assert "downsampled" in chart.caption


# ---- HTML in a real browser ---------------------------------------------------------------


def _chromium(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--enable-logging=stderr",
            "--v=0",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def _sections(dom: str) -> dict[str, str]:
    pattern = r'<section class="chart" data-chart="([^"]+)">(.*?)</section>'
    return dict(re.findall(pattern, dom, flags=re.S))


@pytest.mark.slow
def test_html_report_renders_in_chromium(tmp_path: Path) -> None:
    res = _crafted(synthetic=True)
    res.trades.extend(
        trade(str(i % 5 - 2), entry_h=60 + 2 * i, exit_h=61 + 2 * i, strategy="alpha")
        for i in range(60)
    )
    report = write_html(res, compute_metrics(res), tmp_path / "report.html")
    run = _chromium(report.as_uri(), tmp_path, "--dump-dom")
    dom = run.stdout
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    charts = _sections(dom)
    assert set(charts) == {"price-0", "equity", "funding", "pnl"}
    for key, body in charts.items():
        assert 'class="main-svg"' in body, f"chart {key} did not render"
    closed = sum(1 for t in res.trades if not t.is_open)
    points = len(re.findall(r'class="point plotly-customdata"', charts["price-0"]))
    assert points == len(res.trades) + closed  # every entry and every exit drawn
    table = re.search(r'<table[^>]*id="trades-table".*?</table>', dom, flags=re.S)
    assert table is not None
    rows = re.findall(r'<tr class="trade-row">', table.group(0))
    assert len(rows) == 50  # first page of the trade table
    assert f"{len(res.trades)} of {len(res.trades)} trades" in dom
    assert "⚠ liquidated" in table.group(0)
    assert 'id="synthetic-banner"' in dom
    assert "liquidation" in charts["price-0"]  # the legend names the liquidation marker


@pytest.mark.slow
def test_html_report_screenshot_is_not_blank(tmp_path: Path) -> None:
    from PIL import Image

    res = _crafted()
    report = write_html(res, compute_metrics(res), tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    _chromium(report.as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1280,1600")
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 1600)
    pixels = np.asarray(image, dtype=np.float64)
    assert pixels.std() > 10  # cards, charts and text, not an empty page


# ---- progress -----------------------------------------------------------------------------


def test_progress_counts_and_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = {"n": 0}
    real = report_progress.time.monotonic

    def counting() -> float:
        reads["n"] += 1
        return real()

    monkeypatch.setattr(report_progress.time, "monotonic", counting)
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True)
    with progress(200_000, True, console=console) as bar:
        for _ in range(200_000):
            bar.advance()
    assert bar.done == 200_000
    assert reads["n"] < 2_000  # the clock is read on a growing stride, not once per bar
    assert "200000/200000" in out.getvalue()


def test_disabled_progress_is_a_silent_counter() -> None:
    with progress(10, False) as bar:
        bar.advance(3)
        bar.update(7)
    assert bar.done == 7
    assert bar.next_at > 10**15


def test_hedge_on_a_second_account_is_drawn_on_the_symbol_chart() -> None:
    res = _crafted()
    res.trades.append(trade("1", leg="hedge", venue="sim.hedge", entry_h=70, exit_h=72))
    res.trades.append(trade("1", symbol="BTC-USD", entry_h=70, exit_h=72))
    charts = all_charts(res, compute_metrics(res))
    price = charts[0]
    drawn = sum(len(t.x) for t in price.figure.data[1:])
    closed = sum(1 for t in res.trades if not t.is_open and t.symbol == "ETH-USD")
    on_eth = sum(1 for t in res.trades if t.symbol == "ETH-USD")
    assert drawn == on_eth + closed
    assert "1 trades on markets without prices" in price.caption
