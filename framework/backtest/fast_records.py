"""The kernel's arrays as the event engine's records: fills, orders, funding and round trips.

Nothing is built until someone reads it (:class:`~sparkstacker.backtest.result.LazyRecords`);
then every value is rebuilt with the same ``Decimal`` operations the per-trade loop and the
simulated venue perform: sizes are ``Decimal(lots) × lot``, prices ``k × increment`` as
``Instrument.round_price`` writes them, fees ``money(price × size × taker)``, realised PnL from
``apply_signed_fill``, funding ``money(size × Decimal(repr(open)) × rate)``; the orders'
statuses, reasons and annotations follow ``OrderFlow``/``Executor`` and the round trips come
from the event engine's own builder (``collect._round_trips``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from sparkstacker.backtest.collect import FlowArrays, _round_trips
from sparkstacker.backtest.fast_kernel import LaneRun
from sparkstacker.backtest.fast_kernel_codes import (
    FILLED,
    IOC_CANCELLED,
    KIND_EXIT,
    KIND_FLIP_EXIT,
    REJECTED_LIQUIDITY,
    REJECTED_REDUCE,
    REJECTED_SIZE,
    SHUTDOWN,
)
from sparkstacker.backtest.fast_lane import Lane, rule_patterns
from sparkstacker.backtest.fast_templates import (
    market_order_template,
    taker_fee,
    taker_fill_template,
)
from sparkstacker.backtest.result import FundingPayment, RoundTrip
from sparkstacker.lang.plan import FLAT_STATE, BarDecision
from sparkstacker.model import (
    ZERO,
    Direction,
    Fill,
    Order,
    OrderStatus,
    Side,
    apply_signed_fill,
    from_millis,
)
from sparkstacker_plugins.exchanges.sim.core import dec
from sparkstacker_plugins.exchanges.sim.ledger import money
from sparkstacker_plugins.exchanges.sim.messages import STYLES

TAGS = ("en", "fl", "ex", "ex")  # by order kind: enter, flip, exit, exit after an unsized flip


@dataclass
class KernelRecords:
    """Builds (once, on demand) every record of a kernel run, in the event engine's order."""

    run_id: str
    runs: list[LaneRun]
    sims: dict[str, Any]
    timeline: np.ndarray
    _fills: list[Fill] | None = field(default=None, init=False)
    _orders: list[Order] | None = field(default=None, init=False)
    _funding: list[FundingPayment] | None = field(default=None, init=False)
    _trades: list[RoundTrip] | None = field(default=None, init=False)

    # ---- counts (free) --------------------------------------------------------------------

    @property
    def fill_count(self) -> int:
        return sum(len(run.fills.order) for run in self.runs)

    @property
    def order_count(self) -> int:
        return sum(len(run.orders.bar) for run in self.runs)

    @property
    def funding_count(self) -> int:
        return sum(len(run.payments.bar) for run in self.runs)

    @property
    def trade_count(self) -> int:
        """One round trip per fill that opens a position (from flat or through zero)."""
        return sum(int(np.count_nonzero(run.fills.opened)) for run in self.runs)

    # ---- float arrays for the equity curve -------------------------------------------------

    def flows(self) -> tuple[FlowArrays, np.ndarray, np.ndarray]:
        """Fills (epoch ms, market, signed size, price, fee) and funding (ms, payment)."""
        traded = [run for run in self.runs if len(run.fills.order)]
        symbols = tuple(dict.fromkeys(run.lane.symbol for run in traded))
        flows = FlowArrays(
            stamps=_cat([run.fills.ms for run in traded], np.int64),
            market=_cat(
                [np.full(len(r.fills.order), symbols.index(r.lane.symbol)) for r in traded],
                np.int64,
            ),
            symbols=symbols,
            signed=_cat(
                [run.grid.size_floats(run.fills.lots) * run.fills.side for run in traded],
                np.float64,
            ),
            price=_cat([run.fills.price for run in traded], np.float64),
            fee=_cat([run.fills.fee for run in traded], np.float64),
        )
        stamps = _cat([run.payments.boundary for run in self.runs], np.int64)
        amounts = _cat([run.payments.amount for run in self.runs], np.float64)
        return flows, stamps, amounts

    def buckets(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Each fill's and payment's timeline point (the first close at or after it), from
        the bars when the run has one market (its closes are the timeline); else None."""
        if len(self.runs) != 1:
            return None
        run = self.runs[0]
        timeline = self.timeline
        if len(timeline) != len(run.lane) or timeline[0] != run.lane.ts[0] + run.lane.step_ms:
            return None

        def first_close(bars: np.ndarray, stamps: np.ndarray) -> np.ndarray:
            earlier = np.maximum(bars - 1, 0)
            return np.where((bars > 0) & (timeline[earlier] >= stamps), bars - 1, bars)

        fills, payments = run.fills, run.payments
        return first_close(fills.bar, fills.ms), first_close(payments.bar, payments.boundary)

    def final_equity(self) -> float:
        """The accounts' equity at each lane's last close, from the kernel's own cash."""
        total = 0.0
        for name, sim in self.sims.items():
            total += _account_equity(
                float(sim.options.initial_equity), [r for r in self.runs if r.lane.account == name]
            )
        return total

    # ---- the records ----------------------------------------------------------------------

    def fills(self) -> list[Fill]:
        if self._fills is None:
            self._build_orders_and_fills()
        assert self._fills is not None
        return self._fills

    def orders(self) -> list[Order]:
        if self._orders is None:
            self._build_orders_and_fills()
        assert self._orders is not None
        return self._orders

    def funding(self) -> list[FundingPayment]:
        if self._funding is None:
            keyed: list[tuple[tuple[int, int, int], FundingPayment]] = []
            for run in self.runs:
                keyed.extend(_funding_of(run))
            keyed.sort(key=lambda item: item[0])
            self._funding = [payment for _, payment in keyed]
        return self._funding

    def trades(self) -> list[RoundTrip]:
        if self._trades is None:
            orders = self.orders()
            by_id = {o.client_order_id: o for o in orders}
            with _no_gc():
                self._trades = _round_trips(
                    self.fills(), by_id, self.sims, self.timeline, self.funding()
                )
        return self._trades

    def _build_orders_and_fills(self) -> None:
        with _no_gc():
            self._build()

    def _build(self) -> None:
        fills: list[Fill] = []
        numbered: list[tuple[int, Order]] = []
        for run in self.runs:
            lane_fills, lane_orders = _orders_and_fills(self.run_id, run)
            fills.extend(lane_fills)
            assert run.seq is not None
            numbered.extend(zip(run.seq.tolist(), lane_orders, strict=True))
        fills.sort(key=lambda f: (f.timestamp, f.fill_id))
        numbered.sort(key=lambda item: item[0])
        self._fills = fills
        self._orders = [order for _, order in numbered]


@contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic garbage collection while records are built: they only add objects (a full
    scan of them after every few thousand costs more than building them)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _cat(parts: Sequence[np.ndarray], dtype: Any) -> np.ndarray:
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], dtype=dtype)
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def _account_equity(initial: float, runs: list[LaneRun]) -> float:
    total = initial
    for run in runs:
        fills = run.fills
        total += float(fills.realized.sum() - fills.fee.sum()) - float(run.payments.amount.sum())
        held = int(fills.position[-1]) if len(fills.position) else 0
        if held:
            entry = float(fills.price[np.flatnonzero(fills.opened)[-1]])
            size = float(run.grid.size_floats(np.array([held]))[0])
            total += size * (float(run.lane.close[-1]) - entry)
    return total


