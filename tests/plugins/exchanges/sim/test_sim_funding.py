"""Funding payments: constant rate, bar argument, explicit events, and a real Hyperliquid day."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from simkit import SYMBOL, T0, bar, flat_bar, make_sim, market
from sparkstacker.exchange import VenueEvent
from sparkstacker.model import Instrument
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
from sparkstacker_plugins.exchanges.sim.ledger import money
from sparkstacker_plugins.exchanges.sim.options import SimOptions

D = Decimal
HOUR = 3_600_000


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def funding_events(events: list[VenueEvent]) -> list[VenueEvent]:
    return [e for e in events if e.kind == "funding"]


def test_constant_rate_is_paid_by_longs_at_each_hour() -> None:
    sim = make_sim(bps=0, funding_rate=D("0.0001"))
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))  # fills at T0 + 1m
    paid: list[VenueEvent] = []
    for index in range(1, 125):
        paid += funding_events(flat_bar(sim, index, 2000 + index))
    # Boundaries T0 + 1h and T0 + 2h, each marked at the open of the bar starting there.
    assert [e.timestamp.timestamp() * 1000 for e in paid] == [T0 + HOUR, T0 + 2 * HOUR]
    assert [e.data["payment"] for e in paid] == [D("2060") * D("0.0001"), D("2120") * D("0.0001")]
    position = run(sim.account()).position(SYMBOL)
    assert position is not None
    assert position.funding_paid == D("0.418")
    entry_fee = D("2001") * D("0.00045")  # the market buy filled at bar 1's open, 2001
    assert sim.totals()["collateral"] == D(10000) - entry_fee - D("0.418")


def test_shorts_receive_positive_funding() -> None:
    sim = make_sim(bps=0, funding_rate=D("0.0001"))
    flat_bar(sim, 58, 2000)
    sim.submit_order(market("sell", "2"))  # fills at T0 + 59m
    flat_bar(sim, 59, 2000)
    (event,) = funding_events(flat_bar(sim, 60, 2000))
    assert event.data["payment"] == D("-0.4")  # −2 × 2000 × 0.0001: received
    assert run(sim.account()).position(SYMBOL).funding_paid == D("-0.4")  # type: ignore[union-attr]


def test_a_position_opened_at_the_boundary_pays_from_the_next_one() -> None:
    sim = make_sim(bps=0, funding_rate=D("0.0001"))
    flat_bar(sim, 58, 2000)
    sim.submit_order(market("buy", "1"))
    assert funding_events(flat_bar(sim, 59, 2000)) == []  # filled at T0 + 59m
    assert len(funding_events(flat_bar(sim, 60, 2000))) == 1  # held across T0 + 60m
    sim.submit_order(market("sell", "1"))
    flat_bar(sim, 61, 2000)
    assert all(not funding_events(flat_bar(sim, i, 2000)) for i in range(62, 130))


def test_boundaries_inside_a_long_bar_use_an_interpolated_mark() -> None:
    sim = make_sim(bps=0, funding_rate=D("0.0001"), timeframe="4h")
    four_h = 4 * HOUR
    sim.on_bar(SYMBOL, T0, 2000, 2000, 2000, 2000, 1000)
    sim.submit_order(market("buy", "1"))  # fills at T0 + 4h, the open of the next bar
    events = sim.on_bar(SYMBOL, T0 + four_h, 2000, 2400, 2000, 2400, 1000)
    # T0+4h is the fill instant (not held across); T0+5h, 6h, 7h: marks 2100, 2200, 2300.
    assert [e.data["mark"] for e in funding_events(events)] == [D(2100), D(2200), D(2300)]
    assert sum(e.data["payment"] for e in funding_events(events)) == D("0.66")


def test_explicit_funding_events_are_not_paid_twice() -> None:
    sim = make_sim(bps=0, funding_rate=D("0.0005"))
    flat_bar(sim, 0, 2000)
    sim.submit_order(market("buy", "1"))
    for index in range(1, 60):
        flat_bar(sim, index, 2000)
    # The series says 0.0001 for T0 + 1h (stamped 48 ms late, like Hyperliquid's feed).
    (event,) = funding_events(sim.on_funding(SYMBOL, T0 + HOUR + 48, D("0.0001")))
    assert event.data["payment"] == D("0.2")
    assert funding_events(flat_bar(sim, 60, 2000)) == []  # the constant does not pay again
    assert sim.on_funding(SYMBOL, T0 + HOUR + 99, D("0.0001")) == []


# ---- a real day: Binance ETH 1m candles, Hyperliquid's hourly ETH funding ------------------------

ETH_1M = "Alpergulsen__freqtrade/user_data/data/binance/futures/ETH_USDT_USDT-1m-futures.feather"
HL_FUNDING = (
    "hippocritical__freqtrade_hyperliquid_download-data/user_data/data/hyperliquid/futures/"
    "ETH_USDC_USDC-1h-funding_rate.feather"
)


def _real_eth() -> Instrument:
    return Instrument(
        symbol=SYMBOL,
        venue="sim",
        base="ETH",
        quote="USD",
        tick_size=D("0.01"),
        lot_size=D("0.001"),
        min_notional=D(10),
        max_leverage=D(50),
        funding_interval=timedelta(hours=1),
    )


def _day(marketdata: Path) -> tuple[object, object]:
    pd = pytest.importorskip("pandas")
    candles = pd.read_feather(marketdata / ETH_1M)
    funding = pd.read_feather(marketdata / HL_FUNDING)
    start, end = pd.Timestamp("2023-07-09 23:50", tz="UTC"), pd.Timestamp("2023-07-11", tz="UTC")
    candles = candles[(candles.date >= start) & (candles.date < end)].reset_index(drop=True)
    day = funding[(funding.date >= pd.Timestamp("2023-07-10", tz="UTC")) & (funding.date < end)]
    return candles, day.reset_index(drop=True)


def _ms(timestamp: object) -> int:
    return int(timestamp.value // 1_000_000)  # type: ignore[attr-defined]


@pytest.mark.shared
@pytest.mark.parametrize("delivery", ["on_funding", "bar_argument"])
def test_a_day_of_real_hyperliquid_funding(marketdata: Path, delivery: str) -> None:
    candles, day = _day(marketdata)
    assert len(day) == 24  # hourly since 2023-06-08
    sim = SimExchange("sim", SimOptions(slippage_params={"bps": 0}))
    sim.add_market(_real_eth())
    rates = [(_ms(row.date), float(row.open)) for row in day.itertuples()]
    expected = D(0)
    pending = list(rates)
    bar_rates = {ts - ts % HOUR: rate for ts, rate in rates}
    events: list[VenueEvent] = []
    last_close = None
    for i, row in enumerate(candles.itertuples()):
        ts = _ms(row.date)
        if delivery == "on_funding":
            while pending and pending[0][0] <= ts:
                funding_ts, rate = pending.pop(0)
                events += sim.on_funding(SYMBOL, funding_ts, D(repr(rate)))
                # Independent: 2 ETH × the last close before the print × the rate.
                expected += money(2 * D(repr(last_close)) * D(repr(rate)))
            rate_arg = None
        else:
            rate_arg = bar_rates.get(ts)
            if rate_arg is not None:
                expected += money(2 * D(repr(float(row.open))) * D(repr(rate_arg)))
        events += sim.on_bar(
            SYMBOL, ts, row.open, row.high, row.low, row.close, row.volume, rate_arg
        )
        last_close = float(row.close)
        if i == 0:
            sim.submit_order(market("buy", "2"))
    paid = [e for e in events if e.kind == "funding"]
    assert len(paid) == 24
    total = sum((e.data["payment"] for e in paid), D(0))
    assert total == expected
    assert total > 0  # funding was positive all day: the long paid
    position = run(sim.account()).position(SYMBOL)
    assert position is not None
    assert position.funding_paid == expected
    fee = next(iter(run(sim.fills()))).fee
    assert sim.totals()["collateral"] == D(10000) - fee - expected


def test_no_rate_source_means_no_payments() -> None:
    sim = make_sim(bps=0)
    flat_bar(sim, 0, 2000)
    sim.submit_order(market())
    events = [bar(sim, i, 2000, 2001, 1999, 2000) for i in range(1, 200)]
    # No rate source at all: hours pass without payments.
    assert not any(funding_events(e) for e in events)
    assert sim.totals()["funding"] == 0
