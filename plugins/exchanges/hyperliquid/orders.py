"""Orders → SDK order requests (rounded, checked) and venue outcomes → OrderReports.

Everything here happens **before** a request leaves or **after** the answer arrived; nothing in
this module talks to the network.

* sizes must already be on the lot (``Instrument.round_size``); a size that rounds to zero or
  differs from the lot grid is an error, never a silently different order;
* limit prices round passively (buy down, sell up) so they are never worse than asked;
* market orders are IOC limits at a bounded slippage from the current book's best level, rounded
  away from the book (buy up, sell down) so they still cross;
* the minimum notional ($10) is checked on the price actually sent (full closes are exempt);
* every order carries a cloid derived from its client order id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sparkstacker.errors import OrderRejected, OrderSizeError, PriceRuleError
from sparkstacker.exchange import OrderReport
from sparkstacker.model import (
    ONE,
    Fill,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from sparkstacker.model.instrument import RoundingMode
from sparkstacker_plugins.exchanges.hyperliquid.ids import cloid_for
from sparkstacker_plugins.exchanges.hyperliquid.parsing import IOC_REMAINDER
from sparkstacker_plugins.exchanges.hyperliquid.responses import OrderOutcome
from sparkstacker_plugins.exchanges.hyperliquid.schemas import VENUE, format_error
from sparkstacker_plugins.exchanges.hyperliquid.symbols import Market

TIF_WIRE = {TimeInForce.GTC: "Gtc", TimeInForce.IOC: "Ioc", TimeInForce.ALO: "Alo"}


@dataclass(frozen=True)
class PreparedOrder:
    """An order made legal for the venue, ready for ``Exchange.bulk_orders``."""

    order: Order
    market: Market
    cloid: str
    size: Decimal
    price: Decimal
    order_type: dict[str, Any]
    tif: str  # Gtc / Ioc / Alo, or "trigger"

    @property
    def is_buy(self) -> bool:
        return self.order.side is Side.BUY

    @property
    def is_ioc(self) -> bool:
        return self.tif == "Ioc"

    def sdk_request(self, cloid: Any) -> dict[str, Any]:
        """The SDK's ``OrderRequest`` (floats are exact: checked in :func:`_wire_float`)."""
        return {
            "coin": self.market.coin,
            "is_buy": self.is_buy,
            "sz": _wire_float(self.size, "size", self.order),
            "limit_px": _wire_float(self.price, "price", self.order),
            "order_type": self.order_type,
            "reduce_only": self.order.reduce_only,
            "cloid": cloid,
        }


def _wire_float(value: Decimal, what: str, order: Order) -> float:
    """The SDK takes floats and refuses any that do not survive 8-decimal formatting."""
    as_float = float(value)
    if Decimal(repr(as_float)) != value or value != value.quantize(Decimal("1e-8")):
        raise PriceRuleError(
            f"{what} {value} of order {order.client_order_id} cannot be sent exactly "
            "(more than 8 decimals or beyond float precision)"
        )
    return as_float


def _check_size(order: Order, market: Market) -> Decimal:
    rounded = market.instrument.round_size(order.size)  # raises on zero / under minimum
    if rounded != order.size:
        raise OrderSizeError(
            f"size {order.size} {market.instrument.base} of order {order.client_order_id} is not "
            f"a multiple of the lot {market.instrument.lot_size} on {market.symbol} "
            f"({VENUE}); the nearest valid size below is {rounded} (round with "
            "Instrument.round_size before submitting)"
        )
    return rounded


def market_price(order: Order, market: Market, book: OrderBook, slippage: Decimal) -> Decimal:
    """IOC limit for a market order: best opposite level ± slippage, rounded away from the book,
    never beyond the order's own price cap when it has one."""
    instrument = market.instrument
    if order.side is Side.BUY:
        if book.best_ask is None:
            raise OrderRejected(
                f"not sent: no asks in the {market.symbol} book for a market buy",
                venue=VENUE,
                client_order_id=order.client_order_id,
            )
        price = instrument.round_price(book.best_ask * (ONE + slippage), "up")
        if order.price is not None:
            price = min(price, instrument.round_price(order.price, "down"))
        return price
    if book.best_bid is None:
        raise OrderRejected(
            f"not sent: no bids in the {market.symbol} book for a market sell",
            venue=VENUE,
            client_order_id=order.client_order_id,
        )
    price = instrument.round_price(book.best_bid * (ONE - slippage), "down")
    if order.price is not None:
        price = max(price, instrument.round_price(order.price, "up"))
    return price