# ---- one lane ---------------------------------------------------------------------------------


def _orders_and_fills(run_id: str, run: LaneRun) -> tuple[list[Fill], list[Order]]:
    """The lane's fills and orders (in submission order), exactly as the per-trade loop."""
    lane, sim, grid = run.lane, run.sim, run.grid
    options = sim.options
    messages = STYLES[options.venue_style]
    taker = taker_fee(lane, options)
    start = from_millis(int(lane.ts[0]))
    fill_template = taker_fill_template(lane, options, start)
    order_template = market_order_template(lane, start)
    reasons = _Reasons(lane)
    fills_run, orders_run = run.fills, run.orders
    ks, exps = grid.locate(fills_run.price)
    prefix = run_id[:12]
    assert run.seq is not None
    assert run.clock_ms is not None
    seq = run.seq.tolist()
    clock = run.clock_ms.tolist()
    kinds = orders_run.kind.tolist()
    fills: list[Fill] = []
    by_order: dict[int, Fill] = {}
    held, entry = ZERO, None
    rows = zip(
        fills_run.order.tolist(),
        fills_run.ms.tolist(),
        fills_run.side.tolist(),
        fills_run.lots.tolist(),
        ks.tolist(),
        exps.tolist(),
        strict=True,
    )
    for i, (order, ms, side_sign, lots, k, a) in enumerate(rows):
        size = grid.size(lots)
        price = grid.price(k, a)
        fee = money(price * size * taker)
        held, entry, realized = apply_signed_fill(held, entry, size * side_sign, price)
        fill = fill_template.model_copy(
            update={
                "fill_id": f"{lane.account}-f{i + 1}",
                "client_order_id": f"{prefix}-{TAGS[kinds[order]]}-{seq[order]}",
                "venue_order_id": str(order + 1),
                "side": Side.BUY if side_sign > 0 else Side.SELL,
                "price": price,
                "size": size,
                "fee": fee,
                "timestamp": from_millis(ms),
                "closed_pnl": money(realized),
            }
        )
        fills.append(fill)
        by_order[order] = fill
    statuses = {
        FILLED: (OrderStatus.FILLED, None),
        IOC_CANCELLED: (OrderStatus.CANCELLED, messages.ioc_remainder),
        REJECTED_SIZE: (OrderStatus.REJECTED, messages.invalid_size),
        REJECTED_LIQUIDITY: (OrderStatus.REJECTED, messages.market_no_liquidity),
        REJECTED_REDUCE: (OrderStatus.REJECTED, messages.reduce_only),
        SHUTDOWN: (OrderStatus.CANCELLED, "shutdown"),
    }
    orders: list[Order] = []
    columns = zip(
        orders_run.bar.tolist(),
        kinds,
        orders_run.direction.tolist(),
        orders_run.side.tolist(),
        orders_run.lots.tolist(),
        orders_run.status.tolist(),
        run.updated_ms().tolist(),
        strict=True,
    )
    for o, (bar, kind, direction, side_sign, lots, status, updated) in enumerate(columns):
        state, why = statuses[status]
        reason = reasons.text(bar, kind, direction)
        update: dict[str, Any] = {
            "client_order_id": f"{prefix}-{TAGS[kind]}-{seq[o]}",
            "side": Side.BUY if side_sign > 0 else Side.SELL,
            "size": grid.size(lots),
            "reduce_only": kind in (KIND_EXIT, KIND_FLIP_EXIT),
            "status": state,
            "venue_order_id": str(o + 1),
            "created_at": from_millis(clock[o]),
            "updated_at": from_millis(updated),
            "reason": why,
            "annotations": {"reason": reason, "origin": "strategy"},
        }
        filled = by_order.get(o)
        if filled is not None:  # Order.apply_fill on a fresh order: VWAP of one fill, its fee
            update["filled_size"] = filled.size
            update["avg_fill_price"] = (0 * ZERO + filled.price * filled.size) / filled.size
            update["fees"] = ZERO + filled.fee
        orders.append(order_template.model_copy(update=update))
    return fills, orders


