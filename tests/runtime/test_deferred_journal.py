"""Deferred journal appends and lifecycle hooks: same record, same order, nothing left behind.

The runtime queues the journal appends other than the intent and the ``on_order_event`` /
``on_fill`` hooks while a bar is handled (``OrderManager.deferring``) and runs them once its
requests left. Two in-process paper runs of the same bars — one with the queue switched off —
must leave the same journal and the same orders.log; a backtest never queues.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from runkit import RULES
from sparkstacker import hookimpl
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.engine.orders import OrderManager
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model import FillEvent, OrderSubmission
from sparkstacker.plugins import make_plugin_manager
from sparkstacker.registry import Registry
from sparkstacker.runtime import runtime as runtime_module
from sparkstacker.runtime.options import RunOptions
from sparkstacker.runtime.runtime import Runtime, run_sync

HEDGED = RULES / "hedged_flip.rules"
BARS = 240


class Sequence:
    """Records when requests are approved (synchronous) and when the fill hooks run."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str]] = []
        self.fill_was_latest: list[bool] = []  # the hook's fill is the engine's latest applied
        self.engine: Any = None

    @hookimpl
    def startup(self, run: Any) -> None:
        self.engine = run.extras.get("engine")

    @hookimpl
    def submit_order(self, submission: OrderSubmission) -> None:
        self.steps.append(("submit", submission.order.client_order_id))

    @hookimpl
    def on_fill(self, event: FillEvent) -> None:
        self.steps.append(("fill", event.order.client_order_id))
        if self.engine is not None:
            latest = self.engine.orders.fills[-1]
            self.fill_was_latest.append(latest.fill_id == event.fill.fill_id)

    def alternates(self) -> bool:
        """Approve, fill, approve, fill…: each order's fill hook ran before the next approval."""
        kinds = [kind for kind, _ in self.steps]
        return kinds == (["submit", "fill"] * len(kinds))[: len(kinds)]


@dataclass
class PaperRun:
    run_id: str
    db: str
    orders_log: list[dict[str, Any]]
    sequence: Sequence
    leftovers: list[int] = field(default_factory=list)


def run_options(work: Path, store: Path, db: str) -> RunOptions:
    return RunOptions(
        speed=None,
        bar_ms=None,
        bars=BARS,
        data_dir=store,
        db=db,
        log_dir=work / "logs",
        state_dir=work / "state",
        metrics=False,
        reload=False,
    )


