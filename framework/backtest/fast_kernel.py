"""The fast path's compiled kernel, from Python: which strategies it runs, inputs and checks.

The kernel (:mod:`sparkstacker.backtest.fast_kernel_jit`, numba) runs the common case — one
state-free rule strategy on its own account, market orders, ``fixed_units`` / ``fixed_usd``
sizing, fixed-bps slippage, taker fees, a volume cap or none, funding at bar opens — over whole
arrays. Everything it reads is prepared here, vectorised, and everything floats cannot decide
exactly is decided here with the venue's own ``Decimal`` code:

* entry sizes: the sizer's arithmetic in floats; where a lot boundary, a clamp or the minimum
  value is within 1e-9 (relative) the registry's sizer itself sizes that bar;
* fill prices: fixed-bps slippage and ``Instrument.round_price`` on the significant-figure
  grid, exact by monotonicity of decimal → float rounding when the slippage is zero, trusted
  only away from grid points otherwise; undecided prices go through ``round_price``;
* the volume cap: the venue's float expression, evaluated by numpy exactly as in Python.

(see :mod:`sparkstacker.backtest.fast_sizing` and :mod:`sparkstacker.backtest.fast_grid`). The
kernel stops (and the run goes to the exact per-trade loop, which then refuses or runs it) when
a margin check, a liquidation price or the sizer's equity comes within 1e-7 of its limit.
:func:`run_kernels` returns the lanes' arrays, or why it could not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING
from typing import Any

import numpy as np
from sparkstacker.backtest.fast_grid import Grid, fill_prices, grid_of
from sparkstacker.backtest.fast_kernel_codes import DONE, REJECTED_SIZE, SHUTDOWN, STOPS
from sparkstacker.backtest.fast_lane import Lane
from sparkstacker.backtest.fast_sizing import entry_lots, volume_caps
from sparkstacker.model import Side
from sparkstacker.registry import Registry
from sparkstacker.risk.pretrade import PreTradeSettings

KERNEL_SIZERS = ("fixed_units", "fixed_usd")
KERNEL_SLIPPAGE = ("FixedBps", "BookWalk")  # BookWalk without a book: no slippage


def kernel_refusal(lane: Lane, sim: Any, lanes_on_account: int) -> str | None:
    """Why ``lane`` runs on the exact per-trade loop rather than the kernel (None: kernel)."""
    plan = lane.plan
    sizing = plan.sizing
    if sizing is None:
        return "no size clause"
    if sizing.sizer not in KERNEL_SIZERS:
        return f"the {sizing.sizer} sizer (the kernel sizes with {', '.join(KERNEL_SIZERS)})"
    program = getattr(plan, "program", None)
    if program is None:
        return "not a compiled rule program"
    if any(rule.confidence is not None for rule in program.entries):
        return "a confidence expression"
    model = type(sim.slippage_model).__name__
    if model not in KERNEL_SLIPPAGE:
        return f"the {sim.options.slippage} slippage model (size- and volume-dependent)"
    if lanes_on_account > 1:
        return f"account {lane.account!r} is shared with another strategy"
    grid = grid_of(lane.instrument)
    if isinstance(grid, str):
        return grid
    return None


# ---- inputs -----------------------------------------------------------------------------------


# ---- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelOrders:
    """Orders in submission order: decision bar, kind, wanted direction, side (±1), lots,
    status (see ``fast_kernel_jit``) and the fill (-1: none)."""

    bar: np.ndarray
    kind: np.ndarray
    direction: np.ndarray
    side: np.ndarray
    lots: np.ndarray
    status: np.ndarray
    fill: np.ndarray


@dataclass(frozen=True)
class KernelFills:
    """Fills in time order: the order, lots, whether it opened a position, price, fee and
    realised PnL (floats), the account after it (position in lots, cash as a float) and where
    it happened (bar, epoch ms)."""

    order: np.ndarray
    lots: np.ndarray
    opened: np.ndarray
    price: np.ndarray
    fee: np.ndarray
    realized: np.ndarray
    position: np.ndarray
    cash: np.ndarray
    bar: np.ndarray
    ms: np.ndarray
    side: np.ndarray


@dataclass(frozen=True)
class KernelPayments:
    """Funding payments: the bar whose open settled them, the boundary, position lots, amount."""

    bar: np.ndarray
    boundary: np.ndarray
    lots: np.ndarray
    amount: np.ndarray


@dataclass
class LaneRun:
    """What the kernel did on one lane, and what rebuilds exact records from it."""

    lane: Lane
    sim: Any
    grid: Grid
    orders: KernelOrders
    fills: KernelFills
    payments: KernelPayments
    seq: np.ndarray | None = None  # the run-wide order number of each order
    clock_ms: np.ndarray | None = None  # the engine's clock when each order was submitted

    def attempt_ms(self) -> np.ndarray:
        """When each order met (or would have met) its bar: the next open or this close."""
        lane, bars = self.lane, self.orders.bar
        if self.sim.options.fill_at == "close":
            return lane.ts[bars] + lane.step_ms
        return lane.ts[np.minimum(bars + 1, len(lane) - 1)]

    def updated_ms(self) -> np.ndarray:
        """``updated_at`` of each order as the per-trade loop sets it."""
        lane, status = self.lane, self.orders.status
        out = self.attempt_ms()
        out = np.where(status == REJECTED_SIZE, lane.ts[self.orders.bar] + lane.step_ms, out)
        return np.where(status == SHUTDOWN, int(lane.ts[-1]) + lane.step_ms, out)


@dataclass(frozen=True)
class KernelStop:
    """The kernel could not finish a lane exactly: the run goes to the per-trade loop."""

    strategy: str
    reason: str

    def __str__(self) -> str:
        return f"strategy {self.strategy!r}: {self.reason}"


def run_lane(lane: Lane, sim: Any, registry: Registry) -> LaneRun | KernelStop:
    """Prepare one lane's inputs and run the kernel over its bars."""
    from sparkstacker.backtest.fast_kernel_jit import action_bars, simulate

    grid = grid_of(lane.instrument)
    if isinstance(grid, str):
        return KernelStop(lane.name, grid)
    options = sim.options
    n = len(lane)
    # where the sizer may be asked, and the side an order of a decision bar can take (buy to
    # enter long or leave a short, sell for the mirror)
    entry_bars, buys, sells = action_bars(
        lane.enter_long, lane.enter_short, lane.exit_long, lane.exit_short
    )
    capacity = len(buys) + len(sells)  # at most one order per decision bar
    sized = entry_lots(lane, registry, entry_bars)
    if isinstance(sized, str):
        return KernelStop(lane.name, sized)
    at_close = options.fill_at == "close"
    if not at_close:
        buys, sells = buys[buys + 1 < n] + 1, sells[sells + 1 < n] + 1
    ref = lane.close if at_close else lane.open
    buy_px = fill_prices(lane, sim, grid, ref, buys, Side.BUY)
    if isinstance(buy_px, str):
        return KernelStop(lane.name, buy_px)
    sell_px = fill_prices(lane, sim, grid, ref, sells, Side.SELL)
    if isinstance(sell_px, str):
        return KernelStop(lane.name, sell_px)
    share = float(options.volume_share) if options.volume_share is not None else None
    instrument = lane.instrument
    taker = instrument.taker_fee if instrument.taker_fee is not None else options.taker_fee
    constant = options.funding_rate
    payments_cap = 0
    if lane.pays_funding:
        spans = (lane.last_boundary - lane.first_boundary) // lane.interval_ms + 1
        payments_cap = int(np.maximum(spans, 0).sum())
    minimum = instrument.min_size
    min_lots = (
        int((minimum / instrument.lot_size).to_integral_value(rounding=ROUND_CEILING))
        if minimum is not None
        else 0
    )
    o_bar, o_lots, o_fill = (np.empty(capacity, dtype=np.int64) for _ in range(3))
    o_kind, o_direction, o_side, o_status = (np.empty(capacity, dtype=np.int8) for _ in range(4))
    f_order, f_lots = np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.int64)
    f_opened = np.empty(capacity, dtype=np.int8)
    f_price, f_fee, f_realized, f_cash = (np.empty(capacity, dtype=np.float64) for _ in range(4))
    f_position = np.empty(capacity, dtype=np.int64)
    p_bar, p_boundary, p_lots = (np.empty(payments_cap, dtype=np.int64) for _ in range(3))
    p_amount = np.empty(payments_cap, dtype=np.float64)
    orders, fills, payments, stop, bar = simulate(
        lane.ts,
        lane.open,
        lane.high,
        lane.low,
        lane.close,
        lane.enter_long,
        lane.enter_short,
        lane.exit_long,
        lane.exit_short,
        entry_bars,
        sized,
        buys,
        buy_px,
        volume_caps(lane, share, buys),
        sells,
        sell_px,
        volume_caps(lane, share, sells),
        at_close,
        lane.step_ms,
        float(instrument.lot_size),
        float(taker),
        float(lane.plan.leverage),
        float(instrument.maintenance_margin),
        min_lots,
        lane.plan.sizing is not None and lane.plan.sizing.sizer == "fixed_usd",
        float(options.initial_equity),
        lane.pays_funding,
        lane.first_boundary,
        lane.last_boundary,
        lane.funding if lane.funding is not None else np.zeros(0),
        float(constant) if constant is not None else math.nan,
        lane.interval_ms,
        o_bar,
        o_kind,
        o_direction,
        o_side,
        o_lots,
        o_status,
        o_fill,
        f_order,
        f_lots,
        f_opened,
        f_price,
        f_fee,
        f_realized,
        f_position,
        f_cash,
        p_bar,
        p_boundary,
        p_lots,
        p_amount,
    )
    if stop != DONE:
        return KernelStop(lane.name, f"{STOPS.get(stop, 'unknown stop')} at bar {bar}")
    kernel_orders = KernelOrders(
        o_bar[:orders],
        o_kind[:orders],
        o_direction[:orders],
        o_side[:orders],
        o_lots[:orders],
        o_status[:orders],
        o_fill[:orders],
    )
    order_of = f_order[:fills]
    fill_bar = kernel_orders.bar[order_of] + (0 if at_close else 1)
    kernel_fills = KernelFills(
        order=order_of,
        lots=f_lots[:fills],
        opened=f_opened[:fills],
        price=f_price[:fills],
        fee=f_fee[:fills],
        realized=f_realized[:fills],
        position=f_position[:fills],
        cash=f_cash[:fills],
        bar=fill_bar,
        ms=lane.ts[fill_bar] + (lane.step_ms if at_close else 0),
        side=kernel_orders.side[order_of],
    )
    kernel_payments = KernelPayments(
        p_bar[:payments], p_boundary[:payments], p_lots[:payments], p_amount[:payments]
    )
    return LaneRun(lane, sim, grid, kernel_orders, kernel_fills, kernel_payments)