class _Reasons:
    """The order reason the engine writes: the decision's reasons, or its default words."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane
        self.patterns = rule_patterns(lane.plan, lane.prepared)
        self.cache: dict[int, BarDecision] = {}

    def decision(self, bar: int) -> BarDecision:
        if self.patterns is None:
            return self.lane.prepared.decide(bar, FLAT_STATE)
        key = int(self.patterns[bar])
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self.lane.prepared.decide(bar, FLAT_STATE)
        return found

    def text(self, bar: int, kind: int, direction: int) -> str:
        joined = "; ".join(self.decision(bar).reasons)
        word = (Direction.LONG if direction > 0 else Direction.SHORT).value
        if kind == 0:
            return joined or f"enter {word}"
        if kind == 1:
            return joined or f"flip {word}"
        if kind == 2:
            return joined or "exit"
        return f"{joined or f'flip {word}'} (flip; no size for the new side)"


def _funding_of(run: LaneRun) -> list[tuple[tuple[int, int, int], FundingPayment]]:
    """The lane's payments keyed like the per-trade loop's events (bar open, lane, boundary)."""
    lane, grid = run.lane, run.grid
    constant: Decimal | None = run.sim.options.funding_rate
    out = []
    payments = run.payments
    rows = zip(
        payments.bar.tolist(), payments.boundary.tolist(), payments.lots.tolist(), strict=True
    )
    for bar, boundary, lots in rows:
        rate_f = float(lane.funding[bar]) if lane.funding is not None else float("nan")
        rate = dec(rate_f) if rate_f == rate_f else constant
        assert rate is not None
        payment = money(grid.size(lots) * dec(float(lane.open[bar])) * rate)
        key = (int(lane.ts[bar]), lane.index, boundary)
        out.append(
            (
                key,
                FundingPayment(
                    timestamp=from_millis(boundary),
                    venue=lane.account,
                    symbol=lane.symbol,
                    rate=rate,
                    payment=payment,
                ),
            )
        )
    return out
