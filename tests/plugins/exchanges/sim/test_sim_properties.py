"""Random order and bar sequences keep the simulator's books consistent (hypothesis).

Invariants checked after every step:
* no order is overfilled: a report's filled size never exceeds the order's size, and the fills
  of an order add up to its reported filled size;
* the position equals the sum of signed fills (liquidation fills included);
* money is conserved exactly: collateral − initial = Σ realised PnL − Σ fees − Σ funding, and
  each total equals the sum over the individual fills and funding events;
* collateral goes negative only through a liquidation (a gap through the liquidation price).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simkit import SYMBOL, T0, make_sim
from sparkstacker.exchange import OrderReport, VenueEvent
from sparkstacker.model import MarginMode, Order, OrderType, Side, TimeInForce

D = Decimal
QUARTER = 15 * 60_000

bar_step = st.tuples(
    st.just("bar"),
    st.floats(-0.004, 0.004),  # gap from the previous close
    st.floats(-0.05, 0.05),  # open → close move
    st.floats(0, 0.03),  # extra range beyond open/close
    st.floats(0, 40),  # volume
)
order_step = st.tuples(
    st.just("order"),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from(["market", "gtc", "ioc", "alo", "fok", "stop", "tp", "stop_limit"]),
    st.integers(1, 4000),  # size in 0.001 lots
    st.floats(-0.03, 0.03),  # price offset from the last price
    st.sampled_from([False, False, True]),  # reduce only
)
cancel_step = st.tuples(st.just("cancel"), st.integers(0, 50))


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    return {
        "mode": draw(st.sampled_from([MarginMode.CROSS, MarginMode.ISOLATED])),
        "leverage": draw(st.integers(1, 50)),
        "equity": draw(st.sampled_from(["150", "1000", "20000"])),
        "fill_at": draw(st.sampled_from(["next_open", "close"])),
        "path": draw(st.sampled_from(["ohlc", "olhc", "nearest"])),
        "latency": draw(st.sampled_from([0, 0, 20 * 60_000])),
        "steps": draw(
            st.lists(
                st.one_of(bar_step, bar_step, order_step, cancel_step), min_size=4, max_size=60
            )
        ),
    }


def _tick(value: float) -> Decimal:
    return D(str(round(max(value, 1.0), 1)))


def _build(index: int, side: Side, kind: str, lots: int, offset: float, reduce_only: bool,
           last: float) -> Order:  # fmt: skip
    size = D(lots) / 1000
    price = _tick(last * (1 + offset))
    fields: dict[str, Any] = {
        "client_order_id": f"p{index}",
        "venue": "sim",
        "symbol": SYMBOL,
        "side": side,
        "size": size,
        "reduce_only": reduce_only,
    }
    if kind == "market":
        fields["type"] = OrderType.MARKET
    elif kind in ("gtc", "ioc", "alo", "fok"):
        fields.update(type=OrderType.LIMIT, price=price, tif=TimeInForce(kind))
    else:
        # Stops trigger against the move; take-profits with it.
        stop = kind in ("stop", "stop_limit")
        away = (1 if side is Side.BUY else -1) * (1 if stop else -1) * abs(offset)
        fields.update(
            type=OrderType.STOP if stop else OrderType.TAKE_PROFIT,
            trigger_price=_tick(last * (1 + away)),
        )
        if kind == "stop_limit":
            fields["price"] = price
    return Order(**fields)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_random_sequences_keep_the_books_consistent(scenario: dict[str, Any]) -> None:
    sim = make_sim(
        bps=3,
        timeframe="15m",
        initial_equity=D(scenario["equity"]),
        funding_rate=D("0.0001"),
        fill_at=scenario["fill_at"],
        intrabar_path=scenario["path"],
        latency_ms=scenario["latency"],
    )
    asyncio.run(sim.set_leverage(SYMBOL, D(scenario["leverage"]), scenario["mode"]))
    sizes: dict[str, Decimal] = {}
    reported: dict[str, Decimal] = defaultdict(D)
    events: list[VenueEvent] = []
    orders: list[Order] = []
    last = 2000.0
    ts = T0
    events += sim.on_bar(SYMBOL, ts, last, last, last, last, 10.0)

    def note(report: OrderReport) -> None:
        cid = report.client_order_id
        assert report.filled_size <= sizes.get(cid, report.filled_size)
        assert report.filled_size >= reported[cid]  # cumulative, never shrinking
        reported[cid] = report.filled_size

    for index, step in enumerate(scenario["steps"]):
        if step[0] == "bar":
            _, gap, move, extra, volume = step
            o = round(last * (1 + gap), 2)
            c = round(o * (1 + move), 2)
            h = round(max(o, c) * (1 + extra), 2)
            lo = round(min(o, c) * (1 - extra), 2)
            ts += QUARTER
            new = sim.on_bar(SYMBOL, ts, o, h, lo, c, volume)
            events += new
            for event in new:
                if event.report is not None:
                    note(event.report)
            last = c
        elif step[0] == "order":
            order = _build(index, *step[1:], last=last)
            sizes[order.client_order_id] = order.size
            orders.append(order)
            note(sim.submit_order(order))
        elif orders:
            target = orders[step[1] % len(orders)]
            note(asyncio.run(sim.cancel(target)))
        _check(sim, events, reported)


def _check(sim: Any, events: list[VenueEvent], reported: dict[str, Decimal]) -> None:
    fills = asyncio.run(sim.fills())
    by_order: dict[str, Decimal] = defaultdict(D)
    for fill in fills:
        if fill.client_order_id is not None:
            by_order[fill.client_order_id] += fill.size
    for cid, filled in by_order.items():
        assert filled == reported[cid], cid
    account = asyncio.run(sim.account())
    position = account.position(SYMBOL)
    net = sum((f.signed_size for f in fills), D(0))
    assert (position.size if position else D(0)) == net
    totals = sim.totals()
    funding = sum((e.data["payment"] for e in events if e.kind == "funding"), D(0))
    assert totals["realized_pnl"] == sum((f.closed_pnl or D(0) for f in fills), D(0))
    assert totals["fees"] == sum((f.fee for f in fills), D(0))
    assert totals["funding"] == funding
    assert totals["collateral"] - totals["initial"] == (
        totals["realized_pnl"] - totals["fees"] - totals["funding"]
    )
    if totals["collateral"] < 0:
        assert any(f.is_liquidation for f in fills)
