"""Leverage, margin modes, liquidation and the exactness of the money arithmetic.

Liquidation prices are worked out from the margin identity by hand:
equity = C + s·(p − e) falls to maintenance = mmr·|s|·p at p = (s·e − C) / (s·(1 − mmr)) for a
long, where C is the isolated margin or the cross collateral. ETH's mmr is 1 % (50x max).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from simkit import MIN, SYMBOL, T0, bar, eth, flat_bar, make_sim, market, order, reports
from sparkstacker.errors import ExchangeError
from sparkstacker.model import Liquidity, MarginMode, OrderStatus, OrderType

D = Decimal
CROSS, ISOLATED = MarginMode.CROSS, MarginMode.ISOLATED
TAKER, MAKER = D("0.00045"), D("0.00015")


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def liq_long(size: Decimal, entry: Decimal, collateral: Decimal, mmr: Decimal) -> Decimal:
    return (size * entry - collateral) / (size * (1 - mmr))


# ---- leverage settings --------------------------------------------------------------------------


def test_leverage_is_the_venue_default_until_set() -> None:
    sim = make_sim(bps=0)
    setting = run(sim.leverage(SYMBOL))
    assert (setting.leverage, setting.margin_mode) == (D(20), CROSS)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    flat_bar(sim, 1, 2000)
    position = run(sim.account()).position(SYMBOL)
    assert position is not None
    # A strategy that forgot set_leverage trades at 20x cross, and the account says so.
    assert (position.leverage, position.margin_mode) == (D(20), CROSS)
    assert position.margin_used == D("2000") / 20


def test_default_leverage_is_capped_by_the_asset_maximum() -> None:
    sim = make_sim(instrument=eth(max_leverage=D(10)))
    assert run(sim.leverage(SYMBOL)).leverage == D(10)


def test_set_leverage_reads_back_and_applies_to_new_positions() -> None:
    sim = make_sim(bps=0)
    setting = run(sim.set_leverage(SYMBOL, D(5), ISOLATED))
    assert (setting.leverage, setting.margin_mode) == (D(5), ISOLATED)
    assert run(sim.leverage(SYMBOL)) == setting
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    flat_bar(sim, 1, 2000)
    position = run(sim.account()).position(SYMBOL)
    assert position is not None
    assert (position.leverage, position.margin_mode) == (D(5), ISOLATED)
    assert position.margin_used == D("400")  # 2000 / 5 moved into the isolated margin


def test_leverage_errors_use_the_venue_strings() -> None:
    sim = make_sim(bps=0)
    with pytest.raises(ExchangeError, match="Invalid leverage value"):
        run(sim.set_leverage(SYMBOL, D(51), CROSS))
    with pytest.raises(ExchangeError, match="Invalid leverage value"):
        run(sim.set_leverage(SYMBOL, D("2.5"), CROSS))
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    flat_bar(sim, 1, 2000)
    with pytest.raises(ExchangeError, match=r"Cannot switch leverage type with open position\."):
        run(sim.set_leverage(SYMBOL, D(20), ISOLATED))
    only_isolated = make_sim(instrument=eth(only_isolated=True))
    assert run(only_isolated.leverage(SYMBOL)).margin_mode is ISOLATED
    with pytest.raises(ExchangeError, match=r"Cross margin is not allowed for this asset\."):
        run(only_isolated.set_leverage(SYMBOL, D(3), CROSS))


def test_decreasing_isolated_leverage_needs_margin() -> None:
    sim = make_sim(bps=0)
    run(sim.set_leverage(SYMBOL, D(20), ISOLATED))
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    flat_bar(sim, 1, 2000)
    # 100 of isolated margin; 2x would need 1000.
    with pytest.raises(ExchangeError, match="Isolated position does not have sufficient margin"):
        run(sim.set_leverage(SYMBOL, D(2), ISOLATED))
    assert run(sim.set_leverage(SYMBOL, D(30), ISOLATED)).leverage == D(30)


# ---- liquidation --------------------------------------------------------------------------------


def _long_ten_eth(equity: str, mode: MarginMode) -> object:
    sim = make_sim(bps=0, initial_equity=D(equity))
    run(sim.set_leverage(SYMBOL, D(20), mode))
    flat_bar(sim, 0, 2000)
    assert sim.submit_order(market("buy", "10")).status is OrderStatus.ACCEPTED
    flat_bar(sim, 1, 2000)
    return sim


def test_twenty_x_cross_long_is_liquidated_at_its_liquidation_price() -> None:
    sim = _long_ten_eth("1000", CROSS)
    fee_in = D("20000") * TAKER  # 9
    cash = D("1000") - fee_in
    expected_liq = liq_long(D(10), D(2000), cash, D("0.01"))  # 19009 / 9.9 = 1920.1010…
    position = run(sim.account()).position(SYMBOL)  # type: ignore[attr-defined]
    assert position.liquidation_price == expected_liq.quantize(D("1e-8"))
    sim.submit_order(  # type: ignore[attr-defined]
        order("sell", type=OrderType.TAKE_PROFIT, trigger="2100", reduce_only=True, cid="tp")
    )
    events = bar(sim, 2, 1995, 1996, 1900, 1910)  # type: ignore[arg-type]
    (liquidation,) = [e for e in events if e.kind == "liquidation"]
    fill = liquidation.data["fill"]
    assert fill.is_liquidation
    assert fill.liquidity is Liquidity.TAKER
    assert fill.price == D("1920.1")  # the liquidation price, down to the 0.1 grid
    fee_out = D("1920.1") * 10 * TAKER
    assert fill.fee == fee_out
    account = run(sim.account())  # type: ignore[attr-defined]
    assert account.positions == ()
    assert account.collateral == cash + 10 * (D("1920.1") - D("2000")) - fee_out
    assert account.equity == D("183.35955")
    (tp,) = reports(events, "tp")
    assert (tp.status, tp.reason) == (OrderStatus.CANCELLED, "liquidatedCanceled")


def test_a_gap_through_the_liquidation_price_liquidates_at_the_open() -> None:
    sim = _long_ten_eth("1000", CROSS)
    events = bar(sim, 2, 1900, 1905, 1890, 1901)  # type: ignore[arg-type]
    (liquidation,) = [e for e in events if e.kind == "liquidation"]
    assert liquidation.data["fill"].price == D("1900")
    # 991 − 1,000 loss − 8.55 fee: the account is bankrupt and the sim says so.
    assert liquidation.data["collateral_after"] == D("-17.55")
    assert liquidation.data["bankrupt"] is True


def test_isolated_liquidates_where_cross_survives() -> None:
    crash = (1995.0, 1996.0, 1900.0, 1910.0)
    cross = _long_ten_eth("10000", CROSS)
    cross_liq = liq_long(D(10), D(2000), D(10000) - D(9), D("0.01"))  # ≈ 1011.01
    assert run(cross.account()).position(SYMBOL).liquidation_price == cross_liq.quantize(  # type: ignore[attr-defined]
        D("1e-8")
    )
    assert [e.kind for e in bar(cross, 2, *crash)] == []  # type: ignore[arg-type]
    isolated = _long_ten_eth("10000", ISOLATED)
    iso_liq = liq_long(D(10), D(2000), D(1000), D("0.01"))  # 19000 / 9.9 = 1919.19…
    assert run(isolated.account()).position(SYMBOL).liquidation_price == iso_liq.quantize(  # type: ignore[attr-defined]
        D("1e-8")
    )
    events = bar(isolated, 2, *crash)  # type: ignore[arg-type]
    (liquidation,) = [e for e in events if e.kind == "liquidation"]
    assert liquidation.data["fill"].price == D("1919.1")
    # Lost the isolated margin's share only: 10000 − 9 − 809 − 8.63595.
    assert run(isolated.account()).collateral == D("9173.36405")  # type: ignore[attr-defined]


def test_a_short_is_liquidated_on_a_spike() -> None:
    sim = make_sim(bps=0, initial_equity=D(1000))
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("sell", "10"))
    flat_bar(sim, 1, 2000)
    cash = D(1000) - D(9)
    # Short: C + s·(p − e) = mmr·|s|·p with s = −10 → p = (s·e − C) / (s·(1 + mmr)).
    expected = (D(-10) * 2000 - cash) / (D(-10) * D("1.01"))  # 20991 / 10.1 = 2078.31…
    events = bar(sim, 2, 2001, 2100, 2000, 2090)
    (liquidation,) = [e for e in events if e.kind == "liquidation"]
    assert liquidation.data["fill"].price == D("2078.4")  # up to the grid, against the short
    assert liquidation.data["liquidation_price"] == expected


def test_stop_above_the_liquidation_price_saves_the_position() -> None:
    sim = _long_ten_eth("1000", CROSS)
    sim.submit_order(  # type: ignore[attr-defined]
        order("sell", "10", type=OrderType.STOP, trigger="1950", reduce_only=True, cid="sl")
    )
    events = bar(sim, 2, 1995, 1996, 1900, 1910)  # type: ignore[arg-type]
    assert "liquidation" not in [e.kind for e in events]
    fill = next(f for r in reports(events, "sl") for f in r.fills)
    assert fill.price == D("1950")


def test_cross_liquidation_counts_every_cross_position() -> None:
    btc = eth(symbol="BTC-USD", base="BTC", tick_size=D("1"))
    sim = make_sim(bps=0, initial_equity=D(1000))
    sim.add_market(btc, timeframe="1m")
    flat_bar(sim, 0, 2000)
    sim.on_bar("BTC-USD", _ts(0), 30000, 30000, 30000, 30000, 100)
    sim.submit_order(market("buy", "5"))
    btc_order = market("buy", "0.3")
    sim.submit_order(btc_order.model_copy(update={"symbol": "BTC-USD"}))
    flat_bar(sim, 1, 2000)
    sim.on_bar("BTC-USD", _ts(1), 30000, 30000, 30000, 30000, 100)
    # Both positions share the cross collateral: 1000 − fees (10000·0.00045 + 9000·0.00045).
    cash = D(1000) - D("4.5") - D("4.05")
    # ETH's liquidation price with BTC at 30000: C = cash − BTC maintenance (0.01 × 9000).
    c_eth = cash - D("0.01") * 9000
    expected = liq_long(D(5), D(2000), c_eth, D("0.01"))
    position = run(sim.account()).position(SYMBOL)
    assert position is not None
    assert position.liquidation_price == expected.quantize(D("1e-8"))
    # BTC falling 1 % moves ETH's liquidation price up by BTC's loss (plus maintenance change).
    sim.on_bar("BTC-USD", _ts(2), 29700, 29700, 29700, 29700, 100)
    c_eth_after = cash + D("0.3") * (29700 - 30000) - D("0.01") * D("0.3") * 29700
    after = run(sim.account()).position(SYMBOL)
    assert after is not None
    assert after.liquidation_price == liq_long(D(5), D(2000), c_eth_after, D("0.01")).quantize(
        D("1e-8")
    )


def _ts(index: int) -> int:
    return T0 + index * MIN


# ---- exact money --------------------------------------------------------------------------------


def test_fees_and_pnl_match_a_decimal_hand_calculation() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000.1)
    sim.submit_order(market("buy", "0.5", cid="a"))  # taker at 2000.1
    sim.submit_order(order("buy", "0.25", price="1999.7", cid="b"))  # maker at 1999.7
    bar(sim, 1, 2000.1, 2000.5, 1999.7, 2000)
    sim.submit_order(market("sell", "0.75", cid="c"))  # taker at 2010.3
    flat_bar(sim, 2, 2010.3)
    fills = {f.client_order_id: f for f in run(sim.fills())}
    assert fills["a"].fee == D("0.5") * D("2000.1") * TAKER == D("0.450022500")
    assert fills["b"].fee == D("0.25") * D("1999.7") * MAKER == D("0.0749887500")
    assert fills["c"].fee == D("0.75") * D("2010.3") * TAKER == D("0.678476250")
    # Cost basis 1000.05 + 499.925 = 1499.975; proceeds 1507.725: exactly 7.75 realised.
    assert fills["c"].closed_pnl == D("7.75")
    totals = sim.totals()
    fees = D("0.450022500") + D("0.0749887500") + D("0.678476250")
    assert totals["fees"] == fees
    assert totals["realized_pnl"] == D("7.75")
    assert totals["collateral"] == D(10000) + D("7.75") - fees
    assert run(sim.account()).equity == totals["collateral"]


def test_maker_rebate_is_a_negative_fee() -> None:
    sim = make_sim(bps=0, maker_fee=D("-0.0002"))
    flat_bar(sim, 0, 2000)
    sim.submit_order(order("buy", "1", price="1990"))
    bar(sim, 1, 2000, 2000, 1989, 1995)
    (fill,) = run(sim.fills())
    assert fill.fee == D("-0.398")
    assert sim.totals()["collateral"] == D("10000.398")