def paper_run(work: Path, store: Path, monkeypatch: pytest.MonkeyPatch, *, defer: bool) -> PaperRun:
    work.mkdir()
    db = f"sqlite:///{work / 'journal.db'}"
    sequence = Sequence()
    leftovers: list[int] = []
    after_bar = Runtime._after_bar

    def checked_after_bar(self: Runtime, *args: Any) -> None:
        assert self.engine is not None
        leftovers.append(len(self.engine.orders.queued()) + self.engine.orders.is_deferring)
        after_bar(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(runtime_module.Runtime, "_after_bar", checked_after_bar)
        if not defer:
            patch.setattr(OrderManager, "deferring", lambda self: contextlib.nullcontext())
        options = run_options(work, store, db)
        registry = Registry(make_plugin_manager(plugins=[sequence]))
        cwd = os.getcwd()
        os.chdir(work)
        try:
            result = run_sync(Runtime(options, [str(HEDGED)], registry=registry))
        finally:
            os.chdir(cwd)
    assert result.status == "completed", result.status
    lines = (work / "logs" / "orders.log").read_text().splitlines()
    return PaperRun(result.run_id, db, [json.loads(line) for line in lines], sequence, leftovers)


def _same_ids(text: str, run_id: str) -> str:
    return text.replace(run_id, "RUN").replace(run_id[:12], "RUN")


def journal_record(run: PaperRun) -> tuple[list[Any], list[Any], dict[str, list[Any]]]:
    """Orders, fills and every order's lifecycle steps, with the run's own id taken out."""
    with Journal(run.db, durability="fast") as journal:
        orders = journal.orders(run.run_id)
        fills = journal.fills(run.run_id)
        steps = {
            _same_ids(o.client_order_id, run.run_id): [
                (e.kind, e.order.status, e.order.filled_size, e.reason, e.timestamp)
                for e in journal.order_events(o.client_order_id)
            ]
            for o in orders
        }
    order_rows = [
        (_same_ids(o.client_order_id, run.run_id), o.status, o.filled_size, o.side, o.size)
        for o in orders
    ]
    fill_rows = [
        (
            f.fill_id.split("-", 1)[1],  # the paper account's id leads (each run has its own)
            _same_ids(f.client_order_id or "", run.run_id),
            f.size,
            f.price,
            f.timestamp,
        )
        for f in fills
    ]
    return order_rows, fill_rows, steps


def log_lines(run: PaperRun) -> list[str]:
    out = []
    for line in run.orders_log:
        if line.get("fill"):  # the paper account's id leads a fill id (each run has its own)
            line["fill"]["fill_id"] = line["fill"]["fill_id"].split("-", 1)[1]
        out.append(_same_ids(json.dumps(line, sort_keys=True), run.run_id))
    return out


@pytest.fixture(scope="module")
def runs(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[PaperRun, PaperRun]:
    root = tmp_path_factory.mktemp("deferred")
    with pytest.MonkeyPatch.context() as monkeypatch:
        deferred = paper_run(root / "deferred", sample_store, monkeypatch, defer=True)
        direct = paper_run(root / "direct", sample_store, monkeypatch, defer=False)
    return deferred, direct


def test_the_journal_receives_the_same_events_in_the_same_order(
    runs: tuple[PaperRun, PaperRun],
) -> None:
    deferred, direct = runs
    orders, fills, steps = journal_record(deferred)
    assert len(fills) >= 4, "the run should trade (several fills)"
    assert any(row[0].endswith("-1") for row in orders)
    assert (orders, fills, steps) == journal_record(direct)


def _signals_and_funding(run: PaperRun) -> tuple[list[Any], list[Any]]:
    with Journal(run.db, durability="fast") as journal, journal.engine.connect() as conn:
        signals = conn.exec_driver_sql(
            "SELECT direction, accepted, decision_reason, timestamp FROM signals "
            "WHERE run_id = ? ORDER BY id",
            (run.run_id,),
        ).all()
        funding = conn.exec_driver_sql(
            "SELECT venue, symbol, timestamp, rate, payment FROM funding_payments "
            "WHERE run_id = ? ORDER BY id",
            (run.run_id,),
        ).all()
    return [tuple(r) for r in signals], [tuple(r) for r in funding]


def test_signals_and_funding_are_journaled_the_same_after_the_bar(
    runs: tuple[PaperRun, PaperRun],
) -> None:
    deferred, direct = runs
    signals, funding = _signals_and_funding(deferred)
    assert signals, "the run should decide"
    assert funding, "hourly funding should be paid over the run"
    assert (signals, funding) == _signals_and_funding(direct)


def test_orders_log_receives_the_same_lines_in_the_same_order(
    runs: tuple[PaperRun, PaperRun],
) -> None:
    deferred, direct = runs
    lines = log_lines(deferred)
    assert any('"fill"' in line for line in lines)
    assert lines == log_lines(direct)


def test_fill_hooks_wait_for_the_bars_end_only_when_deferring(
    runs: tuple[PaperRun, PaperRun],
) -> None:
    deferred, direct = runs
    # Without the queue a fill's hook runs as the fill applies; with it, after the bar's other
    # fills (the hedge's, filled at the same open) were applied too.
    assert direct.sequence.fill_was_latest
    assert all(direct.sequence.fill_was_latest)
    assert not all(deferred.sequence.fill_was_latest)
    assert len(deferred.sequence.fill_was_latest) == len(direct.sequence.fill_was_latest)


def test_nothing_is_left_queued_after_a_bar(runs: tuple[PaperRun, PaperRun]) -> None:
    deferred, _ = runs
    assert len(deferred.leftovers) == BARS
    assert set(deferred.leftovers) == {0}


@pytest.mark.parametrize("defer", [True, False])
def test_a_journal_error_while_deferred_fails_the_run_as_before(
    tmp_path: Path, sample_store: Path, monkeypatch: pytest.MonkeyPatch, defer: bool
) -> None:
    """The third fill's append fails: the same error leaves the run, which ends "failed"."""
    db = f"sqlite:///{tmp_path / 'journal.db'}"
    record = Journal.record_order_event
    fills = []

    def failing(self: Journal, run_id: str, event: Any) -> None:
        if event.fill is not None:
            fills.append(event.fill.fill_id)
            if len(fills) == 3:
                raise JournalError("disk full (injected)")
        record(self, run_id, event)

    monkeypatch.setattr(Journal, "record_order_event", failing)
    if not defer:
        monkeypatch.setattr(OrderManager, "deferring", lambda self: contextlib.nullcontext())
    runtime = Runtime(run_options(tmp_path, sample_store, db), [str(HEDGED)])
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(JournalError, match=r"disk full \(injected\)"):
            run_sync(runtime)
    finally:
        os.chdir(cwd)
    assert runtime.bars < BARS
    with Journal(db, durability="fast") as journal:
        [run] = journal.runs()
        assert run.status == "failed"
        journaled = [f.fill_id for f in journal.fills(run.id)]
    assert journaled == fills  # each fill row is written just before its order event
    logged = (tmp_path / "logs" / "orders.log").read_text()
    assert fills[1] in logged
    assert fills[2] not in logged  # its event never reached the journal, nor the plugins


def test_a_backtest_never_defers(registry: Registry) -> None:
    sequence = Sequence()
    compiled = compile_text(
        """
strategy "flip" {
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1]
    enter short when close < close[1]
    size fixed_units(1)
    leverage 2x
    fill at next_open
}
""",
        registry,
    )
    closes = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0, 100.0, 101.0]
    bars = BarFrame(
        timeframe="1m",
        timestamp=1_704_067_200_000 + 60_000 * np.arange(len(closes), dtype=np.int64),
        open=np.array(closes),
        high=np.array(closes) + 0.5,
        low=np.array(closes) - 0.5,
        close=np.array(closes),
        volume=np.full(len(closes), 1e6),
    )
    options = BacktestOptions(frames={("sim", "ETH-USD", "1m"): bars}, plugins=[sequence])
    result = run_backtest(compiled, registry, options)
    assert len(result.fills) >= 4
    # one market order per bar, filled at the next open: each fill's hook runs as it applies,
    # before the next bar's order is approved (a deferring engine would approve first)
    assert sequence.alternates(), sequence.steps
    assert [kind for kind, _ in sequence.steps].count("fill") == len(result.fills)
