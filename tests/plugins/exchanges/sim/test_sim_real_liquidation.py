"""A 50x isolated long on real Binance ETH 1m candles, caught by the sharpest drop in the file."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sparkstacker.model import Instrument, MarginMode, Order, OrderType, Side
from sparkstacker.registry import Registry
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
from sparkstacker_plugins.exchanges.sim.options import SimOptions

D = Decimal
ETH_1M = "Alpergulsen__freqtrade/user_data/data/binance/futures/ETH_USDT_USDT-1m-futures.feather"
TAKER = D("0.00045")
TICK = D("0.01")


def _ms(timestamp: object) -> int:
    return int(timestamp.value // 1_000_000)  # type: ignore[attr-defined]


@pytest.mark.shared
def test_real_drop_liquidates_a_50x_long(marketdata: Path) -> None:
    pd = pytest.importorskip("pandas")
    candles = pd.read_feather(marketdata / ETH_1M)
    # The sharpest one-minute fall in the file (open → low), found, not hard-coded.
    drop = int(((candles.low - candles.open) / candles.open).idxmin())
    assert (candles.open[drop] - candles.low[drop]) / candles.open[drop] > 0.02
    window = candles.iloc[drop - 30 : drop + 10].reset_index(drop=True)
    drop -= drop - 30  # index of the drop inside the window
    entry_bar = drop - 2

    instrument = Instrument(
        symbol="ETH-USD",
        venue="sim",
        base="ETH",
        quote="USD",
        tick_size=TICK,
        lot_size=D("0.001"),
        min_notional=D(10),
        max_leverage=D(50),
        funding_interval=timedelta(hours=1),
    )
    # The default slippage (fixed_bps, 1 bp) looked up by name from the installed plugins.
    sim = SimExchange("sim", SimOptions(initial_equity=D(1000)), registry=Registry.load())
    sim.add_market(instrument)
    asyncio.run(sim.set_leverage("ETH-USD", D(50), MarginMode.ISOLATED))

    events = []
    for i, row in enumerate(window.itertuples()):
        events += sim.on_bar(
            "ETH-USD", _ms(row.date), row.open, row.high, row.low, row.close, row.volume
        )
        if i == entry_bar - 1:
            order = Order(
                client_order_id="long",
                venue="sim",
                symbol="ETH-USD",
                side=Side.BUY,
                type=OrderType.MARKET,
                size=D(5),
            )
            sim.submit_order(order)

    # Hand calculation, independent of the simulator's code paths.
    open_price = D(repr(float(window.open[entry_bar])))
    entry = (open_price * D("1.0001")).quantize(TICK, rounding="ROUND_CEILING")
    margin = 5 * entry / 50
    liq = (5 * entry - margin) / (5 * (1 - D("0.01")))  # isolated, mmr 1 % at 50x
    hit = next(j for j in range(entry_bar, len(window)) if D(repr(float(window.low[j]))) < liq)
    assert hit == drop  # survived the bars before, caught by the drop
    gap_open = D(repr(float(window.open[hit])))
    fill_price = gap_open if gap_open < liq else liq.quantize(TICK, rounding="ROUND_FLOOR")

    (liquidation,) = [e for e in events if e.kind == "liquidation"]
    fill = liquidation.data["fill"]
    assert fill.is_liquidation
    assert fill.size == D(5)
    assert fill.price == fill_price
    assert liquidation.timestamp >= window.date[hit].to_pydatetime()
    entry_fee = 5 * entry * TAKER
    exit_fee = 5 * fill_price * TAKER
    expected_equity = D(1000) - entry_fee + 5 * (fill_price - entry) - exit_fee
    account = asyncio.run(sim.account())
    assert account.positions == ()
    assert account.equity == expected_equity
    assert account.collateral == expected_equity
