"""The latency benchmark's pieces on a few bars (numbers live in benchmarks/RESULTS.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import bench_latency  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sparkstacker.data.sample import ensure_sample
    from sparkstacker.data.store import CandleStore

    root = tmp_path_factory.mktemp("store")
    ensure_sample(CandleStore(root), "hyperliquid", ("ETH-USD",))
    return root


def test_the_every_bar_strategy_sends_one_order_per_bar(store: Path) -> None:
    samples = bench_latency.engine_samples(30, store)
    # Bar 1 has no position yet: the first decision is an entry; every later bar flips.
    assert len(samples) == 30
    assert all(s > 0 for s in samples)


def test_the_runtime_reports_every_order_it_sends(store: Path, tmp_path: Path) -> None:
    whole_bar: list[float] = []
    samples = bench_latency.runtime_samples(25, store, "sqlite://", tmp_path, whole_bar)
    assert len(samples) == 25
    # the same orders timed from the bar's start (paper venues' open phase included)
    assert len(whole_bar) == 25
    assert all(whole >= engine for whole, engine in zip(whole_bar, samples, strict=True))
    assert (tmp_path / "_logs" / "orders.log").stat().st_size > 0


def test_results_section_is_replaced_not_duplicated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Backtest benchmark results\n\nkept\n")
    monkeypatch.setattr(bench_latency, "RESULTS", results)
    bench_latency.write_results("## Order latency\n\nfirst")
    bench_latency.write_results("## Order latency\n\nsecond")
    text = results.read_text()
    assert "kept" in text
    assert "second" in text
    assert "first" not in text
    assert text.count(bench_latency.BEGIN) == 1
    assert bench_latency.percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_the_commit_floor_commits_one_durable_row_per_order(tmp_path: Path) -> None:
    import sqlite3

    samples = bench_latency.commit_floor_samples(12, tmp_path / "floor.db")
    assert len(samples) == 12
    assert all(s > 0 for s in samples)
    with sqlite3.connect(tmp_path / "floor.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM intents").fetchone() == (12,)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_row_reports_the_median_run_and_the_spread_of_p99() -> None:
    fast = [0.0001] * 98 + [0.0005] * 2  # p99 0.5 ms
    slow = [0.0002] * 98 + [0.0020] * 2  # p99 2 ms
    middle = [0.00015] * 98 + [0.0009] * 2  # p99 0.9 ms
    r = bench_latency.row("x", [fast, slow, middle])
    assert (r["runs"], r["orders"]) == (3, 300)
    assert r["p99_ms"] == pytest.approx(0.9)
    assert (r["p99_low"], r["p99_high"]) == (pytest.approx(0.5), pytest.approx(2.0))
    assert r["max_ms"] == pytest.approx(2.0)
    text = bench_latency.table([r, bench_latency.row("y", [fast])])
    assert "| x | 3 | 300 | 0.150 | 0.900 | 0.500 – 2.000 |" in text
    assert "met (median run), not in every run" in text
    assert text.splitlines()[-1].endswith("| met in every run |")
