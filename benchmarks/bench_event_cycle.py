"""The event engine's unit costs, in CPU time: one order cycle, and one bar with nothing to do.

* **order cycle** — a signal at a bar close through the whole engine: sizing, ``Order``,
  order manager, pre-trade risk, the simulated venue's validation, the fill at the next open,
  the report back, positions and settlement (a flip every bar, one market order each);
* **idle bar** — ``run_backtest`` over bars on which the strategy never acts (the event
  engine's floor per bar: venue, clock, marks; includes compiling and the result);
* **flip run** — ``run_backtest`` with the benchmark's MACD(12,26,9) flip (about one trade per
  12 bars), as bars per second;
* **lean floor** — the same cycle's bookkeeping written as plain Python with no framework
  (:class:`LeanCycle`): lot and minimum-value checks, a margin check, the fill at the next open
  with the venue's slippage, tick rounding and taker fee, the position netted and cash settled
  on both the venue's and the engine's side, an order and a fill record. No hooks, journal,
  state machine, pre-trade risk rules, volume caps, triggers, funding or liquidation: it is
  what any pure-Python event engine must at least spend, not an engine. It must end with the
  engine's fills and equity (checked), and the engine's cycle is printed as a multiple of it.

CPU time (``process_time``), best of ``--repeats``: the machine may be shared.

    python benchmarks/bench_event_cycle.py [--cycles 5000] [--bars 200000] [--repeats 3]
    python benchmarks/bench_event_cycle.py --write-results   # RESULTS.md's "Order cycle"
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
from results_file import RESULTS, replace_section
from sparkstacker.backtest.api import run_backtest
from sparkstacker.backtest.instruments import simulated_instrument
from sparkstacker.context import RunContext
from sparkstacker.engine.clock import SimulatedClock
from sparkstacker.engine.context import BarContext
from sparkstacker.engine.engine import Engine
from sparkstacker.engine.execution import ENTRY_ORDER_SHAPE
from sparkstacker.exchange import OrderReport, VenueEvent
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model import ZERO, Direction, Fill, Order, apply_signed_fill, from_millis
from sparkstacker.model.fast import replace
from sparkstacker.model.members import (
    ACCEPTED,
    BUY,
    CROSS,
    IOC,
    LONG,
    MARKET,
    SELL,
    SHORT,
    SUBMITTED,
    TAKER,
)
from sparkstacker.model.order import trusted_order
from sparkstacker.plugins import make_plugin_manager
from sparkstacker.registry import Registry
from sparkstacker.sizing import size_decision, sizing_request
from sparkstacker_plugins.exchanges.sim.core import build_event, build_report
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
from sparkstacker_plugins.exchanges.sim.execution import build_fill
from sparkstacker_plugins.exchanges.sim.options import SimOptions

T0 = 1_704_067_200_000
MINUTE = 60_000
PRICE = 2000.0
INITIAL = Decimal(10**7)
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


@dataclass(frozen=True)
class CycleRun:
    """One timed run of order cycles: CPU µs per cycle, and what it ended with."""

    us: float
    fills: int
    equity: Decimal


def engine_cycles(registry: Registry, cycles: int) -> CycleRun:
    """``cycles`` order cycles through the engine and the simulated venue: a flip signal every
    bar, filled at the next bar's open."""
    plan = compile_text(CYCLE_RULES, registry).strategies[0]
    sim = SimExchange("sim", SimOptions(volume_share=None, initial_equity=INITIAL))
    sim.add_market(simulated_instrument("sim", "ETH-USD", PRICE), timeframe="1m")
    sim.on_bar("ETH-USD", T0, PRICE, PRICE, PRICE, PRICE, 1e6)
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
        bar = (PRICE, PRICE, PRICE, PRICE, 1e6)
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
    fills = len(engine.orders.fills)
    if fills < cycles - 1:
        raise RuntimeError(f"expected a fill per cycle, got {fills}")
    return CycleRun(spent / cycles * 1e6, fills, engine.equity())


# ---- the lean floor: the cycle's bookkeeping with no framework ------------------------------
# The simulated venue's defaults for the cycle's market (ETH at 2000 on Hyperliquid's grid).
LOT = Decimal("0.0001")
TICK = Decimal("0.1")
MIN_VALUE = Decimal(10)
TAKER_FEE = Decimal("0.00045")
SLIPPAGE = Decimal("0.0001")  # 1 bp
LEVERAGE = Decimal(1)
MONEY = Decimal("1e-12")