def run_kernels(
    lanes: list[Lane], sims: dict[str, Any], registry: Registry
) -> list[LaneRun] | KernelStop:
    """Every lane through the kernel; the run-wide order numbers, the engine's clock and its
    order-rate limit. A :class:`KernelStop` sends the whole run to the per-trade loop."""
    runs: list[LaneRun] = []
    for lane in lanes:
        run = run_lane(lane, sims[lane.account], registry)
        if isinstance(run, KernelStop):
            return run
        runs.append(run)
    _number_orders(runs)
    return _rate_limit(runs) or runs


def _number_orders(runs: list[LaneRun]) -> None:
    """Order numbers across lanes (the engine submits by bar open time, then strategy order)
    and the engine's clock at each submission: the latest bar close any market has reached."""
    lanes = [run.lane for run in runs]
    stamps = [run.lane.ts[run.orders.bar] for run in runs]
    for run, ts in zip(runs, stamps, strict=True):
        lane = run.lane
        clock = ts + lane.step_ms
        for other in lanes:
            if other is lane:
                continue
            # bars of an earlier strategy at this open time are already closed; of a later one,
            # not yet
            if other.index < lane.index:
                last = np.searchsorted(other.ts, ts, side="right") - 1
            else:
                last = np.searchsorted(other.ts, ts, side="left") - 1
            seen = np.where(last >= 0, other.ts[np.maximum(last, 0)] + other.step_ms, 0)
            clock = np.maximum(clock, seen)
        run.clock_ms = clock
    if len(runs) == 1:
        runs[0].seq = np.arange(1, len(stamps[0]) + 1)
        return
    keys = np.concatenate(stamps)
    owner = np.concatenate(
        [np.full(len(run.orders.bar), run.lane.index, dtype=np.int64) for run in runs]
    )
    numbers = np.empty(len(keys), dtype=np.int64)
    numbers[np.lexsort((owner, keys))] = np.arange(1, len(keys) + 1)
    start = 0
    for run in runs:
        run.seq = numbers[start : start + len(run.orders.bar)]
        start += len(run.orders.bar)


def _rate_limit(runs: list[LaneRun]) -> KernelStop | None:
    """The engine's per-strategy order-rate limit (checked on its clock, as the loop does)."""
    limit = PreTradeSettings().max_orders_per_minute
    checked = len(runs) > 1 or any(run.lane.step_ms * limit < 60_000 for run in runs)
    if not checked:
        return None
    for run in runs:
        clock = run.clock_ms
        assert clock is not None
        if len(clock) > limit and np.any(clock[limit:] - clock[:-limit] < 60_000):
            return KernelStop(run.lane.name, "the engine's order-rate limit would veto an order")
    return None
