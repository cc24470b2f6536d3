"""A backtest given a journal opens a journal run, names the engine's run after it, and ends it
— ``completed`` with a summary, or ``failed`` with the error when the run raises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sparkstacker import hookimpl
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.context import RunContext
from sparkstacker.errors import SparkStackerError
from sparkstacker.journal import Journal
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame

T0 = 1_704_067_200_000
RULE = """
strategy "j" {
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1]
    enter short when close < close[1]
    size fixed_units(1)
    leverage 2x
}
"""


def bars() -> BarFrame:
    closes = np.array([100.0, 101.0, 100.0, 102.0, 101.0, 101.0])
    opens = np.concatenate([[100.0], closes[:-1]])
    return BarFrame(
        "1m",
        T0 + 60_000 * np.arange(len(closes), dtype=np.int64),
        opens,
        np.maximum(opens, closes),
        np.minimum(opens, closes),
        closes,
        np.full(len(closes), 1e6),
    )


class Exploding:
    @hookimpl
    def startup(self, run: RunContext) -> None:
        raise SparkStackerError("a plugin failed at start-up")


def test_a_journaled_backtest_is_a_journal_run(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with Journal(f"sqlite:///{tmp_path / 'j.db'}", durability="fast") as journal:
        options = BacktestOptions(frames={("sim", "ETH-USD", "1m"): bars()}, journal=journal)
        result = run_backtest(compile_text(RULE, registry), registry, options)
        [run] = journal.runs(mode="backtest")
        orders = journal.orders(run.id)
        fills = journal.fills(run.id)
    assert run.id == result.run_id
    assert run.status == "completed"
    assert run.summary is not None
    assert (run.summary["fills"], run.summary["orders"]) == (len(result.fills), len(result.orders))
    assert [o.client_order_id for o in orders] == [o.client_order_id for o in result.orders]
    assert {f.fill_id for f in fills} == {f.fill_id for f in result.fills}
    assert len(fills) >= 3


def test_a_failing_journaled_backtest_ends_its_run_failed(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with Journal(f"sqlite:///{tmp_path / 'j.db'}", durability="fast") as journal:
        options = BacktestOptions(
            frames={("sim", "ETH-USD", "1m"): bars()}, journal=journal, plugins=[Exploding()]
        )
        with pytest.raises(SparkStackerError, match="failed at start-up"):
            run_backtest(compile_text(RULE, registry), registry, options)
        [run] = journal.runs(mode="backtest")
    assert run.status == "failed"
    assert run.ended_at is not None
    assert run.summary == {"error": "SparkStackerError: a plugin failed at start-up"}
