"""Helpers for the simulated-venue tests (imported as ``simkit`` through conftest.py): an ETH
instrument, order and bar builders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sparkstacker.exchange import VenueEvent
from sparkstacker.model import Instrument, Order, OrderType, Side, TimeInForce
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
from sparkstacker_plugins.exchanges.sim.options import SimOptions
from sparkstacker_plugins.slippage.models import FixedBps

D = Decimal
MIN = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000  # an hour boundary
SYMBOL = "ETH-USD"


def eth(**overrides: Any) -> Instrument:
    """ETH with a 0.1 tick, 0.001 lot, $10 minimum and 50x maximum (mmr 1 %)."""
    fields: dict[str, Any] = {
        "symbol": SYMBOL,
        "venue": "sim",
        "base": "ETH",
        "quote": "USD",
        "tick_size": D("0.1"),
        "lot_size": D("0.001"),
        "min_notional": D("10"),
        "max_leverage": D("50"),
    }
    fields.update(overrides)
    return Instrument(**fields)


def make_sim(
    *,
    bps: float = 1.0,
    instrument: Instrument | None = None,
    timeframe: str | None = "1m",
    **options: Any,
) -> SimExchange:
    sim = SimExchange("sim", SimOptions(**options), slippage_model=FixedBps(bps))
    sim.add_market(instrument or eth(), timeframe=timeframe)
    return sim


_counter = {"n": 0}


def order(
    side: Side | str = Side.BUY,
    size: str = "1",
    *,
    type: OrderType = OrderType.LIMIT,
    price: str | None = None,
    trigger: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    reduce_only: bool = False,
    cid: str | None = None,
) -> Order:
    _counter["n"] += 1
    if type is OrderType.LIMIT and price is None:
        price = "2000"
    return Order(
        client_order_id=cid or f"o{_counter['n']}",
        venue="sim",
        symbol=SYMBOL,
        side=Side(side),
        type=type,
        size=D(size),
        price=D(price) if price is not None else None,
        trigger_price=D(trigger) if trigger is not None else None,
        tif=tif,
        reduce_only=reduce_only,
    )


def market(side: Side | str = Side.BUY, size: str = "1", **kw: Any) -> Order:
    return order(side, size, type=OrderType.MARKET, **kw)


def bar(
    sim: SimExchange,
    index: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float = 1_000.0,
    funding_rate: float | None = None,
) -> list[VenueEvent]:
    return list(sim.on_bar(SYMBOL, T0 + index * MIN, o, h, lo, c, v, funding_rate))


def flat_bar(sim: SimExchange, index: int, price: float, v: float = 1_000.0) -> list[VenueEvent]:
    return bar(sim, index, price, price, price, price, v)


def reports(events: list[VenueEvent], cid: str) -> list[Any]:
    return [e.report for e in events if e.report is not None and e.report.client_order_id == cid]


def kinds(events: list[VenueEvent]) -> list[str]:
    return [e.kind for e in events]
