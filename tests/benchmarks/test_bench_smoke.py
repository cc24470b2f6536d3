"""The backtest benchmark's pieces, and a tiny run where every installed engine must agree.

Nothing here looks at a time: the benchmark's numbers live in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import bench_backtest  # noqa: E402
from bench_backtest_data import (  # noqa: E402
    MINUTE_MS,
    Bars,
    check_bars,
    load_bars,
    save_npz,
    synthetic_bars,
    to_price_grid,
)
from bench_backtest_engines import ENGINES  # noqa: E402
from bench_backtest_report import disagreements, write_results  # noqa: E402
from bench_backtest_strategy import (  # noqa: E402
    FEE,
    INITIAL_EQUITY,
    RULES,
    crossings,
    run_numpy,
    target_positions,
)

SMOKE_BARS = 3_000
TOLERANCE = 1e-9 * INITIAL_EQUITY  # the script's default --rtol: far below one fee (~1 USD)
ETH_1M = "Alpergulsen__freqtrade/user_data/data/binance/futures/ETH_USDT_USDT-1m-futures.feather"


# ---- data ------------------------------------------------------------------------------------


def test_synthetic_bars_are_deterministic_and_consistent() -> None:
    first, again, other = synthetic_bars(5_000), synthetic_bars(5_000), synthetic_bars(5_000, 7)
    for name in ("timestamp", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    assert not np.array_equal(first.close, other.close)
    check_bars(first, "synthetic")  # raises on any inconsistent bar
    prices = np.concatenate([first.open, first.high, first.low, first.close])
    assert ((prices >= 1_000) & (prices < 10_000)).all()
    # Hyperliquid grid: 5 significant figures, so 0.1 apart between 1,000 and 9,999.9
    assert np.allclose(prices * 10, np.round(prices * 10), rtol=0, atol=1e-6)
    assert (first.volume > 0).all()
    assert (np.diff(first.timestamp) == MINUTE_MS).all()


def test_synthetic_bars_cluster_volatility_have_fat_tails_and_gap_at_the_open() -> None:
    bars = synthetic_bars(200_000)
    returns = np.diff(np.log(bars.close))
    size = np.abs(returns) - np.abs(returns).mean()

    def autocorrelation(lag: int) -> float:
        return float((size[lag:] * size[:-lag]).mean() / size.var())

    assert autocorrelation(1) > 0.1  # i.i.d. returns would give ~0
    assert autocorrelation(60) > 0.05
    kurtosis = ((returns - returns.mean()) ** 4).mean() / returns.var() ** 2
    assert kurtosis > 6  # a Gaussian has 3
    # "fill at next open" must differ from "fill at close": most bars open off the last close
    # (real Binance ETH 1m bars: ~39 %, on a 0.01 tick)
    assert np.mean(bars.open[1:] != bars.close[:-1]) > 0.5


@pytest.mark.parametrize(
    ("price", "on_grid"),
    [(1993.08, 1993.1), (999.987, 999.99), (12345.6, 12346.0), (0.123456, 0.12), (87.6543, 87.65)],
)
def test_prices_round_to_five_significant_figures_and_two_decimals(
    price: float, on_grid: float
) -> None:
    assert to_price_grid(np.array([price]))[0] == on_grid


def test_load_bars_reads_a_real_binance_1m_file(marketdata: Path) -> None:
    path = marketdata / ETH_1M
    if not path.exists():
        pytest.skip(f"{path} is not in this copy of the shared data")
    bars = load_bars(path)
    assert len(bars) == 64_066  # the recording's length (see shared/marketdata/README.md)
    assert (np.diff(bars.timestamp) == MINUTE_MS).all()  # no gaps, per the README
    assert 1_000 < float(bars.close.mean()) < 3_000  # ETH in Jul-Aug 2023
    assert run_numpy(bars.open, bars.close).trades > 1_000


def test_load_bars_names_the_bar_that_breaks_ohlc(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(
        "timestamp,open,high,low,close,volume\n"
        "1700000000000,10,11,9,10.5,1\n"
        "1700000060000,10.5,10.6,10,10.9,1\n"  # close above high
    )
    with pytest.raises(ValueError, match=r"bar 1: high is below"):
        load_bars(csv)


def test_npz_round_trip(tmp_path: Path) -> None:
    bars = synthetic_bars(500)
    save_npz(bars, tmp_path / "b.npz")
    loaded = load_bars(tmp_path / "b.npz")
    assert np.array_equal(loaded.close, bars.close)
    assert np.array_equal(loaded.timestamp, bars.timestamp)


@pytest.mark.parametrize(
    ("text", "count"), [("100000", 100_000), ("100k", 100_000), ("1M", 1_000_000), ("3_000", 3_000)]
)
def test_bar_counts(text: str, count: int) -> None:
    assert bench_backtest.bar_count(text) == count


@pytest.mark.parametrize("text", ["abc", "10", "1.5M", ""])
def test_bad_bar_counts(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"bar count|at least"):
        bench_backtest.bar_count(text)


# ---- strategy --------------------------------------------------------------------------------


def test_target_positions_hold_the_last_signal() -> None:
    signals = np.array([0, 0, 1, 0, 0, -1, 0, 1, 1, 0], dtype=float)
    expected = np.array([0, 0, 1, 1, 1, -1, -1, 1, 1, 1], dtype=float)
    assert np.array_equal(target_positions(signals), expected)


def test_crossings_follow_the_definition_bar_by_bar() -> None:
    import talib

    close = synthetic_bars(4_000).close
    macd, signal, _ = talib.MACD(close, 12, 26, 9)
    above, below = crossings(close)
    assert not above[0]
    assert not below[0]
    for i in range(1, len(close)):
        m0, s0, m1, s1 = macd[i - 1], signal[i - 1], macd[i], signal[i]
        valid = not any(math.isnan(x) for x in (m0, s0, m1, s1))
        assert above[i] == (valid and m1 > s1 and m0 <= s0), i
        assert below[i] == (valid and m1 < s1 and m0 >= s0), i
    # without ties the crossings alternate
    sides = np.where(above, 1, 0) - np.where(below, 1, 0)
    order = sides[sides != 0]
    assert len(order) > 100
    assert (order[1:] != order[:-1]).all()


def _bar_by_bar(bars: Bars) -> tuple[int, float]:
    """The strategy as a plain event loop: fills at the next open, mark to market at the end."""
    above, below = crossings(bars.close)
    cash, position, pending, opened = INITIAL_EQUITY, 0, 0, 0
    for i in range(len(bars)):
        if pending != position:
            price = float(bars.open[i])
            quantity = pending - position
            cash -= quantity * price + FEE * abs(quantity) * price
            opened += 1
            position = pending
        if above[i]:
            pending = 1
        elif below[i]:
            pending = -1
    return opened, cash + position * float(bars.close[-1])


def test_numpy_lower_bound_matches_a_bar_by_bar_simulation() -> None:
    bars = synthetic_bars(20_000)
    trades, final_equity = _bar_by_bar(bars)
    outcome = run_numpy(bars.open, bars.close)
    assert trades > 1_000
    assert outcome.trades == trades
    assert outcome.final_equity == pytest.approx(final_equity, rel=0, abs=1e-6)


def test_the_rule_text_signals_are_the_benchmark_crossings() -> None:
    """Our engines read RULES; its compiled entries must be exactly ``crossings``."""
    from sparkstacker.lang import compile_text
    from sparkstacker.lang.plan import BarFrame
    from sparkstacker.registry import Registry

    bars = synthetic_bars(5_000)
    plan = compile_text(RULES, Registry.load(autoload=False)).strategy("bench_macd")
    frame = BarFrame("1m", bars.timestamp, bars.open, bars.high, bars.low, bars.close, bars.volume)
    prepared = plan.prepare(frame)
    assert prepared.state_free
    enter_long, enter_short = prepared.entries()
    above, below = crossings(bars.close)
    assert np.array_equal(enter_long, above)
    assert np.array_equal(enter_short, below)
    assert plan.costs.fill_at == "next_open"
    assert plan.costs.taker_fee == plan.costs.maker_fee == Decimal(str(FEE))


# ---- report ----------------------------------------------------------------------------------


def _result(engine: str, trades: int, equity: float) -> dict[str, Any]:
    return {"engine": engine, "status": "ok", "bars": 100, "trades": trades, "final_equity": equity}


def test_disagreements_are_flagged_on_trades_and_on_equity_beyond_tolerance() -> None:
    results = [
        _result("numpy", 10, 1000.0),
        _result("vectorbt", 10, 1000.0 + 5e-4),  # within 1e-3
        _result("backtesting", 11, 1000.0),  # one trade more
        _result("backtrader", 10, 1000.0 + 2e-3),  # beyond 1e-3
        {"engine": "sparkstacker-fast", "status": "unavailable", "bars": 100},
    ]
    flagged = {result["engine"] for result, _ in disagreements(results, 1e-3)}
    assert flagged == {"backtesting", "backtrader"}


def test_write_results_replaces_a_run_with_the_same_key_and_puts_new_runs_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nintro\n\n## Runs (newest first)\n")

    def section(key: str, body: str) -> str:
        return f"<!-- bench:begin {key} -->\n{body}\n<!-- bench:end {key} -->\n"

    write_results(path, section("a", "first"), "a")
    write_results(path, section("b", "second"), "b")
    write_results(path, section("a", "first again"), "a")
    text = path.read_text()
    assert text.startswith("# Results\n\nintro\n")
    assert "first\n" not in text.replace("first again\n", "")
    assert text.count("bench:begin a") == 1
    assert text.index("bench:begin b") < text.index("bench:begin a")


# ---- the script at a tiny size ---------------------------------------------------------------

SMOKE_ENGINES = ["numpy", "vectorbt", "backtesting", "backtrader"] + [
    name for name, engine in ENGINES.items() if engine.ours
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    command = [
        sys.executable,
        str(BENCHMARKS / "bench_backtest.py"),
        "--bars",
        str(SMOKE_BARS),
        "--peers",
        ",".join(SMOKE_ENGINES),
        "--repeats",
        "1",
        "--json",
        str(out),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    results = json.loads(out.read_text())["results"] if out.exists() else []
    return {
        "returncode": completed.returncode,
        "output": completed.stdout + completed.stderr,
        "results": {result["engine"]: result for result in results},
    }


@pytest.mark.slow
def test_the_script_finds_every_engine_in_agreement(smoke_run: dict[str, Any]) -> None:
    assert smoke_run["returncode"] == 0, smoke_run["output"]
    assert "all engines agree" in smoke_run["output"]


@pytest.mark.slow
def test_the_numpy_lower_bound_always_runs(smoke_run: dict[str, Any]) -> None:
    numpy_result = smoke_run["results"]["numpy"]
    assert numpy_result["status"] == "ok", smoke_run["output"]
    bars = synthetic_bars(SMOKE_BARS)
    trades, final_equity = _bar_by_bar(bars)
    assert numpy_result["trades"] == trades
    assert numpy_result["final_equity"] == pytest.approx(final_equity, rel=0, abs=1e-6)
    assert numpy_result["bars"] == SMOKE_BARS


@pytest.mark.slow
@pytest.mark.parametrize("engine", [name for name in SMOKE_ENGINES if name != "numpy"])
def test_engine_agrees_with_the_numpy_reference(smoke_run: dict[str, Any], engine: str) -> None:
    missing = ENGINES[engine].missing()
    if missing is not None:
        pytest.skip(missing)
    result, reference = smoke_run["results"][engine], smoke_run["results"]["numpy"]
    assert result["status"] == "ok", result.get("reason", smoke_run["output"])
    assert result["trades"] == reference["trades"]
    assert abs(result["final_equity"] - reference["final_equity"]) <= TOLERANCE
