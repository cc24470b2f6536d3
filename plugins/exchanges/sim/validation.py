"""Pre-trade checks at submission, in Hyperliquid's words. A failing order is *rejected* (an
``OrderReport`` with the reason), never raised.

Order of checks: price grid (tick, then significant figures), size lot, price band (80 % from
the last price), reduce-only direction, minimum value, post-only crossing, margin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sparkstacker.model import ZERO, Instrument, OrderType, Side, TimeInForce
from sparkstacker.model.members import ALO, BUY, LIMIT
from sparkstacker_plugins.exchanges.sim.messages import VenueMessages
from sparkstacker_plugins.exchanges.sim.state import WorkingOrder

_BAND = Decimal("0.8")


class OrderTerms(Protocol):
    """What the checks read of an order: an ``Order``, or the venue's ``WorkingOrder`` (which
    holds them in plain slots, cheaper to read)."""

    @property
    def side(self) -> Side: ...
    @property
    def type(self) -> OrderType: ...
    @property
    def size(self) -> Decimal: ...
    @property
    def price(self) -> Decimal | None: ...
    @property
    def trigger_price(self) -> Decimal | None: ...
    @property
    def tif(self) -> TimeInForce: ...
    @property
    def reduce_only(self) -> bool: ...


@dataclass(slots=True)
class MarketView:
    """What the checks need to know about the market and the account right now."""

    position: Decimal  # signed size
    last: Decimal
    bid: Decimal
    ask: Decimal
    leverage: Decimal
    available: Decimal | None = None  # margin free for new orders (None: ask free_margin)
    book: bool = False  # bid / ask come from a book (else both are the last bar price)
    free_margin: Callable[[], Decimal] | None = None  # computes ``available`` when needed

    def margin_available(self) -> Decimal:
        """Margin free for new orders: ``available``, else computed (only orders that add
        exposure need it)."""
        if self.available is not None:
            return self.available
        if self.free_margin is None:
            raise ValueError("MarketView needs available or free_margin")
        return self.free_margin()


def reference_price(order: OrderTerms, last: Decimal) -> Decimal:
    """The price an order is valued at: its limit, else its trigger, else the last price."""
    if order.price is not None:
        return order.price
    if order.trigger_price is not None:
        return order.trigger_price
    return last


def increasing_size(sign: int, size: Decimal, reduce_only: bool, position: Decimal) -> Decimal:
    """The part of an order (side ``sign``, ``size``) that opens or adds to exposure."""
    if reduce_only:
        return ZERO
    if position == 0 or (position > 0) == (sign > 0):
        return size
    return max(ZERO, size - abs(position))


def closes_position(order: OrderTerms, position: Decimal) -> bool:
    opposite = position != 0 and (position > 0) != (order.side is BUY)
    if not opposite:
        return False
    return order.size == abs(position) or (order.reduce_only and order.size >= abs(position))


def check_order(
    order: OrderTerms, instrument: Instrument, msgs: VenueMessages, view: MarketView
) -> str | None:
    """The venue's reject reason for ``order``, or None when it is accepted."""
    price = order.price
    trigger = order.trigger_price
    if price is not None or trigger is not None:
        for level in (price, trigger):
            if level is None:
                continue
            if level % instrument.tick_size != 0:
                return msgs.tick
            if not instrument.is_valid_price(level):
                return msgs.invalid_price
    size = order.size
    if size % instrument.lot_size != 0 or (
        instrument.min_size is not None and size < instrument.min_size
    ):
        return msgs.invalid_size
    last = view.last
    if price is not None and abs(price - last) > _BAND * last and last > 0:
        return msgs.price_too_far
    position = view.position
    buy = order.side is BUY
    increases = position == 0 or (position > 0) == buy
    if order.reduce_only and not order.type.is_trigger and increases:
        return msgs.reduce_only
    reference = price if price is not None else trigger if trigger is not None else last
    value = instrument.notional(size, reference)
    if value < instrument.min_notional and not closes_position(order, position):
        return msgs.min_value(instrument.min_notional)
    if order.tif is ALO and order.type is LIMIT and price is not None:
        gap = price - view.ask if buy else view.bid - price
        if gap > 0 or (gap == 0 and view.book):
            return msgs.post_only_crossed(view.bid, view.ask)
    adding = increasing_size(1 if buy else -1, size, order.reduce_only, position)
    if adding == 0:
        return None  # adds no exposure: needs no margin
    needed = (value if adding is size else instrument.notional(adding, reference)) / view.leverage
    if needed > 0 and needed > view.margin_available():
        return msgs.margin
    return None


def reserved_margin(
    orders: Iterable[WorkingOrder], position: Decimal, leverage: Decimal, last: Decimal
) -> Decimal:
    """Initial margin held by live orders that would add exposure (trigger orders hold none)."""
    total = ZERO
    for wo in orders:
        order = wo.order  # status and filled size (the rest is read from ``wo``)
        if order.is_terminal or wo.is_trigger:
            continue
        size = increasing_size(wo.sign, order.remaining, wo.reduce_only, position)
        if size > 0:
            total += size * reference_price(wo, last) / leverage
    return total
