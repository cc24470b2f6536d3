"""The matching loop: what one bar (or one book snapshot) does to live orders and positions.

A bar is walked in this order:

1. funding boundaries at the bar's open time (on the position held into the bar);
2. the *gap* from the previous price to the open: resting orders and triggers the open has
   passed fill (limits at their own price as maker; stops and liquidations at the open), in the
   order the gap reaches them;
3. orders that became live during the bar arrive and meet the open (taker at the open);
4. funding boundaries inside the bar (mark interpolated open → close);
5. the intrabar path ``open → first extreme → second extreme → close`` (``intrabar_path``);
   on each leg, events (limit fills, trigger fires, the liquidation price) happen in the order
   the price reaches them, and each one may change what comes next.

A book snapshot is a jump to a new price: resting limits fill when the opposite best price
reaches them, triggers and liquidation follow the mid, arriving taker orders walk the levels.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sparkstacker.exchange import VenueEvent
from sparkstacker.model import TERMINAL_STATUSES, OrderBook, to_millis
from sparkstacker_plugins.exchanges.sim.arrival import OrderFlow, Touch
from sparkstacker_plugins.exchanges.sim.core import SimCore, dec
from sparkstacker_plugins.exchanges.sim.execution import Executor
from sparkstacker_plugins.exchanges.sim.funding import Funding
from sparkstacker_plugins.exchanges.sim.state import FAR, MarketState, WorkingOrder

Out = list[VenueEvent]
_LIQ = object()  # marker for the liquidation event in a leg


def path_points(
    open_: float, high: float, low: float, close: float, mode: str
) -> tuple[float, float, float, float]:
    """The four points a bar is assumed to visit. ``nearest``: the extreme nearer the open first
    (a tie goes high first)."""
    if mode == "ohlc" or (mode == "nearest" and high - open_ <= open_ - low):
        return open_, high, low, close
    return open_, low, high, close


class Matcher:
    def __init__(self, core: SimCore, executor: Executor, flow: OrderFlow, funding: Funding):
        self.core = core
        self.ex = executor
        self.flow = flow
        self.funding = funding

    # ---- bars ---------------------------------------------------------------------------------

    def process_bar(self, m: MarketState, funding_rate: float | None) -> Out:
        out = self.open_phase(m, funding_rate)
        out.extend(self.close_phase(m, funding_rate, arrivals_at_open=False))
        return out

    def open_phase(self, m: MarketState, funding_rate: float | None) -> Out:
        """Steps 1–3: funding at the open, the gap, and arrivals meeting the open."""
        out: Out = []
        ts, tf = m.ts, m.tf
        o = m.open
        end = ts + tf if tf < FAR else ts + 1
        m.bar_seq += 1
        prev = m.last if m.has_price else o
        if m.position.size:
            rate = dec(funding_rate) if funding_rate is not None else None
            self.funding.settle_range(m, ts + 1, rate, o, out)
        arrivals = self._due(m, ts, end) if m.pending else []
        m.last = o
        if m.resting or (m.position.size and self.ex.breached(m, o)):
            # resting orders the gap may have reached, or the open past the liquidation price
            self._jump(m, prev, None, o, ts, out)
        self._arrive_at_open(m, arrivals, out)
        return out

    def close_phase(
        self, m: MarketState, funding_rate: float | None, *, arrivals_at_open: bool = True
    ) -> Out:
        """Steps 3–5 for orders sent at the open (a hedge after its main leg filled), then the
        intrabar path to the close."""
        out: Out = []
        ts, tf = m.ts, m.tf
        o, h, lo, c = m.open, m.high, m.low, m.close
        end = ts + tf if tf < FAR else ts + 1
        length = tf if tf < FAR else 0
        if arrivals_at_open and m.pending:
            self._arrive_at_open(m, self._due(m, ts, end), out)
        if self.ex.breached(m, o):
            self.ex.liquidate(m, dec(o), ts, out)
        if m.position.size:
            rate = dec(funding_rate) if funding_rate is not None else None
            self.funding.settle_range(m, end, rate, (ts, length, o, c), out)
        if m.resting or _liquidation_in(m, lo, h):
            points = path_points(o, h, lo, c, self.core.options.intrabar_path)
            step = length / 3
            for k in range(3):
                t0 = ts + k * step
                self._leg(m, points[k], points[k + 1], t0, t0 + step, out)
        m.last = c
        if self.core.cross_positions > 1:
            self.ex.refresh_risk()
        else:
            m.refresh()
        return out

    def _arrive_at_open(self, m: MarketState, arrivals: list[WorkingOrder], out: Out) -> None:
        if arrivals:
            touch = Touch.at(m.open)
            for wo in arrivals:
                if wo.order.status not in TERMINAL_STATUSES:
                    self.flow.arrive(m, wo, touch, m.ts, out)

    def fill_now(self, m: MarketState, wo: WorkingOrder, out: Out) -> None:
        """``fill_at="close"``: the order arrives at the current bar's close (or book)."""
        ts = m.clock_ms
        touch = Touch.of(m)
        self.flow.arrive(m, wo, touch, ts, out)
        if self.ex.breached(m, touch.mark):
            self.ex.liquidate(m, dec(touch.mark), ts, out)
        m.refresh()

    def _due(self, m: MarketState, ts: int, end: int) -> list[WorkingOrder]:
        """Pending orders that go live before ``end`` (in submission order)."""
        if not m.pending:
            return []
        due: list[WorkingOrder] = []
        keep: list[WorkingOrder] = []
        for wo in m.pending:
            if wo.active_at is None:
                wo.active_at = ts + wo.delay_ms
            (due if wo.active_at < end else keep).append(wo)
        m.pending = keep
        return due

    def _inclusive(self, wo: WorkingOrder) -> bool:
        return wo.is_trigger or self.core.touch_fills

    def _jump(
        self,
        m: MarketState,
        prev: float,
        price_for: Callable[[WorkingOrder], float] | None,
        mark: float,
        ts: int,
        out: Out,
    ) -> None:
        """The price jumped from ``prev`` (a gap or a new book): settle what it passed.

        ``price_for(wo)`` is the price a resting limit meets (the opposite best on a book);
        None means ``mark`` for everything (bars).
        """
        hits: list[tuple[float, int, object]] = []
        for wo in m.resting:
            level = wo.level
            price = mark if wo.is_trigger or price_for is None else price_for(wo)
            if wo.falls:
                hit = price < level or (price == level and self._inclusive(wo))
            else:
                hit = price > level or (price == level and self._inclusive(wo))
            if hit:
                hits.append((abs(level - prev), wo.seq, wo))
        if self.ex.breached(m, mark):
            hits.append((abs(m.position.liq_f - prev), FAR, _LIQ))
        hits.sort(key=lambda item: (item[0], item[1]))
        for _, _, item in hits:
            if item is _LIQ:
                if self.ex.breached(m, mark):
                    self.ex.liquidate(m, dec(mark), ts, out)
                continue
            assert isinstance(item, WorkingOrder)
            if not item.resting or item.order.status in TERMINAL_STATUSES:
                continue
            if item.is_trigger:
                touch = Touch.of(m) if m.book is not None else Touch.at(mark)
                self.flow.fire(m, item, touch, ts, out)
            else:
                self.ex.maker_fill(m, item, ts, out)

    def _leg(self, m: MarketState, a: float, b: float, t0: float, t1: float, out: Out) -> None:
        """One monotonic leg of the intrabar path from ``a`` to ``b``."""
        if a == b:
            return
        falling = b < a
        pos = a
        done: set[object] = set()
        touch_fills = self.core.touch_fills
        span = abs(b - a)
        while True:
            best: object = None
            best_key: tuple[float, int] | None = None
            best_level = pos
            for wo in m.resting:
                if wo.falls is not falling:
                    continue
                ident = (wo.seq, wo.triggered)
                if ident in done:
                    continue
                level = wo.level
                inclusive = wo.is_trigger or touch_fills
                if falling:
                    ok = (b <= level <= pos and level < a) if inclusive else (b < level <= pos)
                else:
                    ok = (pos <= level <= b and level > a) if inclusive else (pos <= level < b)
                if ok:
                    key = (abs(level - a), wo.seq)
                    if best_key is None or key < best_key:
                        best, best_key, best_level = wo, key, level
            position = m.position
            if position.size and _LIQ not in done:
                level = position.liq_f
                if (falling and position.size > 0 and b < level <= pos) or (
                    not falling and position.size < 0 and pos <= level < b
                ):
                    key = (abs(level - a), FAR)
                    if best_key is None or key < best_key:
                        best, best_key, best_level = _LIQ, key, level
            if best is None or best_key is None:
                return
            level = best_level
            pos = level
            m.last = level
            t = int(t0 + (t1 - t0) * best_key[0] / span)
            if best is _LIQ:
                done.add(_LIQ)
                liq = position.liq
                self.ex.liquidate(m, liq if liq is not None else dec(level), t, out)
            else:
                assert isinstance(best, WorkingOrder)
                done.add((best.seq, best.triggered))
                price_d = _exact_level(best)
                if best.is_trigger:
                    self.flow.fire(m, best, Touch.at(float(price_d)), t, out)
                else:
                    self.ex.maker_fill(m, best, t, out)
            if self.ex.breached(m, pos):
                self.ex.liquidate(m, dec(pos), t, out)

    # ---- books --------------------------------------------------------------------------------

    def process_book(self, m: MarketState, book: OrderBook, prev: float) -> Out:
        """``m`` already holds ``book`` and its mid as ``m.last``; ``prev`` is the price before."""
        out: Out = []
        ts = to_millis(book.timestamp)
        m.bar_seq += 1
        mid = m.last
        if m.position.size:
            self.funding.settle_range(m, ts + 1, None, mid, out)
        arrivals = self._due(m, ts, ts + 1)
        touch = Touch.of(m)

        def limit_price(wo: WorkingOrder) -> float:
            return touch.ask if wo.sign > 0 else touch.bid

        self._jump(m, prev, limit_price, mid, ts, out)
        for wo in arrivals:
            if wo.order.status not in TERMINAL_STATUSES:
                self.flow.arrive(m, wo, Touch.of(m), ts, out)
        if self.ex.breached(m, mid):
            self.ex.liquidate(m, dec(mid), ts, out)
        if self.core.cross_positions > 1:
            self.ex.refresh_risk()
        else:
            m.refresh()
        return out


def _liquidation_in(m: MarketState, low: float, high: float) -> bool:
    """Can the intrabar path reach the position's liquidation price (see ``_leg``: a long's
    when the price falls to it, a short's when it rises to it)?"""
    position = m.position
    if position.size > 0:
        return low < position.liq_f <= high
    if position.size < 0:
        return low <= position.liq_f < high
    return False


def _exact_level(wo: WorkingOrder) -> Decimal:
    price = wo.trigger_price if wo.is_trigger else wo.price
    assert price is not None
    return price
