"""The durable paper venue: its input log rebuilds the simulated account exactly after a restart."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sparkstacker.backtest.instruments import simulated_instrument
from sparkstacker.errors import JournalError
from sparkstacker.model import MarginMode, Order, OrderStatus, OrderType, Side, TimeInForce
from sparkstacker.registry import Registry
from sparkstacker.runtime.paper_venue import PaperVenue, iter_submissions, read_venue_log
from sparkstacker_plugins.exchanges.sim.options import SimOptions

MINUTE = 60_000
T0 = 1_704_067_200_000  # 2024-01-01


@pytest.fixture(scope="module")
def reg() -> Registry:
    return Registry.load(autoload=False)


def open_venue(path: Path, reg: Registry, **options: object) -> PaperVenue:
    venue = PaperVenue.open(path, "sim", SimOptions(**options), registry=reg)  # type: ignore[arg-type]
    venue.add_market(simulated_instrument("sim", "ETH-USD", 2500.0), timeframe="1m")
    return venue


def market(cloid: str, side: Side, size: str, *, reduce_only: bool = False) -> Order:
    return Order(
        client_order_id=cloid,
        venue="sim",
        symbol="ETH-USD",
        side=side,
        type=OrderType.MARKET,
        tif=TimeInForce.IOC,
        size=Decimal(size),
        reduce_only=reduce_only,
    )


def bar(venue: PaperVenue, i: int, price: float) -> list[object]:
    ts = T0 + i * MINUTE
    events = list(venue.on_bar_open("ETH-USD", ts, price, price + 2, price - 2, price + 1, 500.0))
    events += venue.on_bar_close("ETH-USD")
    return events


def test_restart_restores_position_cash_orders_and_fills(tmp_path: Path, reg: Registry) -> None:
    path = tmp_path / "sim.jsonl"
    venue = open_venue(path, reg, initial_equity=Decimal(5000))
    bar(venue, 0, 2500.0)
    asyncio.run(venue.set_leverage("ETH-USD", Decimal(5), MarginMode.CROSS))
    asyncio.run(venue.submit(market("a", Side.BUY, "0.4")))
    bar(venue, 1, 2510.0)  # fills at this bar's open (next_open)
    resting = Order(
        client_order_id="b",
        venue="sim",
        symbol="ETH-USD",
        side=Side.SELL,
        price=Decimal("2600"),
        size=Decimal("0.1"),
    )
    asyncio.run(venue.submit(resting))
    before = venue.account_state()
    fills = asyncio.run(venue.fills())
    venue.log.close()

    again = PaperVenue.open(path, "sim", SimOptions(initial_equity=Decimal(5000)), registry=reg)
    after = again.account_state()
    assert after.equity == before.equity
    assert after.collateral == before.collateral
    assert [(p.symbol, p.size, p.entry_price) for p in after.positions] == [
        # 2510 + 1 bp taker slippage = 2510.251, up to 5 significant figures (a buy): 2510.3
        ("ETH-USD", Decimal("0.4"), Decimal("2510.3"))
    ]
    assert asyncio.run(again.fills()) == fills
    assert [o.client_order_id for o in asyncio.run(again.open_orders())] == ["b"]
    assert asyncio.run(again.leverage("ETH-USD")).leverage == Decimal(5)
    assert again.account_id == venue.account_id
    assert again.market_time("ETH-USD") == (T0 + MINUTE, False)


def test_fill_ids_carry_the_account_id_so_a_reset_account_never_reuses_one(
    tmp_path: Path, reg: Registry
) -> None:
    ids = []
    for reset in (False, True):
        venue = PaperVenue.open(
            tmp_path / "sim.jsonl", "sim", SimOptions(), registry=reg, reset=reset
        )
        venue.add_market(simulated_instrument("sim", "ETH-USD", 2500.0), timeframe="1m")
        start = 0  # a reset account starts from scratch: same bars, same first fill id
        bar(venue, start, 2500.0)
        report = asyncio.run(venue.submit(market(f"o{reset}", Side.BUY, "0.01")))
        assert report.status is OrderStatus.ACCEPTED
        events = bar(venue, start + 1, 2500.0)
        fills = [f for e in events for f in (e.report.fills if e.report else ())]  # type: ignore[attr-defined]
        assert len(fills) == 1
        assert fills[0].fill_id.startswith(venue.account_id[:8] + "-")
        ids.append(fills[0].fill_id)
        venue.log.close()
    assert ids[0] != ids[1]  # both are the sim's first fill ("sim-f1"), in different accounts
    assert len(list(tmp_path.glob("sim.jsonl.*.bak"))) == 1


def test_a_torn_last_line_was_never_applied_and_is_dropped(tmp_path: Path, reg: Registry) -> None:
    path = tmp_path / "sim.jsonl"
    venue = open_venue(path, reg)
    bar(venue, 0, 2500.0)
    venue.log.close()
    whole = path.read_bytes()
    torn = json.dumps({"k": "submit", "order": market("x", Side.BUY, "1").model_dump(mode="json")})
    path.write_bytes(whole + torn[: len(torn) // 2].encode())

    again = PaperVenue.open(path, "sim", SimOptions(), registry=reg)
    assert asyncio.run(again.order_status("x", "ETH-USD")) is None
    assert path.read_bytes() == whole  # cut back to the last complete line
    again.log.close()


def test_a_damaged_line_inside_the_log_is_an_error_not_a_guess(
    tmp_path: Path, reg: Registry
) -> None:
    path = tmp_path / "sim.jsonl"
    venue = open_venue(path, reg)
    bar(venue, 0, 2500.0)
    bar(venue, 1, 2501.0)
    venue.log.close()
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = "{not json\n"
    path.write_text("".join(lines))
    with pytest.raises(JournalError, match="line 3"):
        read_venue_log(path)


def test_every_submit_is_logged_before_the_venue_answers(tmp_path: Path, reg: Registry) -> None:
    path = tmp_path / "sim.jsonl"
    venue = open_venue(path, reg)
    bar(venue, 0, 2500.0)
    asyncio.run(venue.submit(market("a", Side.BUY, "0.01")))
    asyncio.run(venue.submit(market("a", Side.BUY, "0.01")))  # a resend: the venue dedupes
    assert list(iter_submissions(path)) == ["a", "a"]
    assert venue.submissions == {"a": 2}
    venue.log.close()


actions = st.lists(
    st.one_of(
        st.tuples(st.just("bar"), st.floats(2300, 2700)),
        st.tuples(st.just("buy"), st.sampled_from(["0.01", "0.05", "0.2"])),
        st.tuples(st.just("sell"), st.sampled_from(["0.01", "0.05", "0.2"])),
        st.tuples(st.just("limit"), st.floats(2300, 2700)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=actions)
def test_any_sequence_of_inputs_rebuilds_the_same_account(
    tmp_path_factory: pytest.TempPathFactory, reg: Registry, steps: list[tuple[str, object]]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "sim.jsonl"
    venue = open_venue(path, reg)
    i = 0
    bar(venue, i, 2500.0)
    sent: list[str] = []
    for n, (kind, value) in enumerate(steps):
        if kind == "bar":
            i += 1
            bar(venue, i, round(float(value), 1))  # type: ignore[arg-type]
        elif kind in ("buy", "sell"):
            side = Side.BUY if kind == "buy" else Side.SELL
            asyncio.run(venue.submit(market(f"m{n}", side, str(value))))
            sent.append(f"m{n}")
        elif kind == "limit":
            price = venue.sim._markets["ETH-USD"].instrument.round_price(Decimal(repr(value)))
            order = Order(
                client_order_id=f"l{n}",
                venue="sim",
                symbol="ETH-USD",
                side=Side.BUY,
                price=price,
                size=Decimal("0.01"),
            )
            asyncio.run(venue.submit(order))
            sent.append(f"l{n}")
        elif sent:
            cloid = sent[int(value) % len(sent)]  # type: ignore[call-overload]
            asyncio.run(venue.cancel(market(cloid, Side.BUY, "1")))
    state = venue.account_state()
    fills = asyncio.run(venue.fills())
    orders = {o.client_order_id: o for o in asyncio.run(venue.open_orders())}
    venue.log.close()

    again = PaperVenue.open(path, "sim", SimOptions(), registry=reg)
    assert again.account_state() == state
    assert asyncio.run(again.fills()) == fills
    assert {o.client_order_id: o for o in asyncio.run(again.open_orders())} == orders
    again.log.close()
