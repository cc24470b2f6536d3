"""The fast path's loop: from candidate bar to candidate bar, exactly as the event engine acts.

Only bars where something can happen are visited — a decision that can act on the held side, a
fill at the next open, a funding boundary while a position is open — in the event engine's order
(bar open time, then market, then open before close). At each one the loop does what the engine
and the simulated venue do, with their own parts wherever they are pure functions: the plan's
``decide``, the registry's sizer, the venue's ``check_order`` and :class:`Ledger`, the slippage
model, :meth:`Instrument.round_price`, the engine's :class:`PositionBook` and
:class:`Accounting`. So sizes, prices, fees and funding are the same ``Decimal`` values.

Floats are used only where the venue itself uses them: bar prices arrive as floats and become
``Decimal(repr(x))``, the slippage model returns a float (``dec12`` then the price grid), the
volume cap is ``floor(share × volume / lot + 1e-9)`` lots, and the liquidation price is compared
as a float (:mod:`sparkstacker.backtest.fast_liquidation`). The equity curve is float64, built
from the fills by the event engine's own ``collect._equity``.
"""

from __future__ import annotations

import heapq
import itertools
import math
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import numpy as np
from sparkstacker.backtest.fast_lane import Lane
from sparkstacker.backtest.fast_liquidation import (
    PHASE_CLOSE_FILL,
    PHASE_FUNDING,
    PHASE_OPEN_FILL,
    Held,
    Key,
    LiquidationWatch,
)
from sparkstacker.backtest.fast_state import (
    EQUITY_SIZERS,
    Account,
    LaneState,
    OrderProbe,
    Pending,
)
from sparkstacker.backtest.result import FundingPayment
from sparkstacker.engine.accounting import Accounting
from sparkstacker.engine.positions import PositionBook
from sparkstacker.errors import ConfigError, ModelError
from sparkstacker.lang.plan import FLAT_STATE, BarDecision
from sparkstacker.model import (
    ZERO,
    Direction,
    Fill,
    MarginMode,
    Order,
    OrderStatus,
    Side,
    from_millis,
)
from sparkstacker.registry import Registry
from sparkstacker.risk.pretrade import PreTradeSettings
from sparkstacker.sizing import SizeDecision, SizingRequest
from sparkstacker_plugins.exchanges.sim.core import dec, dec12
from sparkstacker_plugins.exchanges.sim.ledger import money
from sparkstacker_plugins.exchanges.sim.state import WorkingOrder
from sparkstacker_plugins.exchanges.sim.validation import MarketView, check_order, reserved_margin

NAN = math.nan


