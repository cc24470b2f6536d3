"""The backtest loop's shortcuts change nothing: runs of quiet bars taken at once, quiet bars
taken in one call, and the batched garbage collector give the same orders, fills, trades and
equity as feeding every bar through ``on_bar_open`` / ``on_bar_close``."""

from __future__ import annotations

import gc
import weakref
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from sparkstacker.backtest import runner as runner_module
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.engine.gc_tuning import GcBatch, batch_gc
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange

T0 = 1_704_067_200_000
RULE = """
strategy "q" {{
    market ETH-USD on sim
    timeframe 1m
    let m = macd(close, 12, 26, 9)
    enter long  when m.macd crosses above m.signal
    enter short when m.macd crosses below m.signal
    size fixed_units(1)
    leverage {leverage}
    fees maker 0.02% taker 0.05%
    slippage 1 bps
    fill at next_open
    {risk}
}}
"""


def frame(n: int, seed: int, funding: bool) -> BarFrame:
    rng = np.random.default_rng(seed)
    close = np.round(2000 * np.exp(np.cumsum(rng.normal(0, 0.002, n))), 1)
    open_ = np.concatenate([[2000.0], close[:-1]])
    return BarFrame(
        timeframe="1m",
        timestamp=T0 + 60_000 * np.arange(n, dtype=np.int64),
        open=open_,
        high=np.maximum(open_, close) * 1.001,
        low=np.minimum(open_, close) * 0.999,
        close=close,
        volume=rng.uniform(50, 500, n),
        funding=np.full(n, 0.0001) if funding else None,
    )


def run(registry: Any, rule: str, bars: BarFrame, **options: Any) -> Any:
    compiled = compile_text(rule, registry)
    opts = BacktestOptions(frames={("sim", "ETH-USD", "1m"): bars}, **options)
    return run_backtest(compiled, registry, opts)


def outcome(result: Any) -> tuple[Any, ...]:
    """Everything a run produced, with the run's random id taken out of the order ids."""
    prefix = result.run_id[:12]

    def plain(dump: dict[str, Any]) -> dict[str, Any]:
        cid = dump.get("client_order_id")
        return {**dump, "client_order_id": cid.replace(prefix, "RUN") if cid else cid}

    return (
        [plain(f.model_dump()) for f in result.fills],
        [plain(o.model_dump()) for o in result.orders],
        list(result.trades),
        [(p.timestamp, p.symbol, p.payment) for p in result.funding],
        result.equity.tolist(),
        result.final_equity,
        result.liquidations,
    )


CASES = [
    ("2x", "", False),
    ("2x", "", True),  # funding every hour on a held position
    ("20x", "risk stop_loss 1%, take_profit 2%", True),  # triggers resting on the venue
    ("5x", "risk max_duration 30m", False),  # a watched position: every bar is seen
    ("25x", "", True),  # positions liquidated on the way
]


@pytest.mark.parametrize(("leverage", "risk", "funding"), CASES)
def test_shortcuts_change_nothing(
    registry: Any, monkeypatch: pytest.MonkeyPatch, leverage: str, risk: str, funding: bool
) -> None:
    rule = RULE.format(leverage=leverage, risk=risk)
    bars = frame(3_000, seed=7, funding=funding)
    fast = run(registry, rule, bars, volume_share=Decimal("0.5"))
    took: list[int] = []
    original = SimExchange.on_quiet_bars

    def counting(self: SimExchange, *args: Any) -> int:
        taken = original(self, *args)
        took.append(taken)
        return taken

    monkeypatch.setattr(SimExchange, "on_quiet_bars", counting)
    counted = run(registry, rule, bars, volume_share=Decimal("0.5"))
    assert outcome(counted) == outcome(fast)
    monkeypatch.setattr(runner_module._QuietRuns, "of", classmethod(lambda cls, *a: None))
    monkeypatch.setattr(SimExchange, "on_bar_quiet", lambda self, *a: False)
    monkeypatch.setattr(runner_module, "batch_gc", lambda: _NoGc())
    slow = run(registry, rule, bars, volume_share=Decimal("0.5"))
    assert len(slow.fills) > 20  # the strategy really trades
    assert outcome(fast) == outcome(slow)
    if "max_duration" not in risk:
        assert sum(took) > 1_000  # and most bars were taken in runs


class _NoGc:
    def __enter__(self) -> GcBatch:
        return GcBatch(20_000, managed=False)

    def __exit__(self, *exc: object) -> None:
        return None


def test_progress_ticks_are_the_same(registry: Any) -> None:
    rule = RULE.format(leverage="2x", risk="")
    bars = frame(20_000, seed=3, funding=False)
    ticks: list[tuple[int, int]] = []
    run(registry, rule, bars, on_progress=lambda done, total: ticks.append((done, total)))
    assert ticks == [(k, 20_000) for k in range(0, 20_000, 4096)] + [(20_000, 20_000)]


def test_batch_gc_restores_the_collector() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    enabled = gc.isenabled()
    with batch_gc(young=50_000):
        assert gc.get_threshold()[0] == max(50_000, before[0])
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled() == enabled


class _Node:
    other: object = None


def _cycle() -> weakref.ref[_Node]:
    """A two-object cycle nobody refers to: only the cyclic collector frees it."""
    node = _Node()
    node.other = _Node()
    node.other.other = node
    return weakref.ref(node)


def test_batch_gc_steps_free_cycles_made_during_the_run() -> None:
    if gc.get_freeze_count() or not gc.isenabled():
        pytest.skip("the process already froze objects or disabled gc; batch_gc leaves it")
    with batch_gc(young=1_000) as collector:
        assert collector.managed
        assert not gc.isenabled()
        alive = _cycle()
        collector.step()  # fewer than 1,000 young objects since the last collection: no walk
        assert alive() is not None
        kept = [[] for _ in range(1_000)]  # container objects: they count as young objects
        collector.step()
        assert alive() is None, "a cycle made during the run outlived the collector's step"
        assert gc.get_freeze_count() >= len(kept), "the step's survivors were not frozen"
    assert gc.isenabled()


def test_batch_gc_leaves_a_disabled_collector_to_the_application() -> None:
    if gc.get_freeze_count() or not gc.isenabled():
        pytest.skip("the process already froze objects or disabled gc")
    gc.disable()
    try:
        with batch_gc(young=10) as collector:
            alive = _cycle()
            _ = [[] for _ in range(100)]
            collector.step()
            assert not collector.managed
            assert alive() is not None
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_batch_gc_does_not_freeze_an_earlier_runs_garbage() -> None:
    """A loop of backtests in one process: cycles left by the previous run must not be frozen
    (kept alive) for the whole next run."""

    class Node:
        other: object = None

    dead = Node()
    dead.other = Node()
    dead.other.other = dead  # a cycle: only the cyclic collector frees it
    alive = weakref.ref(dead)
    del dead
    if gc.get_freeze_count() or not gc.isenabled():
        pytest.skip("the process already froze objects or disabled gc; batch_gc leaves it")
    with batch_gc():
        assert alive() is None, "the earlier cycle was frozen into the run"
