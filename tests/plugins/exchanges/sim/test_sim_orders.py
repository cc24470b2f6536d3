"""Order handling on crafted bars; every expected price and fee is worked out by hand.

Instrument (simkit.eth): tick 0.1, lot 0.001, $10 minimum, 50x max. Fees: maker 0.00015,
taker 0.00045 (Hyperliquid base tier). ``bps`` is the fixed slippage of each test's sim.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from simkit import (
    MIN,
    SYMBOL,
    T0,
    bar,
    eth,
    flat_bar,
    make_sim,
    market,
    order,
    reports,
)
from sparkstacker.errors import DataError, ExchangeError
from sparkstacker.model import Liquidity, OrderStatus, OrderType, Side, TimeInForce, from_millis
from sparkstacker_plugins.exchanges.sim.latency import RandomLatency

D = Decimal
IOC_MISS = "Order could not immediately match against any resting orders."


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


# ---- market orders ------------------------------------------------------------------------------


def test_market_order_fills_at_next_open_plus_slippage() -> None:
    sim = make_sim(bps=1)
    flat_bar(sim, 0, 2000)
    report = sim.submit_order(market(cid="m1"))
    assert report.status is OrderStatus.ACCEPTED
    assert report.fills == ()
    events = bar(sim, 1, 2000, 2005, 1995, 2001)
    (filled,) = reports(events, "m1")
    assert filled.status is OrderStatus.FILLED
    (fill,) = filled.fills
    # 2000 × (1 + 1 bp) = 2000.2, already on the 0.1 grid; taker fee 2000.2 × 0.00045.
    assert fill.price == D("2000.2")
    assert fill.fee == D("0.90009")
    assert fill.liquidity is Liquidity.TAKER
    assert fill.timestamp == from_millis(T0 + MIN)  # the open of bar 1
    account = run(sim.account())
    assert account.collateral == D("10000") - D("0.90009")
    assert account.equity == account.collateral + (D("2001") - D("2000.2"))
    assert account.simulated is True


def test_fill_at_close_fills_immediately_at_the_close() -> None:
    sim = make_sim(bps=1, fill_at="close")
    bar(sim, 0, 1990, 2002, 1985, 2000)
    report = sim.submit_order(market(cid="c1"))
    assert report.status is OrderStatus.FILLED
    assert report.fills[0].price == D("2000.2")
    assert report.fills[0].timestamp == from_millis(T0 + MIN)  # bar 0 closes at T0 + 1m


def test_taker_price_is_put_on_the_grid_against_the_taker() -> None:
    sim = make_sim(bps=1)
    flat_bar(sim, 0, 1951.6)
    sim.submit_order(market("buy", "1", cid="b"))
    buy = reports(flat_bar(sim, 1, 1951.6), "b")[0].fills[0]
    # 1951.6 × 1.0001 = 1951.79516 → rounded up to 1951.8 (buyer pays more).
    assert buy.price == D("1951.8")
    sim.submit_order(market("sell", "1", cid="s"))
    sell = reports(flat_bar(sim, 2, 1951.6), "s")[0].fills[0]
    # 1951.6 × 0.9999 = 1951.40484 → rounded down to 1951.4 (seller gets less).
    assert sell.price == D("1951.4")
    assert sell.closed_pnl == D("1951.4") - D("1951.8")


def test_ioc_that_does_not_cross_is_rejected_with_the_venue_string() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", price="1990", tif=TimeInForce.IOC, cid="i"))
    (report,) = reports(bar(sim, 1, 2000, 2001, 1980, 1995), "i")
    assert report.status is OrderStatus.REJECTED
    assert report.reason == IOC_MISS
    assert report.filled_size == 0


def test_ioc_fill_price_is_capped_at_its_limit() -> None:
    sim = make_sim(bps=5)
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", price="2000.4", tif=TimeInForce.IOC, cid="i"))
    (report,) = reports(flat_bar(sim, 1, 2000), "i")
    # 2000 × 1.0005 = 2001 would exceed the limit: the fill happens at the limit.
    assert report.fills[0].price == D("2000.4")


def test_volume_cap_partial_fill_cancels_the_ioc_remainder() -> None:
    sim = make_sim(bps=1)  # volume_share 0.1
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", "5", price="2100", tif=TimeInForce.IOC, cid="i"))
    (report,) = reports(bar(sim, 1, 2000, 2001, 1999, 2000, v=20), "i")
    # 10 % of 20 ETH = 2 ETH may trade this bar.
    assert report.status is OrderStatus.CANCELLED
    assert report.filled_size == D("2")
    assert report.reason == "IOC remainder cancelled"
    assert [f.size for f in report.fills] == [D("2")]


def test_market_order_remainder_is_cancelled_too() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("sell", "3.5", cid="m"))
    (report,) = reports(bar(sim, 1, 2000, 2001, 1999, 2000, v=12.34), "m")
    # 10 % of 12.34 = 1.234 ETH, a whole number of 0.001 lots.
    assert report.status is OrderStatus.CANCELLED
    assert report.filled_size == D("1.234")


def test_market_order_without_volume_is_rejected_for_no_liquidity() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market(cid="m"))
    (report,) = reports(bar(sim, 1, 2000, 2000, 2000, 2000, v=0), "m")
    assert report.status is OrderStatus.REJECTED
    assert report.reason == "No liquidity available for market order."


def test_gtc_partial_fill_keeps_resting_and_completes_on_later_bars() -> None:
    sim = make_sim(bps=1)
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", "5", price="2010", cid="g"))
    first = reports(bar(sim, 1, 2000, 2003, 1999, 2002, v=20), "g")[0]
    # Crosses at the open: 2 ETH (10 % of 20) as taker at 2000.2 (2000 + 1 bp, under the limit).
    assert first.status is OrderStatus.PARTIALLY_FILLED
    assert [(f.price, f.size, f.liquidity) for f in first.fills] == [
        (D("2000.2"), D("2"), Liquidity.TAKER)
    ]
    assert [o.client_order_id for o in run(sim.open_orders(SYMBOL))] == ["g"]
    second = reports(bar(sim, 2, 2005, 2006, 2004, 2005, v=20), "g")[0]
    # Still resting above the market: the next 2 ETH fill at its own price, as maker.
    assert [(f.price, f.size, f.liquidity) for f in second.fills] == [
        (D("2010"), D("2"), Liquidity.MAKER)
    ]
    assert second.fills[0].fee == D("2010") * 2 * D("0.00015")
    third = reports(bar(sim, 3, 2005, 2006, 2004, 2005, v=20), "g")[0]
    assert third.status is OrderStatus.FILLED
    assert third.filled_size == D("5")
    position = run(sim.account()).position(SYMBOL)
    assert position is not None
    assert position.entry_price == (D("2000.2") * 2 + D("2010") * 3) / 5


# ---- resting limits: touch rule and gaps --------------------------------------------------------


def test_resting_limit_fills_as_maker_when_the_low_touches_it() -> None:
    sim = make_sim(bps=1)
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", "1", price="1990", cid="l"))
    (report,) = reports(bar(sim, 1, 2000, 2001, 1990, 1995), "l")
    (fill,) = report.fills
    assert (fill.price, fill.liquidity) == (D("1990"), Liquidity.MAKER)
    assert fill.fee == D("1990") * D("0.00015")


def test_touch_fills_false_needs_the_price_to_trade_through() -> None:
    sim = make_sim(bps=1, touch_fills=False)
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", "1", price="1990", cid="l"))
    assert reports(bar(sim, 1, 2000, 2001, 1990, 1995), "l") == []
    (report,) = reports(bar(sim, 2, 1995, 1996, 1989.9, 1992), "l")
    assert report.fills[0].price == D("1990")


def test_resting_limit_gapped_through_fills_at_its_own_price() -> None:
    sim = make_sim(bps=1)
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", "1", price="1990", cid="l"))
    flat_bar(sim, 1, 1995)  # not reached
    (report,) = reports(bar(sim, 2, 1980, 1985, 1975, 1982), "l")
    # The resting bid was on the book during the gap: it fills at 1990, not at the 1980 open.
    assert (report.fills[0].price, report.fills[0].liquidity) == (D("1990"), Liquidity.MAKER)


def test_limit_at_the_bar_price_rests_and_is_touched() -> None:
    sim = make_sim(bps=0, fill_at="close")
    flat_bar(sim, 0, 2000)
    report = sim.submit_order(order("buy", "1", price="2000", cid="l"))
    # Bars have no spread: a GTC at the price rests (maker) and is touched at once.
    assert report.status is OrderStatus.FILLED
    assert report.fills[0].liquidity is Liquidity.MAKER


# ---- submission checks (Hyperliquid strings) ----------------------------------------------------


def test_post_only_that_would_cross_is_rejected_with_the_bbo() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    report = sim.submit_order(order("buy", price="2000.1", tif=TimeInForce.ALO))
    assert report.status is OrderStatus.REJECTED
    assert report.reason == "Post only order would have immediately matched, bbo was 2000@2000."
    sell = sim.submit_order(order("sell", price="1999.9", tif=TimeInForce.ALO))
    assert sell.reason == "Post only order would have immediately matched, bbo was 2000@2000."


def test_post_only_rejected_when_the_next_open_crosses_it() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    accepted = sim.submit_order(order("buy", price="1999", tif=TimeInForce.ALO, cid="p"))
    assert accepted.status is OrderStatus.ACCEPTED
    (report,) = reports(bar(sim, 1, 1995, 1996, 1994, 1995), "p")
    assert report.status is OrderStatus.REJECTED
    assert report.reason == "Post only order would have immediately matched, bbo was 1995@1995."


def test_reduce_only_that_would_increase_is_rejected() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    flat_sell = sim.submit_order(market("sell", reduce_only=True))
    assert flat_sell.status is OrderStatus.REJECTED
    assert flat_sell.reason == "Reduce only order would increase position."
    sim.submit_order(market("buy", "1"))
    flat_bar(sim, 1, 2000)
    same_side = sim.submit_order(order("buy", price="1990", reduce_only=True))
    assert same_side.reason == "Reduce only order would increase position."


def test_reduce_only_larger_than_the_position_is_shrunk_to_it() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    flat_bar(sim, 1, 2000)
    sim.submit_order(market("sell", "2", reduce_only=True, cid="r"))
    (report,) = reports(flat_bar(sim, 2, 2010), "r")
    assert report.filled_size == D("1")
    assert report.status is OrderStatus.CANCELLED
    assert run(sim.account()).position(SYMBOL) is None


def test_resting_reduce_only_limit_fills_as_maker_only_up_to_the_position() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    flat_bar(sim, 1, 2000)
    sim.submit_order(order("sell", "3", price="2010", reduce_only=True, cid="r"))
    flat_bar(sim, 2, 2000)  # rests below its price
    (report,) = reports(bar(sim, 3, 2000, 2020, 2000, 2015), "r")
    ((fill,),) = [report.fills]
    assert (fill.size, fill.price, fill.liquidity) == (D("1"), D("2010"), Liquidity.MAKER)
    assert (report.status, report.reason) == (OrderStatus.CANCELLED, "reduceOnlyCanceled")
    assert run(sim.account()).position(SYMBOL) is None


def test_min_notional_rejects_small_orders_but_not_a_full_close() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    small = sim.submit_order(order("buy", "0.004", price="2000"))  # $8
    assert small.status is OrderStatus.REJECTED
    assert small.reason == "Order must have minimum value of $10."
    assert sim.submit_order(market("buy", "0.005")).status is OrderStatus.ACCEPTED  # $10
    flat_bar(sim, 1, 2000)
    flat_bar(sim, 2, 1900)  # the position is now worth $9.50
    partial = sim.submit_order(market("sell", "0.002", reduce_only=True))
    assert partial.reason == "Order must have minimum value of $10."
    full = sim.submit_order(market("sell", "0.005"))
    assert full.status is OrderStatus.ACCEPTED


def test_prices_off_the_tick_and_over_five_significant_figures_are_rejected() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    assert (
        sim.submit_order(order(price="2000.05")).reason == "Price must be divisible by tick size."
    )
    stop = order("sell", type=OrderType.STOP, trigger="1990.05", reduce_only=True)
    assert sim.submit_order(stop).reason == "Price must be divisible by tick size."
    hl = make_sim(bps=0, instrument=eth(tick_size=D("0.01"), price_significant_figures=5))
    flat_bar(hl, 0, 2000)
    # 2000.01 is on the 0.01 tick but has 6 significant figures (Hyperliquid allows 5).
    assert hl.submit_order(order(price="2000.01")).reason == "Order has invalid price."
    assert hl.submit_order(order(price="2000.1")).status is OrderStatus.ACCEPTED


def test_sizes_off_the_lot_are_rejected() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    report = sim.submit_order(order(size="0.0125", price="1999"))
    assert report.status is OrderStatus.REJECTED
    assert report.reason == "Order has invalid size."


def test_price_far_from_the_market_is_rejected() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    report = sim.submit_order(order(price="300"))
    assert report.reason == "Order price cannot be more than 80% away from the reference price"


def test_insufficient_margin_at_the_current_leverage() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    # Default 20x on $10,000: 101 ETH × 1990 / 20 = 10,049.50 > 10,000.
    big = sim.submit_order(order("buy", "101", price="1990"))
    assert big.reason == "Insufficient margin to place order."
    # 100 ETH needs 9,950; a second order for 3 more needs 298.50 on top: 10,248.50 > 10,000.
    assert sim.submit_order(order("buy", "100", price="1990")).status is OrderStatus.ACCEPTED
    assert sim.submit_order(order("buy", "3", price="1990")).reason == (
        "Insufficient margin to place order."
    )
    run(sim.set_leverage(SYMBOL, D(50), sim.options.default_margin_mode))
    assert sim.submit_order(order("buy", "3", price="1990")).status is OrderStatus.ACCEPTED


# ---- stops and take-profits ---------------------------------------------------------------------


def _long_with_brackets(path: str) -> object:
    sim = make_sim(bps=0, intrabar_path=path)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    flat_bar(sim, 1, 2000)
    stop = order("sell", type=OrderType.STOP, trigger="1990", reduce_only=True, cid="sl")
    take = order("sell", type=OrderType.TAKE_PROFIT, trigger="2010", reduce_only=True, cid="tp")
    assert sim.submit_order(stop).status is OrderStatus.ACCEPTED
    assert sim.submit_order(take).status is OrderStatus.ACCEPTED
    return sim


@pytest.mark.parametrize(
    ("path", "high", "low", "winner", "price"),
    [
        ("ohlc", 2012, 1988, "tp", "2010"),
        ("olhc", 2012, 1988, "sl", "1990"),
        ("nearest", 2012, 1988, "tp", "2010"),  # equally far: the high goes first
        ("nearest", 2011, 1985, "tp", "2010"),  # the high is nearer the open
        ("nearest", 2015, 1988, "sl", "1990"),  # the low is nearer the open
    ],
)
def test_stop_versus_take_profit_follows_the_intrabar_path(
    path: str, high: float, low: float, winner: str, price: str
) -> None:
    sim = _long_with_brackets(path)
    events = bar(sim, 2, 2000, high, low, 2000)  # type: ignore[arg-type]
    loser = "sl" if winner == "tp" else "tp"
    filled = [r for r in reports(events, winner) if r.fills]
    assert [f.price for r in filled for f in r.fills] == [D(price)]
    assert reports(events, winner)[0].status is OrderStatus.TRIGGERED
    (cancelled,) = reports(events, loser)
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.reason == "reduceOnlyCanceled"
    assert run(sim.account()).position(SYMBOL) is None  # type: ignore[attr-defined]


def test_a_stop_gapped_through_fills_at_the_open_not_the_trigger() -> None:
    sim = _long_with_brackets("nearest")
    events = bar(sim, 2, 1980, 1985, 1975, 1982)  # type: ignore[arg-type]
    fill = next(f for r in reports(events, "sl") for f in r.fills)
    assert fill.price == D("1980")
    assert fill.closed_pnl == D("-20")


def test_a_take_profit_gapped_through_fills_at_the_better_open() -> None:
    sim = _long_with_brackets("nearest")
    events = bar(sim, 2, 2020, 2025, 2015, 2022)  # type: ignore[arg-type]
    fill = next(f for r in reports(events, "tp") for f in r.fills)
    assert fill.price == D("2020")


def test_stop_limit_becomes_a_limit_when_triggered() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    flat_bar(sim, 1, 2000)
    sim.submit_order(
        order("sell", type=OrderType.STOP, trigger="1990", price="1995", reduce_only=True, cid="s")
    )
    # Triggered at 1990 on the way down; a sell limit at 1995 does not cross 1990, so it rests
    # and fills as maker when the bar comes back up to 1995.
    events = bar(sim, 2, 2000, 2001, 1985, 1996)
    fills = [f for r in reports(events, "s") for f in r.fills]
    assert [(f.price, f.liquidity) for f in fills] == [(D("1995"), Liquidity.MAKER)]


def test_buy_stop_enters_on_a_breakout_with_slippage() -> None:
    sim = make_sim(bps=2)
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", type=OrderType.STOP, trigger="2010", cid="b"))
    flat_bar(sim, 1, 2005)
    events = bar(sim, 2, 2005, 2020, 2004, 2015)
    fill = next(f for r in reports(events, "b") for f in r.fills)
    # 2010 × 1.0002 = 2010.402 → up to the 0.1 grid: 2010.5.
    assert fill.price == D("2010.5")


def test_fill_or_kill_is_all_or_nothing() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", "5", price="2100", tif=TimeInForce.FOK, cid="big"))
    sim.submit_order(order("buy", "2", price="2100", tif=TimeInForce.FOK, cid="ok"))
    events = bar(sim, 1, 2000, 2001, 1999, 2000, v=20)
    assert reports(events, "big")[0].status is OrderStatus.REJECTED
    assert reports(events, "ok")[0].status is OrderStatus.FILLED


# ---- latency ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("latency", "fill_bar"), [(0, 1), (30_000, 1), (90_000, 2), (150_000, 3)])
def test_latency_decides_which_bar_an_order_meets(latency: int, fill_bar: int) -> None:
    sim = make_sim(bps=0, latency_ms=latency)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market(cid="m"))  # submitted at bar 0's close, T0 + 1m
    for index in range(1, 5):
        events = flat_bar(sim, index, 2000 + index)
        if reports(events, "m"):
            assert index == fill_bar
            assert reports(events, "m")[0].fills[0].price == D(2000 + index)
            return
    pytest.fail("the order never filled")


def test_random_latency_is_reproducible_with_a_seed() -> None:
    a, b = RandomLatency(100, 50, seed=7), RandomLatency(100, 50, seed=7)
    probe = order()
    delays = [a.delay_ms(probe) for _ in range(20)]
    assert delays == [b.delay_ms(probe) for _ in range(20)]
    assert all(100 <= d <= 150 for d in delays)
    assert len(set(delays)) > 1


# ---- bookkeeping --------------------------------------------------------------------------------


def test_resubmitting_a_client_order_id_does_not_double_the_order() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    first = sim.submit_order(market(cid="dup"))
    again = sim.submit_order(market(cid="dup"))
    assert again.venue_order_id == first.venue_order_id
    flat_bar(sim, 1, 2000)
    position = run(sim.account()).position(SYMBOL)
    assert position is not None
    assert position.size == D("1")


def test_cancel_order_status_and_open_orders() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    resting = order("buy", price="1900", cid="r")
    sim.submit_order(resting)
    assert [o.client_order_id for o in run(sim.open_orders())] == ["r"]
    status = run(sim.order_status("r", SYMBOL))
    assert status is not None
    assert status.status is OrderStatus.ACCEPTED
    cancelled = run(sim.cancel(resting))
    assert cancelled.status is OrderStatus.CANCELLED
    assert run(sim.open_orders()) == []
    again = run(sim.cancel(resting))
    assert again.reason == "Order was never placed, already canceled, or filled."
    unknown = run(sim.cancel(order(cid="never")))
    assert unknown.status is OrderStatus.REJECTED
    assert unknown.reason == "Order was never placed, already canceled, or filled."
    assert run(sim.order_status("never", SYMBOL)) is None


def test_fills_since_filters_by_time() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market())
    flat_bar(sim, 1, 2000)
    sim.submit_order(market("sell"))
    flat_bar(sim, 2, 2000)
    everything = run(sim.fills())
    assert len(everything) == 2
    assert run(sim.fills(since=from_millis(T0 + 2 * MIN))) == everything[1:]


def test_bars_out_of_order_are_an_error() -> None:
    sim = make_sim()
    flat_bar(sim, 1, 2000)
    with pytest.raises(DataError, match="time order"):
        flat_bar(sim, 1, 2000)


def test_unknown_market_and_no_data_are_clear_errors() -> None:
    sim = make_sim()
    with pytest.raises(ExchangeError, match="no market data"):
        sim.submit_order(market())
    with pytest.raises(ExchangeError, match="add_market"):
        sim.on_bar("BTC-USD", T0, 1, 1, 1, 1, 1)


def test_event_handlers_receive_what_on_bar_returns() -> None:
    sim = make_sim(bps=0)
    seen: list[object] = []
    sim.on_event(seen.append)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market())
    events = flat_bar(sim, 1, 2000)
    assert events
    assert seen == events


def test_async_event_handlers_are_awaited() -> None:
    sim = make_sim(bps=0)
    seen: list[str] = []

    async def handler(event: object) -> None:
        seen.append(getattr(event, "kind", ""))

    sim.on_event(handler)

    async def scenario() -> None:
        flat_bar(sim, 0, 2000)
        await sim.submit(market())
        flat_bar(sim, 1, 2000)
        await sim.close()

    run(scenario())
    assert seen == ["order"]


def test_side_effects_of_an_immediate_fill_come_with_the_next_bar() -> None:
    sim = make_sim(bps=0, fill_at="close")
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    take = order("sell", type=OrderType.TAKE_PROFIT, trigger="2100", reduce_only=True, cid="tp")
    sim.submit_order(take)
    closing = sim.submit_order(market("sell", "1"))
    assert closing.status is OrderStatus.FILLED
    events = flat_bar(sim, 1, 2000)  # the take-profit's cancel, caused by the close above
    (report,) = reports(events, "tp")
    assert (report.status, report.reason) == (OrderStatus.CANCELLED, "reduceOnlyCanceled")
    assert flat_bar(sim, 2, 2000) == []


def test_side_sell_market_without_position_opens_a_short() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market(Side.SELL, "2"))
    flat_bar(sim, 1, 2000)
    position = run(sim.account()).position(SYMBOL)
    assert position is not None
    assert position.size == D("-2")


def test_market_order_with_a_worst_price_is_still_immediate_or_cancel() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    protected = order("buy", "1", type=OrderType.MARKET, price="1990", cid="mp")
    assert sim.submit_order(protected).status is OrderStatus.ACCEPTED
    (report,) = reports(flat_bar(sim, 1, 2000), "mp")
    # The open (2000) is worse than the protection price: like Hyperliquid's market orders
    # (IOC limits at a slippage price) it does not match, and nothing rests.
    assert report.status is OrderStatus.REJECTED
    assert report.reason == IOC_MISS
    assert run(sim.open_orders()) == []
