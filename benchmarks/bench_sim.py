"""Time ``SimExchange.on_bar`` over 1M synthetic 1-minute bars and print bars per second.

Scenarios: a flat account (the hot path), a held position (liquidation and hourly funding
checks), a resting limit that is never reached, and a churn of market orders (about 80k orders
and fills per million bars, the engine's target load; the order objects are built in the loop).

    python benchmarks/bench_sim.py [--bars 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

import numpy as np
from sparkstacker.model import Instrument, Order, OrderType, Side
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
from sparkstacker_plugins.exchanges.sim.options import SimOptions
from sparkstacker_plugins.slippage.models import FixedBps

SYMBOL = "ETH-USD"
MINUTE = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000


def synthetic_bars(count: int, seed: int = 7) -> tuple[list[float], ...]:
    """A geometric random walk around 2000 with plausible 1m ranges and volumes."""
    rng = np.random.default_rng(seed)
    closes = 2000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0004, count)))
    opens = np.concatenate(([2000.0], closes[:-1]))
    wick = np.abs(rng.normal(0.0, 0.0003, (2, count)))
    highs = np.maximum(opens, closes) * (1 + wick[0])
    lows = np.minimum(opens, closes) * (1 - wick[1])
    volumes = rng.lognormal(3.0, 1.0, count)
    stamps = T0 + MINUTE * np.arange(count, dtype=np.int64)
    return (
        stamps.tolist(),
        np.round(opens, 2).tolist(),
        np.round(highs, 2).tolist(),
        np.round(lows, 2).tolist(),
        np.round(closes, 2).tolist(),
        volumes.tolist(),
    )


def new_sim(**options: object) -> SimExchange:
    sim = SimExchange("bench", SimOptions(**options), slippage_model=FixedBps(1))  # type: ignore[arg-type]
    sim.add_market(
        Instrument(
            symbol=SYMBOL,
            venue="sim",
            base="ETH",
            quote="USD",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.001"),
            min_notional=Decimal(10),
            max_leverage=Decimal(50),
        ),
        timeframe="1m",
    )
    return sim


def order(cid: str, side: Side, kind: OrderType, size: str, price: str | None = None) -> Order:
    return Order(
        client_order_id=cid,
        venue="sim",
        symbol=SYMBOL,
        side=side,
        type=kind,
        size=Decimal(size),
        price=Decimal(price) if price else None,
    )


def timed(
    sim: SimExchange,
    bars: tuple[list[float], ...],
    start: int,
    each: Callable[[int], None] | None = None,
) -> tuple[float, float]:
    """Feed ``bars[start:]``; return bars per second of wall time and of this process's CPU
    time (on a shared machine the CPU figure is the steadier one). ``each(i)`` runs after bar i."""
    ts, o, h, lo, c, v = bars
    on_bar = sim.on_bar
    n = len(ts)
    began = time.perf_counter()
    cpu = time.process_time()
    if each is None:
        for i in range(start, n):
            on_bar(SYMBOL, ts[i], o[i], h[i], lo[i], c[i], v[i])
    else:
        for i in range(start, n):
            on_bar(SYMBOL, ts[i], o[i], h[i], lo[i], c[i], v[i])
            each(i)
    wall = time.perf_counter() - began
    cpu = time.process_time() - cpu
    return (n - start) / wall, (n - start) / max(cpu, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=1_000_000)
    args = parser.parse_args()
    bars = synthetic_bars(args.bars)
    ts, o, h, lo, c, v = bars
    results: dict[str, tuple[float, float]] = {}

    results["flat account"] = timed(new_sim(), bars, 0)

    held = new_sim(funding_rate=Decimal("0.0000125"))
    held.on_bar(SYMBOL, ts[0], o[0], h[0], lo[0], c[0], v[0])
    held.submit_order(order("hold", Side.BUY, OrderType.MARKET, "1"))
    results["held position (hourly funding)"] = timed(held, bars, 1)
    assert held.totals()["funding"] != 0

    resting = new_sim()
    resting.on_bar(SYMBOL, ts[0], o[0], h[0], lo[0], c[0], v[0])
    resting.submit_order(order("far", Side.BUY, OrderType.LIMIT, "0.01", "1000"))
    results["resting limit, never reached"] = timed(resting, bars, 1)

    churn = new_sim(initial_equity=Decimal(10_000_000))
    state = {"n": 0, "long": False}
    churn_orders = state

    def trade(i: int) -> None:
        if i % 12 == 0:  # one market order every 12 bars: ~83k orders and fills per 1M bars
            state["n"] += 1
            side = Side.SELL if state["long"] else Side.BUY
            state["long"] = not state["long"]
            churn.submit_order(order(f"c{state['n']}", side, OrderType.MARKET, "0.5"))

    results["~80k market orders per 1M bars"] = timed(churn, bars, 0, trade)
    fills = len(asyncio.run(churn.fills()))

    print(f"on_bar over {args.bars:,} synthetic 1m bars (Python {_python()})")
    print(f"  {'scenario':<34} {'bars/s (wall)':>14} {'bars/s (cpu)':>14} {'µs/bar (cpu)':>13}")
    for name, (wall, cpu) in results.items():
        print(f"  {name:<34} {wall:>14,.0f} {cpu:>14,.0f} {1e6 / cpu:>13.2f}")
    orders = churn_orders["n"]
    print(f"  churn: {orders:,} market orders, {fills:,} fills")


def _python() -> str:
    import platform

    return platform.python_version()


if __name__ == "__main__":
    main()
