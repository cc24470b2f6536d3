"""The event engine's unit costs, in CPU time: one order cycle, and one bar with nothing to do.

* **order cycle** — a signal at a bar close through the whole engine: sizing, ``Order``,
  order manager, pre-trade risk, the simulated venue's validation, the fill at the next open,
  the report back, positions and settlement (a flip every bar, one market order each);
* **idle bar** — ``run_backtest`` over bars on which the strategy never acts (the event
  engine's floor per bar: venue, clock, marks; includes compiling and the result);
* **flip run** — ``run_backtest`` with the benchmark's MACD(12,26,9) flip (about one trade per
  12 bars), as bars per second.

CPU time (``process_time``), best of ``--repeats``: the machine may be shared.

    python benchmarks/bench_event_cycle.py [--cycles 5000] [--bars 200000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from decimal import Decimal
from typing import Any

import numpy as np
from sparkstacker.backtest.api import run_backtest
from sparkstacker.backtest.instruments import simulated_instrument
from sparkstacker.context import RunContext
from sparkstacker.engine.clock import SimulatedClock
from sparkstacker.engine.context import BarContext
from sparkstacker.engine.engine import Engine
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model import Direction
from sparkstacker.plugins import make_plugin_manager
from sparkstacker.registry import Registry
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
from sparkstacker_plugins.exchanges.sim.options import SimOptions

T0 = 1_704_067_200_000
MINUTE = 60_000
CYCLE_RULES = """
strategy "cycle" {
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1]
    enter short when close < close[1]
    size fixed_units(1)
    leverage 1x
}
"""
RUN_RULES = """
strategy "bench" {{
    market ETH-USD on sim
    timeframe 1m
    let m = macd(close, 12, 26, 9)
    enter long  when {long}
    enter short when {short}
    size fixed_units(1)
    leverage 1x
    fees maker 0.05% taker 0.05%
    slippage 0 bps
    fill at next_open
}}
"""


def cycle_us(registry: Registry, cycles: int) -> float:
    """CPU µs per order cycle: a flip signal every bar, filled at the next bar's open."""
    plan = compile_text(CYCLE_RULES, registry).strategies[0]
    sim = SimExchange("sim", SimOptions(volume_share=None, initial_equity=Decimal(10**7)))
    sim.add_market(simulated_instrument("sim", "ETH-USD", 2000.0), timeframe="1m")
    sim.on_bar("ETH-USD", T0, 2000.0, 2000.0, 2000.0, 2000.0, 1e6)
    clock = SimulatedClock(T0 + MINUTE)
    engine = Engine(
        run=RunContext(run_id="cycle", mode="backtest", registry=registry),
        pm=make_plugin_manager(autoload=False),
        venues={"sim": sim},
        clock=clock,
    )
    slot = engine.add_strategy(plan, registry.strategies.get("rule").create(plan))

    async def run() -> None:
        await engine.start()
        ts = T0
        bar = (2000.0, 2000.0, 2000.0, 2000.0, 1e6)
        for i in range(cycles):
            ts += MINUTE
            clock.set_ms(ts)
            events = sim.on_bar_open("ETH-USD", ts, *bar)
            if events:
                await engine.handle_events(events)
            events = sim.on_bar_close("ETH-USD")
            if events:
                await engine.handle_events(events)
            clock.set_ms(ts + MINUTE)
            ctx = BarContext(engine, slot, i, ts + MINUTE, bar)
            side = Direction.LONG if i % 2 == 0 else Direction.SHORT
            await engine.signal(slot, side, ctx, reason="bench")

    began = time.process_time()
    asyncio.run(run())
    spent = time.process_time() - began
    if len(engine.orders.fills) < cycles - 1:
        raise RuntimeError(f"expected a fill per cycle, got {len(engine.orders.fills)}")
    return spent / cycles * 1e6


def frame(bars: int, seed: int = 1) -> BarFrame:
    rng = np.random.default_rng(seed)
    close = np.round(2000 * np.exp(np.cumsum(rng.normal(0, 0.001, bars))), 1)
    open_ = np.concatenate([[2000.0], close[:-1]])
    return BarFrame(
        "1m",
        T0 + MINUTE * np.arange(bars, dtype=np.int64),
        open_,
        np.maximum(open_, close) * 1.0005,
        np.minimum(open_, close) * 0.9995,
        close,
        np.full(bars, 1e6),
    )


def run_cpu(registry: Registry, rules: str, bars: BarFrame) -> tuple[float, Any]:
    began = time.process_time()
    result = run_backtest(
        rules, bars, registry=registry, volume_share=None, initial_equity=Decimal(1_000_000)
    )
    return time.process_time() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=5000)
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    registry = Registry.load(autoload=False)
    idle = RUN_RULES.format(long="close > 1000000000", short="close < 0")
    flip = RUN_RULES.format(
        long="m.macd crosses above m.signal", short="m.macd crosses below m.signal"
    )
    run_cpu(registry, flip, frame(2_000))  # warm-up: imports, TA-Lib, the parser
    cycle = min(cycle_us(registry, args.cycles) for _ in range(args.repeats))
    bars = frame(args.bars)
    idle_s = min(run_cpu(registry, idle, bars)[0] for _ in range(args.repeats))
    flips = [run_cpu(registry, flip, bars) for _ in range(args.repeats)]
    flip_s = min(spent for spent, _ in flips)
    trades = len(flips[0][1].trades)
    print(f"order cycle: {cycle:8.1f} µs CPU ({args.cycles:,} cycles, best of {args.repeats})")
    print(f"idle bar:    {idle_s / args.bars * 1e6:8.3f} µs CPU (whole run / {args.bars:,} bars)")
    print(
        f"flip run:    {args.bars / flip_s:10,.0f} bars/s CPU ({trades:,} trades, "
        f"{flip_s:.2f} s for {args.bars:,} bars)"
    )


if __name__ == "__main__":
    main()
