"""Distance to liquidation per leg and per group: the engine's estimate, the venue's price, the
status snapshot and the metrics.

A hedged long (main account with little equity, so it can be liquidated) is left open at the end
of a backtest; the engine is then read as the runtime reads it. The expected liquidation price
is the cross-margin formula worked by hand, ``p = (n·entry − cash) / (n·(1 − mmr))``, and the
simulated venue's own ledger computes it independently.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from sparkstacker.backtest.runner import BacktestOptions, BacktestRunner
from sparkstacker.engine.aio import run_coroutine
from sparkstacker.engine.engine import Engine
from sparkstacker.engine.gc_tuning import GcBatch
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker.observe import Metrics, MetricsPlugin
from sparkstacker.runtime.snapshot import engine_state

D = Decimal
T0 = 1_704_067_200_000
RULE = """
strategy "h" {
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1]
    size fixed_units(100)
    leverage 10x
    hedge ratio 20%, leverage 2x, on sim account "hedge", within 10s else unwind
    fees maker 0% taker 0%
    slippage 0 bps
    fill at next_open
}
"""


class Keeping(BacktestRunner):
    """The backtest runner, keeping its engine to read after the run."""

    engine: Engine

    async def _loop(self, engine: Engine, collector: GcBatch) -> int:
        self.engine = engine
        return await super()._loop(engine, collector)


def run(registry) -> Keeping:  # type: ignore[no-untyped-def]
    opens = np.array([100.0, 100.0, 100.0, 99.0, 98.0])
    closes = np.array([100.0, 101.0, 99.0, 98.0, 97.0])  # long 100 @ 100 from bar 2, then down
    frame = BarFrame(
        "1m",
        T0 + 60_000 * np.arange(5, dtype=np.int64),
        opens,
        np.maximum(opens, closes),
        np.minimum(opens, closes),
        closes,
        np.full(5, 1e6),
    )
    runner = Keeping(
        compile_text(RULE, registry),
        registry,
        BacktestOptions(
            frames={("sim", "ETH-USD", "1m"): frame},
            account_equity={"sim": D(1200), "sim.hedge": D(1500)},
        ),
    )
    run_coroutine(runner.run())
    return runner


def test_estimate_matches_the_hand_formula_and_the_venue(registry) -> None:  # type: ignore[no-untyped-def]
    runner = run(registry)
    engine, watch = runner.engine, runner.engine.monitor.liquidation
    assert engine.book.net("sim", "ETH-USD") == D(100)
    assert engine.book.net("sim.hedge", "ETH-USD") == D(-20)
    mark = D(97)  # the last close

    # main: long 100 @ 100 on 1,200 cash → p = (100·100 − 1200) / (100·0.98) = 89.7959…
    main = watch.of("sim", "ETH-USD")
    assert main is not None
    assert main.source == "estimate"
    assert main.price == pytest.approx(D(8800) / D("98"), abs=D("1e-20"))
    assert main.distance == pytest.approx((mark - D(8800) / D(98)) / mark, abs=D("1e-20"))
    # hedge: short 20 @ 100 on 1,500 cash → p = (−20·100 − 1500) / (−20·1.02) = 171.5686…
    hedge = watch.of("sim.hedge", "ETH-USD")
    assert hedge is not None
    assert hedge.price == pytest.approx(D(3500) / D("20.4"), abs=D("1e-20"))

    # the venues' ledgers agree (they quantise to their price grid)
    accounts = [s.account_state() for s in runner.sims.values()]
    reported = {a.venue: a.positions[0].liquidation_price for a in accounts}
    assert float(reported["sim"]) == pytest.approx(float(main.price), rel=1e-6)
    assert float(reported["sim.hedge"]) == pytest.approx(float(hedge.price), rel=1e-6)
    watch.note_accounts(accounts)
    assert watch.of("sim", "ETH-USD").source == "venue"  # type: ignore[union-attr]
    assert watch.of("sim", "ETH-USD").price == reported["sim"]  # type: ignore[union-attr]

    # per leg and per group: the group's distance is its nearer leg's
    legs = {row.leg: row for row in watch.legs()}
    assert set(legs) == {"main", "hedge"}
    assert legs["main"].size == D(100)
    assert legs["hedge"].size == D(-20)
    distance, source = watch.groups()["h"]
    assert distance == min(legs["main"].distance, legs["hedge"].distance)  # type: ignore[type-var]
    assert distance == legs["main"].distance  # 7.4 % below vs 76.9 % above
    assert source == "venue"

    # what `spark-stacker status` shows
    state = engine_state(engine)
    rows = {row["leg"]: row for row in state["positions"]}
    assert D(rows["main"]["liquidation_distance"]) == pytest.approx(
        legs["main"].distance, abs=D("1e-6")
    )
    assert rows["hedge"]["liquidation_source"] == "venue"
    [group] = state["groups"]
    assert (group["strategy"], group["state"], group["main"], group["hedge"]) == (
        "h",
        "hedged",
        "100",
        "-20",
    )
    assert group["liquidation_distance"] == rows["main"]["liquidation_distance"]


def test_the_strategy_gauge_follows_the_legs_and_drops_flat_ones() -> None:
    metrics = Metrics()
    plugin = MetricsPlugin(metrics)

    def scrape() -> dict[tuple[str, ...], float]:
        out: dict[tuple[str, ...], float] = {}
        for family in metrics.registry.collect():
            for sample in family.samples:
                if sample.name == "spark_stacker_strategy_liquidation_distance":
                    labels: dict[str, Any] = sample.labels
                    out[(labels["strategy"], labels["type"], labels["source"])] = sample.value
        return out

    plugin.set_strategy_liquidation_distance(
        strategy="h", type_="main", distance=D("0.074"), source="estimate"
    )
    plugin.set_strategy_liquidation_distance(
        strategy="h", type_="group", distance=D("0.074"), source="estimate"
    )
    assert scrape() == {("h", "main", "estimate"): 0.074, ("h", "group", "estimate"): 0.074}
    # the venue reported a price: one series per leg, under its new source
    plugin.set_strategy_liquidation_distance(
        strategy="h", type_="main", distance=D("0.07"), source="venue"
    )
    assert scrape()[("h", "main", "venue")] == 0.07
    assert ("h", "main", "estimate") not in scrape()
    plugin.set_strategy_liquidation_distance(strategy="h", type_="main", distance=None, source="")
    assert scrape() == {("h", "group", "estimate"): 0.074}
