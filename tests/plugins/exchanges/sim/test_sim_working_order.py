"""The venue's record of an order: its terms are read once, its status from the current order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from simkit import SYMBOL, flat_bar, make_sim, market, order
from sparkstacker.model import Fill, Liquidity, OrderStatus, OrderType, Side, TimeInForce, utcnow
from sparkstacker_plugins.exchanges.sim.state import WorkingOrder

D = Decimal
ONE = D(1)


def test_terms_are_the_orders_and_status_follows_the_replaced_order() -> None:
    placed = order("sell", "2", price="2010", tif=TimeInForce.ALO, reduce_only=True, cid="w")
    wo = WorkingOrder.of(placed, 7, 0)
    terms = (wo.side, wo.type, wo.size, wo.price, wo.trigger_price, wo.tif, wo.reduce_only)
    assert terms == (Side.SELL, OrderType.LIMIT, D(2), D(2010), None, TimeInForce.ALO, True)
    assert (wo.symbol, wo.client_order_id, wo.venue_order_id, wo.sign) == (SYMBOL, "w", "7", -1)
    assert (wo.price_f, wo.is_market, wo.is_trigger, wo.remaining) == (2010.0, False, False, D(2))
    accepted = placed.transition(OrderStatus.SUBMITTED).transition(OrderStatus.ACCEPTED)
    wo.order = accepted.apply_fill(
        Fill(
            fill_id="f",
            client_order_id="w",
            venue="sim",
            symbol=SYMBOL,
            side=Side.SELL,
            price=D(2010),
            size=D("0.5"),
            fee=D(0),
            liquidity=Liquidity.MAKER,
            timestamp=utcnow(),
        )
    )
    assert wo.remaining == D("1.5")


@dataclass
class _Probe:
    """What the backtest's fast path hands the venue's checks: an order's terms, no ids."""

    side: Side = Side.BUY
    size: Decimal = ONE
    reduce_only: bool = False
    type: OrderType = OrderType.MARKET
    tif: TimeInForce = TimeInForce.IOC
    price: Decimal | None = None
    trigger_price: Decimal | None = None


def test_built_by_keyword_from_a_bare_probe() -> None:
    nan = float("nan")
    wo = WorkingOrder(
        order=_Probe(),  # type: ignore[arg-type]
        seq=1,
        venue_order_id="1",
        sign=1,
        price_f=nan,
        trigger_f=nan,
        delay_ms=0,
    )
    assert (wo.side, wo.size, wo.is_market, wo.takes_only, wo.is_trigger) == (
        Side.BUY,
        D(1),
        True,
        True,
        False,
    )


def test_a_partly_filled_order_reports_its_remaining_size_after_each_fill() -> None:
    sim = make_sim(bps=0, volume_share=D("0.5"))
    flat_bar(sim, 0, 2000, v=1)
    sim.submit_order(market("buy", "2", cid="p"))
    flat_bar(sim, 1, 2000, v=1)  # takes 0.5 of the bar's 1; the rest is cancelled (IOC)
    wo = sim._core.orders["p"]
    assert (wo.order.filled_size, wo.remaining, wo.order.status) == (
        D("0.5"),
        D("1.5"),
        OrderStatus.CANCELLED,
    )
