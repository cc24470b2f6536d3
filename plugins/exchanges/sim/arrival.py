"""What happens when an order reaches the venue (after its latency) or a trigger order fires.

* market: takes at the touch; whatever the volume cap or the book leaves is cancelled (IOC);
* IOC limit: rejected when it does not cross; partial fill → remainder cancelled;
* FOK limit: all now or rejected;
* ALO (post-only): rejected when it would cross; otherwise rests;
* GTC limit: the crossing part takes, the rest rests (and fills later as maker);
* STOP / TAKE_PROFIT: armed; when already past the trigger, fires at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sparkstacker.exchange import VenueEvent
from sparkstacker.model import TERMINAL_STATUSES, TimeInForce, from_millis
from sparkstacker.model.members import (
    ALO,
    CANCELLED,
    FOK,
    GTC,
    IOC,
    REJECTED,
    TRIGGERED,
)
from sparkstacker_plugins.exchanges.sim.core import SimCore, dec
from sparkstacker_plugins.exchanges.sim.execution import Executor
from sparkstacker_plugins.exchanges.sim.state import MarketState, WorkingOrder

Out = list[VenueEvent]


@dataclass(slots=True)
class Touch:
    """The prices an arriving order meets: best bid / ask and the mark (all equal in bar mode)."""

    bid: float
    ask: float
    mark: float
    book: bool = False

    @classmethod
    def at(cls, price: float) -> Touch:
        return cls(price, price, price)

    @classmethod
    def of(cls, m: MarketState) -> Touch:
        if m.book is not None:
            nan = float("nan")
            bid = float(m.book.bids[0].price) if m.book.bids else nan
            ask = float(m.book.asks[0].price) if m.book.asks else nan
            return cls(bid, ask, m.last, True)
        return cls.at(m.last)


class OrderFlow:
    def __init__(self, core: SimCore, executor: Executor) -> None:
        self.core = core
        self.ex = executor

    def crosses(self, wo: WorkingOrder, touch: Touch, tif: TimeInForce) -> bool:
        """Would ``wo`` take liquidity at ``touch``? On bars (no spread) a price equal to the
        touch crosses only for IOC / FOK; a GTC or ALO order at the touch rests as maker."""
        if wo.is_market:
            return True
        gap = (wo.price_f - touch.ask) if wo.sign > 0 else (touch.bid - wo.price_f)
        if gap == 0:
            return touch.book or tif is IOC or tif is FOK
        return gap > 0

    def trigger_hit(self, wo: WorkingOrder, price: float) -> bool:
        return price <= wo.trigger_f if wo.falls else price >= wo.trigger_f

    def arrive(self, m: MarketState, wo: WorkingOrder, touch: Touch, ts_ms: int, out: Out) -> None:
        """``wo`` is live on the venue from now, meeting ``touch``."""
        if wo.is_trigger:
            self.ex.rest(m, wo)
            if self.trigger_hit(wo, touch.mark):
                self.fire(m, wo, touch, ts_ms, out)
            return
        self.act(m, wo, touch, ts_ms, out)

    def fire(self, m: MarketState, wo: WorkingOrder, touch: Touch, ts_ms: int, out: Out) -> None:
        """A trigger order's trigger was reached: it becomes a market (or limit) order now."""
        ex = self.ex
        ex.unrest(m, wo)
        wo.triggered = True
        wo.order = wo.order.transition(TRIGGERED, at=from_millis(ts_ms))
        if ex.reducible(m, wo) == 0:
            ex.end(m, wo, CANCELLED, self.core.messages.reduce_only, ts_ms, out)
            return
        out.append(self.core.order_event(wo, ts_ms))
        self.act(m, wo, touch, ts_ms, out)

    def act(self, m: MarketState, wo: WorkingOrder, touch: Touch, ts_ms: int, out: Out) -> None:
        """A live, non-trigger order meets the touch."""
        ex = self.ex
        msgs = self.core.messages
        if ex.reducible(m, wo) == 0:
            ex.end(m, wo, REJECTED, msgs.reduce_only, ts_ms, out)
            return
        tif = IOC if wo.takes_only else wo.tif
        crossing = self.crosses(wo, touch, tif)
        if tif is ALO and crossing:
            reason = msgs.post_only_crossed(_dec_or(touch.bid), _dec_or(touch.ask))
            ex.end(m, wo, REJECTED, reason, ts_ms, out)
            return
        if not crossing:
            if tif is IOC:
                ex.end(m, wo, REJECTED, msgs.ioc_no_match, ts_ms, out)
            elif tif is FOK:
                ex.end(m, wo, REJECTED, msgs.fok_not_filled, ts_ms, out)
            else:
                self._rest(m, wo, touch, ts_ms, out)
            return
        if tif is FOK and self._fillable(m, wo) < wo.remaining:
            ex.end(m, wo, REJECTED, msgs.fok_not_filled, ts_ms, out)
            return
        price_f = touch.ask if wo.sign > 0 else touch.bid
        fills = ex.take(m, wo, price_f, dec(price_f), ts_ms, out)
        if wo.order.status in TERMINAL_STATUSES:
            ex.finish_step(m, wo, fills, ts_ms, out, keep_resting=False)
            return
        if tif is GTC:
            ex.rest(m, wo)
            ex.finish_step(m, wo, fills, ts_ms, out, keep_resting=True)
            return
        if fills:
            nothing_left = ex.reducible(m, wo) == 0
            reason = msgs.reduce_only_cancel if nothing_left else msgs.ioc_remainder
            ex.end(m, wo, CANCELLED, reason, ts_ms, out, fills)
        else:
            reason = msgs.market_no_liquidity if wo.takes_only else msgs.ioc_no_match
            ex.end(m, wo, REJECTED, reason, ts_ms, out)

    def _rest(self, m: MarketState, wo: WorkingOrder, touch: Touch, ts_ms: int, out: Out) -> None:
        """Rest on the book; on bars a limit sitting exactly at the price is touched at once."""
        self.ex.rest(m, wo)
        at_touch = wo.price_f == (touch.ask if wo.sign > 0 else touch.bid)
        if at_touch and not touch.book and self.core.touch_fills:
            self.ex.maker_fill(m, wo, ts_ms, out)

    def _fillable(self, m: MarketState, wo: WorkingOrder) -> Decimal:
        if m.book is not None:
            return self.ex.book_depth(m, wo, wo.price)
        return self.ex.bar_allowance(m, wo)


def _dec_or(value: float) -> Decimal:
    return dec(value) if value == value else Decimal(0)