class LeanOrder:
    __slots__ = ("client_order_id", "created_ms", "filled", "side", "size", "status")

    def __init__(self, client_order_id: str, side: int, size: Decimal, created_ms: int) -> None:
        self.client_order_id = client_order_id
        self.side = side  # +1 buy, -1 sell
        self.size = size
        self.status = "new"
        self.filled = ZERO
        self.created_ms = created_ms


class LeanFill:
    __slots__ = ("client_order_id", "fee", "price", "side", "size", "ts_ms")

    def __init__(
        self, client_order_id: str, side: int, size: Decimal, price: Decimal, fee: Decimal, ts: int
    ) -> None:
        self.client_order_id = client_order_id
        self.side = side
        self.size = size
        self.price = price
        self.fee = fee
        self.ts_ms = ts


class LeanBook:
    """A net position and the cash it settles into (the venue and the engine keep one each)."""

    __slots__ = ("cash", "entry", "size")

    def __init__(self, cash: Decimal) -> None:
        self.cash = cash
        self.size = ZERO
        self.entry: Decimal | None = None

    def settle(self, side: int, size: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """Net a fill in; returns the PnL it realised."""
        self.size, self.entry, realized = apply_signed_fill(
            self.size, self.entry, size if side > 0 else -size, price
        )
        realized = realized.quantize(MONEY)
        self.cash += realized - fee
        return realized

    def unrealized(self, mark: Decimal) -> Decimal:
        return (mark - self.entry) * self.size if self.entry is not None else ZERO


class LeanVenue:
    """Checks an order at submission; fills what is pending at the next open."""

    def __init__(self) -> None:
        self.book = LeanBook(INITIAL)
        self.last = Decimal(repr(PRICE))
        self.pending: list[LeanOrder] = []

    def submit(self, order: LeanOrder) -> str | None:
        size = order.size
        if size % LOT != 0:
            return "Order has invalid size."
        last = self.last
        if size * last < MIN_VALUE:
            return "Order must have minimum value of $10."
        position = self.book.size
        increases = position == 0 or (position > 0) == (order.side > 0)
        adding = size if increases else size - abs(position)
        if adding > 0:
            held = abs(position) * last / LEVERAGE
            free = self.book.cash + self.book.unrealized(last) - held
            if adding * last / LEVERAGE > free:
                return "Insufficient margin to place order."
        order.status = "accepted"
        self.pending.append(order)
        return None

    def open(self, ts_ms: int, open_price: float) -> list[LeanFill]:
        reference = Decimal(repr(open_price))
        self.last = reference
        fills = []
        for order in self.pending:
            side = order.side
            raw = reference * (1 + SLIPPAGE) if side > 0 else reference * (1 - SLIPPAGE)
            price = raw.quantize(TICK, ROUND_CEILING if side > 0 else ROUND_FLOOR)
            fee = (order.size * price * TAKER_FEE).quantize(MONEY)
            self.book.settle(side, order.size, price, fee)
            fills.append(LeanFill(order.client_order_id, side, order.size, price, fee, ts_ms))
        self.pending.clear()
        return fills


class ContractModels:
    """The objects our plugin contracts pass per cycle, built the cheapest trusted way the
    framework has (the engine's and the venue's own builders and the order state machine): a
    ``SizingRequest`` and ``SizeDecision`` (sizer plugins), the ``Order`` and its state copies
    (engine and venue: submitted, accepted, filled), two ``OrderReport`` s, the ``Fill`` and the
    ``VenueEvent`` that carries it (exchange plugins). With them, the lean cycle is the floor of
    any engine that keeps those contracts."""

    def __init__(self) -> None:
        self.instrument = simulated_instrument("sim", "ETH-USD", PRICE)
        self.working: dict[str, tuple[Order, Order]] = {}  # id → (engine's order, venue's order)
        self.last_order: Order | None = None  # the engine's copy of the last filled order
        self.last_event: VenueEvent | None = None

    def entry(self, order: LeanOrder, price: Decimal, equity: Decimal) -> None:
        side, now = order.side, from_millis(order.created_ms)
        request = sizing_request(
            instrument=self.instrument,
            direction=LONG if side > 0 else SHORT,
            price=price,
            equity=equity,
            leverage=LEVERAGE,
            confidence=Decimal(1),
            stop_distance=None,
        )
        size_decision(order.size, order.size * request.price)
        values = {
            "client_order_id": order.client_order_id,
            "venue": "sim",
            "symbol": "ETH-USD",
            "side": BUY if side > 0 else SELL,
            "type": MARKET,
            "tif": IOC,
            "size": order.size,
            "price": None,
            "reduce_only": False,
            "leverage": LEVERAGE,
            "margin_mode": CROSS,
            "strategy": "cycle",
            "leg": "main",
            "group_id": None,
            "created_at": now,
            "annotations": {"reason": "bench", "origin": "strategy"},
        }
        submitted = trusted_order(values, ENTRY_ORDER_SHAPE).transition(SUBMITTED, at=now)
        venue = replace(submitted, {"status": ACCEPTED, "updated_at": now, "venue_order_id": "1"})
        _report(venue, now, ())
        self.working[order.client_order_id] = (submitted.transition(ACCEPTED, at=now), venue)

    def fill(self, fill: LeanFill, realized: Decimal) -> None:
        now = from_millis(fill.ts_ms)
        engine, venue = self.working.pop(fill.client_order_id)
        record = build_fill(
            {
                "fill_id": f"sim-f{fill.client_order_id}",
                "client_order_id": fill.client_order_id,
                "venue_order_id": "1",
                "venue": "sim",
                "symbol": "ETH-USD",
                "side": BUY if fill.side > 0 else SELL,
                "price": fill.price,
                "size": fill.size,
                "fee": fill.fee,
                "fee_currency": "USD",
                "liquidity": TAKER,
                "timestamp": now,
                "closed_pnl": realized,
                "account": None,
            }
        )
        venue = venue.apply_fill(record)
        report = _report(venue, now, (record,))
        self.last_event = build_event(
            {
                "kind": "order",
                "venue": "sim",
                "timestamp": now,
                "report": report,
                "symbol": "ETH-USD",
            }
        )
        self.last_order = engine.apply_fill(report.fills[0])


def _report(order: Order, at: datetime, fills: tuple[Fill, ...]) -> OrderReport:
    report: OrderReport = build_report(
        {
            "client_order_id": order.client_order_id,
            "venue_order_id": order.venue_order_id,
            "status": order.status,
            "filled_size": order.filled_size,
            "avg_fill_price": order.avg_fill_price,
            "reason": order.reason,
            "fills": fills,
            "timestamp": at,
        }
    )
    return report


class LeanCycle:
    """The engine's side: size a flip, keep the order, send it, net its fill (with
    ``contracts``, also every object our plugin contracts would pass)."""

    def __init__(self, contracts: ContractModels | None = None) -> None:
        self.contracts = contracts
        self.venue = LeanVenue()
        self.book = LeanBook(INITIAL)
        self.mark: Decimal | None = None
        self.orders: dict[str, LeanOrder] = {}
        self.fills: list[LeanFill] = []
        self.sequence = 0

    def equity(self) -> Decimal:
        mark = self.mark
        return self.book.cash + (self.book.unrealized(mark) if mark is not None else ZERO)

    def signal(self, side: int, close: float, now_ms: int) -> None:
        current = self.book.size
        if (current > 0 and side > 0) or (current < 0 and side < 0):
            return
        price = Decimal(repr(close))
        size = Decimal(1).quantize(LOT) + abs(current)
        equity = self.equity()
        if size * price > equity * LEVERAGE:
            return
        self.sequence += 1
        order = LeanOrder(f"cycle-o-{self.sequence}", side, size, now_ms)
        self.orders[order.client_order_id] = order
        order.status = "submitted"
        if self.contracts is not None:
            self.contracts.entry(order, price, equity)
        if self.venue.submit(order) is not None:
            order.status = "rejected"

    def on_fills(self, fills: list[LeanFill]) -> None:
        for fill in fills:
            order = self.orders[fill.client_order_id]
            order.filled += fill.size
            order.status = "filled" if order.filled == order.size else "partially_filled"
            self.fills.append(fill)
            realized = self.book.settle(fill.side, fill.size, fill.price, fill.fee)
            self.mark = fill.price
            if self.contracts is not None:
                self.contracts.fill(fill, realized)


def lean_cycles(cycles: int, *, contracts: bool = False) -> CycleRun:
    """``cycles`` order cycles of :class:`LeanCycle` (the engine cycle's trades, same bars)."""
    lean = LeanCycle(ContractModels() if contracts else None)
    ts = T0
    began = time.process_time()
    for i in range(cycles):
        ts += MINUTE
        fills = lean.venue.open(ts, PRICE)
        if fills:
            lean.on_fills(fills)
        lean.signal(1 if i % 2 == 0 else -1, PRICE, ts + MINUTE)
    spent = time.process_time() - began
    return CycleRun(spent / cycles * 1e6, len(lean.fills), lean.equity())


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


BEGIN, END = "<!-- cycle:begin -->", "<!-- cycle:end -->"


def report(
    args: argparse.Namespace,
    engine: CycleRun,
    lean: CycleRun,
    contract: CycleRun,
    idle_us: float,
    flip_bars_s: float,
    flip_trades: int,
    flip_s: float,
) -> str:
    """The "Order cycle" section of RESULTS.md."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    system = f"{platform.system()} {platform.release()}"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {system}"
    return "\n".join(
        [
            "## Order cycle",
            "",
            f"Measured by `benchmarks/bench_event_cycle.py --cycles {args.cycles} --bars "
            f"{args.bars} --repeats {args.repeats}` on {when} ({machine}; Python "
            f"{platform.python_version()}). CPU time, best of {args.repeats}.",
            "",
            "One order cycle is a flip signal at a bar close through sizing, the order, "
            "pre-trade risk, the simulated venue's checks, the fill at the next open and its way "
            "back to positions and accounting. The **lean floor** is the same bookkeeping as "
            "plain Python with no framework (no hooks, journal, state machine, risk rules or "
            "venue features): what any pure-Python event engine must at least spend. The "
            "**contract floor** adds the objects our plugin contracts pass per cycle (sizing "
            "request and decision, the order and its state copies on both sides, two order "
            "reports, the fill and its venue event), built the cheapest trusted way the "
            "framework has: the floor of any engine that keeps those contracts. All three ended "
            f"with {engine.fills:,} fills and equity {engine.equity:,.2f} (checked equal).",
            "",
            "| measure | CPU | event engine ÷ it |",
            "|---|---|---|",
            f"| order cycle, event engine | {engine.us:.1f} µs | 1× |",
            f"| order cycle, contract floor | {contract.us:.1f} µs | "
            f"{engine.us / contract.us:.1f}× |",
            f"| order cycle, lean floor | {lean.us:.1f} µs | {engine.us / lean.us:.1f}× |",
            f"| idle bar (whole run ÷ bars, no signal) | {idle_us:.3f} µs | |",
            f"| MACD flip run, {args.bars:,} bars, {flip_trades:,} trades | "
            f"{flip_s:.2f} s = {flip_bars_s:,.0f} bars/s | |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=5000)
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    registry = Registry.load(autoload=False)
    idle = RUN_RULES.format(long="close > 1000000000", short="close < 0")
    flip = RUN_RULES.format(
        long="m.macd crosses above m.signal", short="m.macd crosses below m.signal"
    )
    run_cpu(registry, flip, frame(2_000))  # warm-up: imports, TA-Lib, the parser
    engine = min((engine_cycles(registry, args.cycles) for _ in range(args.repeats)), key=_us)
    lean = min((lean_cycles(args.cycles) for _ in range(args.repeats)), key=_us)
    contract = min((lean_cycles(args.cycles, contracts=True) for _ in range(args.repeats)), key=_us)
    for name, floor in (("lean floor", lean), ("contract floor", contract)):
        if (floor.fills, floor.equity) != (engine.fills, engine.equity):
            raise SystemExit(
                f"the {name} disagrees with the engine: {floor.fills} fills, equity "
                f"{floor.equity} against {engine.fills} fills, equity {engine.equity}"
            )
    bars = frame(args.bars)
    idle_s = min(run_cpu(registry, idle, bars)[0] for _ in range(args.repeats))
    flips = [run_cpu(registry, flip, bars) for _ in range(args.repeats)]
    flip_s = min(spent for spent, _ in flips)
    trades = len(flips[0][1].trades)
    idle_us = idle_s / args.bars * 1e6
    print(f"order cycle: {engine.us:8.1f} µs CPU ({args.cycles:,} cycles, best of {args.repeats})")
    print(f"lean floor:  {lean.us:8.1f} µs CPU (engine ÷ floor: {engine.us / lean.us:.1f}×)")
    print(
        f"contract floor: {contract.us:5.1f} µs CPU "
        f"(engine ÷ floor: {engine.us / contract.us:.1f}×)"
    )
    print(f"idle bar:    {idle_us:8.3f} µs CPU (whole run / {args.bars:,} bars)")
    print(
        f"flip run:    {args.bars / flip_s:10,.0f} bars/s CPU ({trades:,} trades, "
        f"{flip_s:.2f} s for {args.bars:,} bars)"
    )
    if args.write_results:
        text = report(args, engine, lean, contract, idle_us, args.bars / flip_s, trades, flip_s)
        replace_section(RESULTS, BEGIN, END, text)
        print(f"wrote the order-cycle section of {RESULTS}")


def _us(run: CycleRun) -> float:
    return run.us


if __name__ == "__main__":
    main()
