"""Book mode: with an L2 snapshot, taker orders walk the levels and sizes are what the book has."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from simkit import MIN, SYMBOL, T0, flat_bar, make_sim, market, order, reports
from sparkstacker.model import (
    BookLevel,
    Liquidity,
    OrderBook,
    OrderStatus,
    TimeInForce,
    from_millis,
)

D = Decimal
TAKER = D("0.00045")


def book(ts: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> OrderBook:
    return OrderBook(
        venue="sim",
        symbol=SYMBOL,
        timestamp=from_millis(ts),
        bids=tuple(BookLevel(price=D(p), size=D(s)) for p, s in bids),
        asks=tuple(BookLevel(price=D(p), size=D(s)) for p, s in asks),
    )


BIDS = [("1999.5", "1"), ("1999", "3")]
ASKS = [("2000.5", "1"), ("2001", "2"), ("2002", "5")]


def test_market_order_walks_the_book_levels() -> None:
    sim = make_sim(bps=50, fill_at="close")  # the bar slippage model is not used on a book
    sim.on_book(SYMBOL, book(T0, BIDS, ASKS))
    report = sim.submit_order(market("buy", "2.5"))
    assert report.status is OrderStatus.FILLED
    assert [(f.price, f.size) for f in report.fills] == [(D("2000.5"), D(1)), (D("2001"), D("1.5"))]
    assert report.avg_fill_price == (D("2000.5") + D("2001") * D("1.5")) / D("2.5")
    assert [f.fee for f in report.fills] == [D("2000.5") * TAKER, D("2001") * D("1.5") * TAKER]


def test_ioc_is_limited_to_the_size_within_its_price() -> None:
    sim = make_sim(fill_at="close")
    sim.on_book(SYMBOL, book(T0, BIDS, ASKS))
    report = sim.submit_order(order("buy", "5", price="2001", tif=TimeInForce.IOC))
    assert report.filled_size == D(3)  # 1 at 2000.5 + 2 at 2001; 2002 is beyond the limit
    assert (report.status, report.reason) == (OrderStatus.CANCELLED, "IOC remainder cancelled")


def test_a_snapshot_is_not_taken_twice() -> None:
    sim = make_sim(fill_at="close")
    sim.on_book(SYMBOL, book(T0, BIDS, ASKS))
    first = sim.submit_order(market("sell", "1"))
    second = sim.submit_order(market("sell", "1"))
    assert [f.price for f in first.fills] == [D("1999.5")]
    assert [f.price for f in second.fills] == [D("1999")]  # the first level was used up


def test_next_open_orders_walk_the_next_book() -> None:
    sim = make_sim()
    sim.on_book(SYMBOL, book(T0, BIDS, ASKS))
    assert sim.submit_order(market("buy", "1", cid="m")).status is OrderStatus.ACCEPTED
    events = sim.on_book(SYMBOL, book(T0 + 500, [("2001", "1")], [("2003", "4")]))
    (report,) = reports(events, "m")
    assert [(f.price, f.liquidity) for f in report.fills] == [(D("2003"), Liquidity.TAKER)]


def test_resting_limit_fills_when_the_book_crosses_it() -> None:
    sim = make_sim()
    sim.on_book(SYMBOL, book(T0, BIDS, ASKS))
    sim.submit_order(order("buy", "1", price="1999.8", tif=TimeInForce.ALO, cid="p"))
    sim.on_book(SYMBOL, book(T0 + 1000, BIDS, ASKS))  # goes live, rests
    events = sim.on_book(
        SYMBOL, book(T0 + 2000, [("1999.5", "1")], [("1999.7", "0.4"), ("1999.9", "1")])
    )
    (report,) = reports(events, "p")
    # Only 0.4 ETH was offered at or below our bid; we fill at our own price, as maker.
    assert [(f.price, f.size, f.liquidity) for f in report.fills] == [
        (D("1999.8"), D("0.4"), Liquidity.MAKER)
    ]
    assert report.status is OrderStatus.PARTIALLY_FILLED


def test_post_only_against_a_book_quotes_the_bbo() -> None:
    sim = make_sim()
    sim.on_book(SYMBOL, book(T0, BIDS, ASKS))
    report = sim.submit_order(order("buy", "1", price="2000.5", tif=TimeInForce.ALO))
    assert report.reason == "Post only order would have immediately matched, bbo was 1999.5@2000.5."


def test_empty_book_side_means_no_liquidity() -> None:
    sim = make_sim(fill_at="close")
    sim.on_book(SYMBOL, book(T0, BIDS, []))
    report = sim.submit_order(market("buy", "1"))
    assert (report.status, report.reason) == (
        OrderStatus.REJECTED,
        "No liquidity available for market order.",
    )


def test_order_book_returns_the_last_snapshot_or_an_empty_one() -> None:
    sim = make_sim()
    flat_bar(sim, 0, 2000)
    empty = asyncio.run(sim.order_book(SYMBOL))
    assert empty.bids == ()
    assert empty.asks == ()
    assert empty.timestamp == from_millis(T0 + MIN)
    snapshot = book(T0 + MIN, BIDS, ASKS)
    sim.on_book(SYMBOL, snapshot)
    assert asyncio.run(sim.order_book(SYMBOL)) == snapshot


def test_reduce_only_walking_the_book_stops_at_the_position() -> None:
    sim = make_sim(fill_at="close")
    sim.on_book(SYMBOL, book(T0, BIDS, ASKS))
    sim.submit_order(market("buy", "1.5"))  # 1 at 2000.5, 0.5 at 2001
    sim.on_book(SYMBOL, book(T0 + MIN, BIDS, ASKS))
    report = sim.submit_order(market("sell", "4", reduce_only=True))
    assert [(f.price, f.size) for f in report.fills] == [(D("1999.5"), D(1)), (D("1999"), D("0.5"))]
    assert report.filled_size == D("1.5")
    assert asyncio.run(sim.account()).position(SYMBOL) is None
