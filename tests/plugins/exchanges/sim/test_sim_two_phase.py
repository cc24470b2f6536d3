"""Two-phase bars: an order sent between on_bar_open and on_bar_close meets that bar's open.

This is what lets a hedge leg be sent the moment its main leg filled at the open, and be filled
at about the same price a live venue would give it, instead of a whole bar later.
"""

from __future__ import annotations

from decimal import Decimal

from simkit import MIN, SYMBOL, T0, flat_bar, make_sim, market, order, reports

D = Decimal


def test_order_sent_at_the_open_fills_at_that_open() -> None:
    sim = make_sim(bps=0, volume_share=None)
    flat_bar(sim, 0, 2000.0)
    main = market("buy", "1")
    sim.submit_order(main)  # decided at bar 0's close: fills at bar 1's open
    opened = sim.on_bar_open(SYMBOL, T0 + MIN, 2010.0, 2050.0, 1990.0, 2040.0, 1_000.0)
    (main_report,) = reports(opened, main.client_order_id)
    assert main_report.fills[0].price == D("2010")
    hedge = market("sell", "0.2")
    accepted = sim.submit_order(hedge)
    assert not accepted.fills  # not executed inside submit: it arrives during the bar
    closed = sim.on_bar_close(SYMBOL)
    (hedge_report,) = reports(closed, hedge.client_order_id)
    assert hedge_report.fills[0].price == D("2010")  # the open, not the close or the next bar
    assert hedge_report.fills[0].timestamp == main_report.fills[0].timestamp


def test_on_bar_equals_open_then_close() -> None:
    """Splitting a bar changes nothing when no order is sent in between."""
    one, two = make_sim(bps=1), make_sim(bps=1)
    for sim in (one, two):
        flat_bar(sim, 0, 2000.0)
        sim.submit_order(market("buy", "1", cid="same"))
    a = one.on_bar(SYMBOL, T0 + MIN, 2001.0, 2010.0, 1995.0, 2005.0, 1_000.0)
    b = list(two.on_bar_open(SYMBOL, T0 + MIN, 2001.0, 2010.0, 1995.0, 2005.0, 1_000.0))
    b += two.on_bar_close(SYMBOL)
    assert [e.report for e in a] == [e.report for e in b]
    assert one.totals() == two.totals()


def test_quiet_bars_still_take_orders_sent_at_the_open() -> None:
    """A bar that touches nothing is skipped cheaply, but an order sent at its open still
    arrives at the open and the held position still pays funding at the next boundary."""
    sim = make_sim(bps=0, volume_share=None, funding_rate=D("0.0001"))
    flat_bar(sim, 0, 2000.0)
    sim.submit_order(market("buy", "1"))
    sim.on_bar(SYMBOL, T0 + MIN, 2000.0, 2001.0, 1999.0, 2000.0, 1_000.0)  # long 1 at 2000
    quiet = sim.on_bar_open(SYMBOL, T0 + 2 * MIN, 2002.0, 2003.0, 2001.0, 2002.5, 1_000.0)
    assert quiet == []
    more = market("buy", "0.5")
    sim.submit_order(more)
    (report,) = reports(sim.on_bar_close(SYMBOL), more.client_order_id)
    assert report.fills[0].price == D("2002")
    paid_before = sim.totals()["funding"]
    for minute in range(3, 61):  # up to the next hour boundary
        sim.on_bar_open(SYMBOL, T0 + minute * MIN, 2002.0, 2002.5, 2001.5, 2002.0, 1_000.0)
        sim.on_bar_close(SYMBOL)
    assert sim.totals()["funding"] > paid_before


def test_finished_orders_are_forgotten_like_the_real_venue() -> None:
    """Only the most recent finished orders are remembered (Hyperliquid answers unknownOid for
    older ones); open orders are never forgotten. This also bounds memory in long backtests."""
    import asyncio

    sim = make_sim(bps=0, volume_share=None, order_history=10)
    flat_bar(sim, 0, 2000.0)
    resting = sim.submit_order(order("buy", "0.01", price="1000", cid="resting"))
    ids = []
    for index in range(1, 40):
        sent = market("buy" if index % 2 else "sell", "0.01")
        sim.submit_order(sent)
        flat_bar(sim, index, 2000.0)
        ids.append(sent.client_order_id)
    assert len(sim._core.orders) <= 2 * 10 + 1
    assert asyncio.run(sim.order_status(ids[0], SYMBOL)) is None
    assert asyncio.run(sim.order_status(ids[-1], SYMBOL)) is not None
    still_open = asyncio.run(sim.order_status("resting", SYMBOL))
    assert still_open is not None
    assert still_open.status is resting.status