class FastLoop:
    """Runs every lane to the end of its bars; results in ``fills``, ``orders``, ``funding``."""

    def __init__(
        self, lanes: list[Lane], sims: dict[str, Any], registry: Registry, run_id: str
    ) -> None:
        self.lanes = lanes
        self.run_id = run_id
        self.accounts = {name: Account(name, sim) for name, sim in sims.items()}
        self.book = PositionBook()
        self.accounting = Accounting(self.book)
        for name, account in self.accounts.items():
            self.accounting.set_anchor(name, account.ledger.initial)
        self._clock_ms = min((int(lane.ts[0]) for lane in lanes if len(lane)), default=0)
        start = from_millis(self._clock_ms)
        self.states: list[LaneState] = []
        for lane in lanes:
            check_leverage(lane)
            lane.prepare_loop()
            account = self.accounts[lane.account]
            account.lanes.append(lane)
            position = account.ledger.add_market(lane.symbol, lane.instrument.maintenance_margin)
            position.leverage = lane.plan.leverage
            position.mode = MarginMode.CROSS
            leg = self.book.leg(lane.account, lane.symbol, lane.name, "main")
            self.states.append(LaneState(lane, account, position, leg, registry, start))
        self.watch = LiquidationWatch(lanes)
        self.fills: list[Fill] = []
        self.orders: list[Order] = []
        self.funding: list[FundingPayment] = []
        self.ignored: dict[str, int] = {}
        self._sequence = itertools.count(1)
        # The engine's equity (PositionBook + Accounting) is only kept when a sizer reads it;
        # the position that decisions see is the venue's (one strategy per market).
        self.track_equity = any(
            lane.plan.sizing is not None and lane.plan.sizing.sizer in EQUITY_SIZERS
            for lane in lanes
        )
        self._rate_limit = PreTradeSettings().max_orders_per_minute
        self._recent: dict[str, deque[int]] = {}
        # One lane of bars at least a second long sends at most 60 orders a minute.
        self._rate_checked = len(lanes) > 1 or any(
            lane.step_ms * self._rate_limit < 60_000 for lane in lanes
        )

    # ---- the schedule -------------------------------------------------------------------------

    def run(self) -> None:
        if len(self.lanes) == 1:
            lane = self.lanes[0]
            event = self._next_event(lane)
            while event is not None:
                self._handle(lane, event[0], event[1])
                event = self._next_event(lane)
        else:
            heap: list[tuple[int, int, int, int]] = []
            for lane in self.lanes:
                self._push(heap, lane)
            while heap:
                _, index, phase, bar = heapq.heappop(heap)
                lane = self.lanes[index]
                self._handle(lane, bar, phase)
                self._push(heap, lane)
        self._finish()

    def _handle(self, lane: Lane, bar: int, phase: int) -> None:
        if phase == 0:
            self._open(lane, bar)
        else:
            self._close(lane, bar)

    def _push(self, heap: list[tuple[int, int, int, int]], lane: Lane) -> None:
        event = self._next_event(lane)
        if event is not None:
            bar, phase = event
            heapq.heappush(heap, (int(lane.ts[bar]), lane.index, phase, bar))

    def _next_event(self, lane: Lane) -> tuple[int, int] | None:
        """The lane's next (bar, phase) where something can happen, after its cursor."""
        state = self.states[lane.index]
        done_bar, done_phase = lane.cursor
        best: tuple[int, int] | None = None
        if lane.pending is not None:
            if lane.pending_bar < len(lane):
                best = (lane.pending_bar, 0)
        else:
            size = state.position.size
            bars = lane.candidates[(size > 0) - (size < 0)]
            at = bisect_left(bars, done_bar + 1 if done_phase == 1 else done_bar)
            if at < len(bars):
                best = (bars[at], 1)
        if state.position.size != 0 and lane.funding_bars:
            at = bisect_right(lane.funding_bars, done_bar)
            if at < len(lane.funding_bars):
                funding = (lane.funding_bars[at], 0)
                if best is None or funding < best:
                    best = funding
        return best

    # ---- a bar's open: funding, then the order waiting for it ---------------------------------

    def _open(self, lane: Lane, bar: int) -> None:
        lane.cursor = (bar, 0)
        state = self.states[lane.index]
        if state.position.size != 0 and lane.pays_funding:
            self._settle_funding(lane, state, bar)
        pending = lane.pending
        if pending is not None and lane.pending_bar == bar:
            lane.pending = None
            ts = int(lane.ts[bar])
            self._execute(
                lane,
                state,
                pending,
                float(lane.open[bar]),
                float(lane.volume[bar]),
                ts,
                (ts, lane.index, PHASE_OPEN_FILL),
            )

    def _settle_funding(self, lane: Lane, state: LaneState, bar: int) -> None:
        """``Funding.settle_range`` at a bar open: size × open × rate per unpaid boundary."""
        first = int(lane.first_boundary[bar])
        last = int(lane.last_boundary[bar])
        if first > last:
            return
        account = state.account
        rate_f = float(lane.funding[bar]) if lane.funding is not None else NAN
        rate = dec(rate_f) if rate_f == rate_f else account.constant_rate
        if rate is None:
            return
        position = state.position
        mark = dec(float(lane.open[bar]))
        for boundary in range(first, last + 1, lane.interval_ms):
            if boundary <= lane.funding_paid or position.size == 0:
                continue
            payment = account.ledger.pay_funding(position, position.size * mark * rate)
            lane.funding_paid = boundary
            self.funding.append(
                FundingPayment(
                    timestamp=from_millis(boundary),
                    venue=lane.account,
                    symbol=lane.symbol,
                    rate=rate,
                    payment=payment,
                )
            )
            if self.track_equity:  # Engine._on_funding
                net = self.book.net(lane.account, lane.symbol)
                if net != 0:
                    self.book.apply_funding(lane.account, lane.symbol, payment / net)
            self._changed(account, (int(lane.ts[bar]), lane.index, PHASE_FUNDING))

    # ---- a bar's close: the strategy decides ------------------------------------------------

    def _close(self, lane: Lane, bar: int) -> None:
        lane.cursor = (bar, 1)
        self._advance_clock(lane, bar)
        state = self.states[lane.index]
        if lane.patterns is None:
            decision = lane.prepared.decide(bar, FLAT_STATE)
        else:
            pattern = int(lane.patterns[bar])
            cached = state.decisions.get(pattern)
            if cached is None:
                cached = state.decisions[pattern] = lane.prepared.decide(bar, FLAT_STATE)
            decision = cached
        self._act(lane, state, bar, decision)

    def _advance_clock(self, lane: Lane, bar: int) -> None:
        """The engine's clock at this bar's close: the latest bar close any market has reached
        (the runner sets it to ``max(bar close, now)`` for every bar of every market)."""
        now = max(self._clock_ms, int(lane.ts[bar]) + lane.step_ms)
        if len(self.lanes) > 1:
            ts = int(lane.ts[bar])
            for other in self.lanes:
                if other is not lane:
                    last = _last_bar(other, ts, lane.index)
                    if last >= 0:
                        now = max(now, int(other.ts[last]) + other.step_ms)
        self._clock_ms = now

    def _act(self, lane: Lane, state: LaneState, bar: int, decision: BarDecision) -> None:
        """``rule_strategy.act``: flip, else exit, else enter (no pyramiding)."""
        position = state.position.size
        reason = "; ".join(decision.reasons)
        if decision.enter_long and not decision.enter_short:
            direction: Direction | None = Direction.LONG
        elif decision.enter_short and not decision.enter_long:
            direction = Direction.SHORT
        else:
            direction = None
        if direction is not None and position * direction.sign < 0:
            self._enter(lane, state, bar, direction, decision, reason or f"flip {direction.value}")
            return
        if (decision.exit_long and position > 0) or (decision.exit_short and position < 0):
            self._exit(lane, state, bar, reason or "exit")
            return
        if direction is not None:
            self._enter(lane, state, bar, direction, decision, reason or f"enter {direction.value}")

    def _enter(
        self,
        lane: Lane,
        state: LaneState,
        bar: int,
        direction: Direction,
        decision: BarDecision,
        reason: str,
    ) -> None:
        """``Executor.enter`` for a market entry or flip."""
        current = state.position.size
        wanted = direction.sign
        if current * wanted > 0:
            self._ignore(f"already {direction.value}")
            return
        flipping = current != 0
        plan = lane.plan
        if plan.sizing is None:
            self._ignore("strategy has no size clause")
            return
        sized = self._size(lane, state, bar, direction, decision.confidence)
        if not sized.is_trade:
            if flipping:
                self._exit(lane, state, bar, f"{reason} (flip; no size for the new side)")
            self._ignore(f"sizer {plan.sizing.sizer}")
            return
        size = sized.size
        tag = "en"
        if flipping:
            size += abs(current)
            tag = "fl"
        side = Side.BUY if wanted > 0 else Side.SELL
        self._submit(lane, state, bar, OrderProbe(side, size, False), tag, reason)

    def _exit(self, lane: Lane, state: LaneState, bar: int, reason: str) -> None:
        """``Executor.exit``: close the whole position with a reduce-only market order."""
        held = state.position.size
        if held == 0:
            self._ignore("flat")
            return
        side = Side.SELL if held > 0 else Side.BUY
        self._submit(lane, state, bar, OrderProbe(side, abs(held), True), "ex", reason or "exit")

    def _ignore(self, reason: str) -> None:
        key = reason.split(":")[0]
        self.ignored[key] = self.ignored.get(key, 0) + 1

    def _size(
        self, lane: Lane, state: LaneState, bar: int, direction: Direction, confidence: float
    ) -> SizeDecision:
        """The registry's sizer on the engine's request (cached where equity cannot matter)."""
        plan = lane.plan
        assert plan.sizing is not None
        assert state.sizer is not None
        close = float(lane.close[bar])
        clamped = min(max(confidence, 0.0), 1.0)
        equity = self._equity_for_sizing(lane, bar) if self.track_equity else ZERO
        key = (close, clamped, direction, equity > 0)
        if state.cacheable:
            cached = state.size_cache.get(key)
            if cached is not None:
                return cached
        request = SizingRequest(
            instrument=lane.instrument,
            direction=direction,
            price=dec(close),
            equity=equity,
            leverage=plan.leverage,
            confidence=dec(clamped),
            stop_distance=plan.risk.stop_loss,
        )
        decision: SizeDecision = state.sizer.size(request, plan.sizing.params)
        if state.cacheable:
            state.size_cache[key] = decision
        return decision

    def _equity_for_sizing(self, lane: Lane, bar: int) -> Decimal:
        """``Accounting.equity()`` with the marks the engine holds at this bar's close."""
        accounting = self.accounting
        for other in self.lanes:
            if self.states[other.index].leg.size == 0:
                continue
            if other is lane:
                accounting.set_mark_float(other.account, other.symbol, float(lane.close[bar]))
                continue
            last = _last_bar(other, int(lane.ts[bar]), lane.index)
            if last < 0:
                continue
            if other.close_fill_bar == last and other.close_fill_price is not None:
                accounting.set_mark(other.account, other.symbol, other.close_fill_price)
            else:
                accounting.set_mark_float(other.account, other.symbol, float(other.close[last]))
        return accounting.equity()

    # ---- orders -------------------------------------------------------------------------------

    def _submit(
        self, lane: Lane, state: LaneState, bar: int, probe: OrderProbe, tag: str, reason: str
    ) -> None:
        """``OrderManager.submit`` → the venue's ``submit_order``: check, then fill now
        (``fill_at close``) or wait for the next bar's open."""
        client_order_id = f"{self.run_id[:12]}-{tag}-{next(self._sequence)}"
        created_at = from_millis(self._clock_ms)
        if self._rate_checked:
            self._check_rate(lane, bar)
        account = state.account
        account.order_seq += 1
        seq = account.order_seq
        position = state.position
        close_f = float(lane.close[bar])
        last = dec(close_f)
        view = MarketView(
            position=position.size,
            last=last,
            bid=last,
            ask=last,
            leverage=lane.plan.leverage,
            available=self._available(account, lane, bar),
            book=False,
        )
        problem = check_order(cast(Order, probe), lane.instrument, account.messages, view)
        pending = Pending(
            probe,
            WorkingOrder(
                order=cast(Order, probe),
                seq=seq,
                venue_order_id=str(seq),
                sign=probe.side.sign,
                price_f=NAN,
                trigger_f=NAN,
                delay_ms=0,
            ),
            client_order_id,
            created_at,
            reason,
            seq,
        )
        if problem is not None:
            if problem == account.messages.margin:
                from sparkstacker.data.frames import describe_ms

                raise ConfigError(
                    f"strategy {lane.name!r}: the simulated venue would reject the "
                    f"{probe.side.value} {probe.size} {lane.symbol} order of bar {bar} "
                    f"({describe_ms(int(lane.ts[bar]))} UTC) for insufficient margin; the fast "
                    "path does not simulate margin rejections (lower the size or raise the "
                    "leverage); run without --fast"
                )
            self._ignore("rejected")
            venue_now = from_millis(int(lane.ts[bar]) + lane.step_ms)
            self._record_unfilled(state, pending, OrderStatus.REJECTED, venue_now, problem)
            return
        if account.options.fill_at == "close":
            ts = int(lane.ts[bar])
            self._execute(
                lane,
                state,
                pending,
                close_f,
                float(lane.volume[bar]),
                ts + lane.step_ms,
                (ts, lane.index, PHASE_CLOSE_FILL),
            )
            return
        lane.pending = pending
        lane.pending_bar = bar + 1

    def _check_rate(self, lane: Lane, bar: int) -> None:
        """The engine's pre-trade order-rate limit per strategy (on the engine's clock)."""
        now = self._clock_ms
        recent = self._recent.setdefault(lane.name, deque())
        while recent and now - recent[0] >= 60_000:
            recent.popleft()
        if len(recent) >= self._rate_limit:
            raise ConfigError(
                f"strategy {lane.name!r}: the engine's pre-trade check would veto the order of "
                f"bar {bar} ({self._rate_limit} orders a minute per strategy); the fast path "
                "does not simulate vetoes; run without --fast"
            )
        recent.append(now)

    def _available(self, account: Account, deciding: Lane, bar: int) -> Decimal:
        """``SimExchange._available``: cross cash + uPnL − initial margin − orders' margin."""
        free = account.ledger.cash
        ts = int(deciding.ts[bar])
        for lane in account.lanes:
            position = self.states[lane.index].position
            if lane is deciding:
                last_f = float(lane.close[bar])
            else:
                last_bar = _last_bar(lane, ts, deciding.index)
                if last_bar < 0:
                    continue
                last_f = float(lane.close[last_bar])
            if position.size == 0 and lane.pending is None:
                continue
            last = dec(last_f)
            leverage = lane.plan.leverage
            if position.size != 0:
                free += position.unrealized(last) - abs(position.size) * last / leverage
            if lane.pending is not None:
                free -= reserved_margin([lane.pending.working], position.size, leverage, last)
        return free

    def _execute(
        self,
        lane: Lane,
        state: LaneState,
        pending: Pending,
        ref_f: float,
        volume: float,
        ts_ms: int,
        key: Key,
    ) -> None:
        """A market order meets ``ref_f``: the venue's ``OrderFlow.act`` + ``Executor.take``."""
        account = state.account
        probe = pending.probe
        position = state.position
        messages = account.messages
        at = from_millis(ts_ms)
        sign = probe.side.sign
        reducible: Decimal | None = None
        if probe.reduce_only:
            opposite = position.size != 0 and position.sign != sign
            reducible = abs(position.size) if opposite else ZERO
            if reducible == 0:
                self._record_unfilled(
                    state, pending, OrderStatus.REJECTED, at, messages.reduce_only
                )
                return
        size = probe.size
        share = account.share
        if share is not None:
            allowed = share * volume - 0.0
            lots = math.floor(allowed / state.lot_f + 1e-9) if allowed > 0 else 0
            cap = lane.instrument.lot_size * lots if lots > 0 else ZERO
            size = cap if cap < size else size
        if reducible is not None:
            size = min(size, reducible)
        if size <= 0:
            self._ignore("no liquidity")
            self._record_unfilled(
                state, pending, OrderStatus.REJECTED, at, messages.market_no_liquidity
            )
            return
        price = self._taker_price(lane, state, probe.side, ref_f, size, volume)
        fee = money(price * size * state.taker_fee)
        outcome = account.ledger.apply_fill(
            position, size * sign, price, fee, lane.plan.leverage, MarginMode.CROSS, ts_ms
        )
        if outcome.opened:
            lane.funding_paid = max(lane.funding_paid, ts_ms - ts_ms % lane.interval_ms)
        account.fill_seq += 1
        fill = state.fill_template.model_copy(
            update={
                "fill_id": f"{account.name}-f{account.fill_seq}",
                "client_order_id": pending.client_order_id,
                "venue_order_id": str(pending.seq),
                "side": probe.side,
                "price": price,
                "size": size,
                "fee": fee,
                "timestamp": at,
                "closed_pnl": outcome.realized,
            }
        )
        if size == probe.size:
            order = self._order(state, pending, OrderStatus.FILLED, fill.timestamp, None, fill)
        else:
            order = self._order(
                state, pending, OrderStatus.CANCELLED, fill.timestamp, messages.ioc_remainder, fill
            )
        self.fills.append(fill)
        self.orders.append(order)
        if self.track_equity:  # Engine._on_fill
            self.book.apply_fill(fill, order, now_ms=self._clock_ms, bar=lane.cursor[0])
            self.accounting.set_mark(account.name, lane.symbol, price)
        if key[2] == PHASE_CLOSE_FILL:
            lane.close_fill_bar = lane.cursor[0]
            lane.close_fill_price = price
        self._changed(account, key)

    def _order(
        self,
        state: LaneState,
        pending: Pending,
        status: OrderStatus,
        updated_at: datetime,
        reason: str | None,
        fill: Fill | None = None,
    ) -> Order:
        """The order as the engine holds it at the end: submitted, answered, maybe filled."""
        probe = pending.probe
        update: dict[str, Any] = {
            "client_order_id": pending.client_order_id,
            "side": probe.side,
            "size": probe.size,
            "reduce_only": probe.reduce_only,
            "status": status,
            "venue_order_id": str(pending.seq),
            "created_at": pending.created_at,
            "updated_at": updated_at,
            "reason": reason,
            "annotations": (
                {"reason": pending.reason, "origin": "strategy"}
                if pending.reason
                else {"origin": "strategy"}
            ),
        }
        if fill is not None:
            # Order.apply_fill on a fresh order: VWAP of one fill, its fee.
            update["filled_size"] = fill.size
            update["avg_fill_price"] = (0 * ZERO + fill.price * fill.size) / fill.size
            update["fees"] = ZERO + fill.fee
        return state.order_template.model_copy(update=update)

    def _record_unfilled(
        self, state: LaneState, pending: Pending, status: OrderStatus, at: datetime, reason: str
    ) -> None:
        self.orders.append(self._order(state, pending, status, at, reason))

    def _taker_price(
        self, lane: Lane, state: LaneState, side: Side, ref_f: float, size: Decimal, volume: float
    ) -> Decimal:
        """``Executor.taker_price``: slippage model, ``dec12``, the grid against the taker."""
        account = state.account
        fixed = account.fixed_slippage
        if fixed:
            cached = state.price_cache.get((ref_f, side.sign))
            if cached is not None:
                return cached
        raw = account.slippage.fill_price(side, ref_f, float(size), volume, None)
        price = dec(ref_f) if raw == ref_f else dec12(raw)
        rounded: Decimal = lane.instrument.round_price(price, "up" if side.sign > 0 else "down")
        if fixed:
            state.price_cache[(ref_f, side.sign)] = rounded
        return rounded

    def _changed(self, account: Account, key: Key) -> None:
        """Tell the liquidation watch the account's new cash and positions."""
        held = tuple(
            Held(lane.index, position.size, position.entry or ZERO, position.mmr)
            for lane in account.lanes
            if (position := self.states[lane.index].position).size != 0
        )
        self.watch.changed(account.name, key, account.ledger.cash, held)

    # ---- the end ------------------------------------------------------------------------------

    def _finish(self) -> None:
        """``Engine.stop``: orders still waiting for a bar that never came are cancelled."""
        for lane in self.lanes:
            pending = lane.pending
            if pending is None:
                continue
            state = self.states[lane.index]
            now = from_millis(int(lane.ts[-1]) + lane.step_ms)  # the venue's clock for it
            # OrderManager.cancel_all(reason="shutdown"): a cancel we asked for keeps our reason
            self._record_unfilled(state, pending, OrderStatus.CANCELLED, now, "shutdown")
            lane.pending = None
        self.watch.check()

    def venue_equity(self, marks: Callable[[Lane], Decimal]) -> Decimal:
        """Every account's equity (collateral + uPnL at ``marks``), like ``account_state``."""
        total = ZERO
        for account in self.accounts.values():
            equity = account.ledger.collateral
            for lane in account.lanes:
                position = self.states[lane.index].position
                if position.size != 0:
                    equity += position.unrealized(marks(lane))
            total += equity
        return total


def check_leverage(lane: Lane) -> None:
    """What ``Engine.start`` and the venue's ``updateLeverage`` refuse."""
    leverage = lane.plan.leverage
    if leverage != leverage.to_integral_value():
        raise ConfigError(
            f"strategy {lane.name!r}: leverage {leverage}x is not a whole number; the venue "
            "only accepts integral leverage"
        )
    try:
        lane.instrument.check_leverage(leverage)
    except ModelError as exc:  # the engine refuses it at start the same way
        raise ConfigError(f"strategy {lane.name!r}: {exc}") from exc


def _last_bar(lane: Lane, ts: int, deciding: int) -> int:
    """The last bar of ``lane`` the engine has closed when lane ``deciding`` decides at bar
    open time ``ts`` (the engine processes bars by open time, then lane order)."""
    if lane.index < deciding:
        return int(np.searchsorted(lane.ts, ts, side="right")) - 1
    return int(np.searchsorted(lane.ts, ts, side="left")) - 1