def prepare_order(
    order: Order,
    market: Market,
    *,
    book: OrderBook | None,
    slippage: Decimal,
    closes_position: bool = False,
) -> PreparedOrder:
    """Validate, round and translate one order; raises before anything is sent."""
    if order.tif is TimeInForce.FOK:
        raise OrderRejected(
            "not sent: Hyperliquid has no fill-or-kill; use IOC and check the filled size",
            venue=VENUE,
            client_order_id=order.client_order_id,
        )
    instrument = market.instrument
    size = _check_size(order, market)
    passive: RoundingMode = "down" if order.side is Side.BUY else "up"
    aggressive: RoundingMode = "up" if order.side is Side.BUY else "down"
    order_type: dict[str, Any]
    if order.type is OrderType.MARKET:
        if book is None:
            raise ValueError("a market order needs the current book")
        price = market_price(order, market, book, slippage)
        tif = "Ioc"
        order_type = {"limit": {"tif": tif}}
    elif order.type is OrderType.LIMIT:
        assert order.price is not None
        price = instrument.round_price(order.price, passive)
        tif = TIF_WIRE[order.tif]
        order_type = {"limit": {"tif": tif}}
    else:
        assert order.trigger_price is not None
        trigger = instrument.round_price(order.trigger_price, "nearest")
        if order.price is None:
            # Market when triggered: the limit is the worst acceptable price.
            factor = ONE + slippage if order.side is Side.BUY else ONE - slippage
            price = instrument.round_price(trigger * factor, aggressive)
        else:
            price = instrument.round_price(order.price, passive)
        tif = "trigger"
        order_type = {
            "trigger": {
                "triggerPx": _wire_float(trigger, "trigger price", order),
                "isMarket": order.price is None,
                "tpsl": "sl" if order.type is OrderType.STOP else "tp",
            }
        }
    instrument.check_notional(size, price, closes_position=closes_position)
    return PreparedOrder(
        order=order,
        market=market,
        cloid=cloid_for(order.client_order_id),
        size=size,
        price=price,
        order_type=order_type,
        tif=tif,
    )


def report_from_outcome(
    prepared: PreparedOrder,
    outcome: OrderOutcome,
    *,
    now: datetime,
    fills: tuple[Fill, ...] = (),
    endpoint: str = "exchange:order",
    path: str = "response.data.statuses[0]",
) -> OrderReport:
    """Map one status of an accepted action to a report (fills already fetched for ``filled``)."""
    order = prepared.order
    oid = None if outcome.oid is None else str(outcome.oid)
    if outcome.kind == "error":
        return OrderReport(
            client_order_id=order.client_order_id,
            status=OrderStatus.REJECTED,
            reason=outcome.text,
            timestamp=now,
        )
    if outcome.kind in ("resting", "waiting"):
        return OrderReport(
            client_order_id=order.client_order_id,
            venue_order_id=oid,
            status=OrderStatus.ACCEPTED,
            reason=outcome.text,
            timestamp=now,
        )
    assert outcome.total_size is not None
    total = outcome.total_size
    if total > prepared.size:
        raise format_error(
            endpoint, f"{path}.filled.totalSz", f"filled {total} exceeds the {prepared.size} sent"
        )
    visible = sum((f.size for f in fills), Decimal(0))
    if visible < total:
        # The venue says filled but userFills does not show all of it yet: report what is
        # visible and leave the order open; the stream / resync delivers the rest.
        return OrderReport(
            client_order_id=order.client_order_id,
            venue_order_id=oid,
            status=OrderStatus.PARTIALLY_FILLED if visible > 0 else OrderStatus.ACCEPTED,
            filled_size=visible,
            avg_fill_price=_vwap(fills),
            reason=f"filled {total} per the venue; {visible} visible in userFills so far",
            fills=fills,
            timestamp=now,
        )
    filled = visible  # >= total: a resting GTC may have filled more since the answer
    if filled > prepared.size:
        raise format_error(
            endpoint, f"{path}.filled", f"fills of {filled} exceed the {prepared.size} sent"
        )
    if filled == prepared.size:
        status, reason = OrderStatus.FILLED, "filled"
    elif prepared.is_ioc:
        status = OrderStatus.CANCELLED
        reason = f"{IOC_REMAINDER} (filled {filled} of {prepared.size})"
    else:
        status = OrderStatus.PARTIALLY_FILLED
        reason = f"filled {filled} of {prepared.size}; the rest rests"
    return OrderReport(
        client_order_id=order.client_order_id,
        venue_order_id=oid,
        status=status,
        filled_size=filled,
        avg_fill_price=_vwap(fills),
        reason=reason,
        fills=fills,
        timestamp=now,
    )


def _vwap(fills: tuple[Fill, ...]) -> Decimal | None:
    size = sum((f.size for f in fills), Decimal(0))
    if size == 0:
        return None
    return sum((f.price * f.size for f in fills), Decimal(0)) / size
