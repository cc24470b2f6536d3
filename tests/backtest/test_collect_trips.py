"""``collect``'s one-pass round trips and flows against a plain per-fill reference.

The reference below is the straightforward form of the bookkeeping (a loop per fill that
closes, then opens, one step at a time, with validated ``RoundTrip`` objects); ``collect``
must produce the same trips (same values, same ``Decimal`` representations, same order) and
the same flow arrays from any sequence of fills.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sparkstacker.backtest import collect
from sparkstacker.backtest.result import FundingPayment, RoundTrip
from sparkstacker.model import ZERO, Fill, Order, Side, from_millis, to_millis
from sparkstacker.model.order import OrderType

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)  # a later time in the same millisecond
ZERO_GAP = timedelta(0)  # the same instant
# (strategy, leg, venue, symbol) of the orders the generated fills belong to
OWNERS = [
    ("alpha", "main", "sim", "ETH-USD"),
    ("alpha", "main", "sim", "BTC-USD"),
    ("beta", None, "sim.hedge", "ETH-USD"),  # no leg: the venue's ("hedge")
    ("beta", "hedge", "sim.hedge", "ETH-USD"),
    ("gamma", None, "sim", "ETH-USD"),
    (None, "main", "sim", "ETH-USD"),
]
UNOWNED = {-1: ("sim", "ETH-USD"), -2: ("sim.hedge", "ETH-USD")}  # markets of fills without orders


# ---- the reference ----------------------------------------------------------------------


def reference_round_trips(
    fills: list[Fill], by_id: dict[str, Order], timeline: np.ndarray, funding: list[Any]
) -> list[RoundTrip]:
    """Round trips per strategy leg, one fill and one step at a time."""
    index = collect._FundingIndex(funding)
    trips: list[RoundTrip] = []
    opened: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    sizes: dict[tuple[str, str, str, str], Decimal] = {}
    for fill in fills:
        bar = int(np.searchsorted(timeline, to_millis(fill.timestamp)))
        order = by_id.get(fill.client_order_id or "")
        key = reference_key(fill, order, sizes)
        size = sizes.get(key, ZERO)
        remaining = fill.signed_size
        per_unit = fill.fee / fill.size
        while remaining != 0:
            trip = opened.get(key)
            if trip is None or size == 0:
                take = abs(remaining)
                opened[key] = {
                    "direction": "long" if remaining > 0 else "short",
                    "size": take,
                    "peak": take,
                    "time": fill.timestamp,
                    "value": take * fill.price,
                    "qty": take,
                    "fees": take * per_unit,
                    "pnl": ZERO,
                    "bar": bar,
                }
                size += remaining
                remaining = ZERO
            elif (size > 0) == (remaining > 0):
                take = abs(remaining)
                trip["size"] += take
                trip["peak"] = max(trip["peak"], trip["size"])
                trip["value"] += take * fill.price
                trip["qty"] += take
                trip["fees"] += take * per_unit
                size += remaining
                remaining = ZERO
            else:
                closing = min(abs(remaining), abs(size))
                entry = trip["value"] / trip["qty"]
                trip["pnl"] += closing * (fill.price - entry) * (1 if size > 0 else -1)
                trip["fees"] += closing * per_unit
                trip["size"] -= closing
                step = closing if remaining > 0 else -closing
                size += step
                remaining -= step
                if size == 0:
                    trips.append(reference_trip(key, trip, fill, bar, order, index))
                    del opened[key]
        sizes[key] = size
    end = from_millis(int(timeline[-1]))
    for key, trip in opened.items():
        trips.append(
            RoundTrip(
                *key,
                direction=trip["direction"],
                size=trip["peak"],
                entry_time=trip["time"],
                entry_price=trip["value"] / trip["qty"],
                exit_time=None,
                exit_price=None,
                pnl=trip["pnl"],
                fees=trip["fees"],
                funding=index.between(key[2], key[3], trip["time"], end),
                bars_held=len(timeline) - 1 - trip["bar"],
            )
        )
    if any(a.entry_time >= b.entry_time for a, b in itertools.pairwise(trips)):
        trips.sort(key=lambda t: (t.entry_time, t.strategy, t.leg))
    return trips


def reference_key(
    fill: Fill, order: Order | None, sizes: dict[tuple[str, str, str, str], Decimal]
) -> tuple[str, str, str, str]:
    venue_leg = "hedge" if "." in fill.venue else "main"
    if order is not None:
        return (order.strategy or "<liquidation>", order.leg or venue_leg, fill.venue, fill.symbol)
    owners = [
        k
        for k, v in sizes.items()
        if fill.is_liquidation and v != 0 and k[2] == fill.venue and k[3] == fill.symbol
    ]
    return (owners[0][0] if owners else "<liquidation>", venue_leg, fill.venue, fill.symbol)


def reference_trip(
    key: tuple[str, str, str, str],
    trip: dict[str, Any],
    fill: Fill,
    bar: int,
    order: Order | None,
    index: Any,
) -> RoundTrip:
    reason = None
    if fill.is_liquidation:
        reason = "liquidation"
    elif order is not None:
        reason = order.annotations.get("reason") or order.reason
    return RoundTrip(
        *key,
        direction=trip["direction"],
        size=trip["peak"],
        entry_time=trip["time"],
        entry_price=trip["value"] / trip["qty"],
        exit_time=fill.timestamp,
        exit_price=fill.price,
        pnl=trip["pnl"],
        fees=trip["fees"],
        funding=index.between(key[2], key[3], trip["time"], fill.timestamp),
        bars_held=bar - trip["bar"],
        exit_reason=reason,
        liquidated=fill.is_liquidation,
    )


# ---- generated runs ---------------------------------------------------------------------

step = st.tuples(
    st.integers(-2, len(OWNERS) - 1),  # the owner; < 0: no order of the run (on UNOWNED[i])
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from(["1", "2", "0.5", "3.25"]),  # size
    st.integers(90, 110),  # price
    st.sampled_from(["0", "0.01", "0.123456789", "-0.002"]),  # fee (negative: a rebate)
    st.sampled_from([ZERO_GAP, ZERO_GAP, MICROSECOND, MINUTE, 37 * MINUTE]),  # since the last
    st.booleans(),  # a liquidation fill (when no order)
)


def build_run(steps: list[tuple[Any, ...]]) -> tuple[list[Fill], dict[str, Order]]:
    fills: list[Fill] = []
    by_id: dict[str, Order] = {}
    at = T0
    for i, (owner, side, size, price, fee, gap, liquidation) in enumerate(steps):
        at += gap
        oid = None
        venue, symbol = UNOWNED[owner] if owner < 0 else OWNERS[owner][2:]
        if owner >= 0:
            strategy, leg, _, _ = OWNERS[owner]
            oid = f"o{i}"
            by_id[oid] = Order(
                client_order_id=oid,
                venue=venue,
                symbol=symbol,
                side=side,
                type=OrderType.MARKET,
                size=Decimal(size),
                strategy=strategy,
                leg=leg,
                annotations={"reason": f"signal {i}"} if i % 2 else {},
                reason="stop" if i % 3 else None,
            )
        fills.append(
            Fill(
                fill_id=f"f{i:04d}",
                client_order_id=oid,
                venue=venue,
                symbol=symbol,
                side=side,
                price=Decimal(price),
                size=Decimal(size),
                fee=Decimal(fee),
                timestamp=at,
                is_liquidation=owner < 0 and liquidation,
            )
        )
    return fills, by_id


def hourly_timeline(fills: list[Fill]) -> np.ndarray:
    start = to_millis(T0)
    hours = 2 + (to_millis(fills[-1].timestamp) - start) // 3_600_000 if fills else 2
    return start + 3_600_000 * np.arange(1, hours + 1, dtype=np.int64)


def payments(timeline: np.ndarray) -> list[FundingPayment]:
    return [
        FundingPayment(from_millis(int(ms)), "sim", "ETH-USD", Decimal("0.0001"), Decimal(p))
        for ms, p in zip(timeline[::2], ["0.5", "-0.25", "0.125", "1.1"] * 50, strict=False)
    ]


def shown(trips: list[RoundTrip]) -> list[tuple[type, str]]:
    """Each trip's class and repr (the repr shows each Decimal's exact representation)."""
    return [(type(t), repr(t)) for t in trips]


def buy(owner: int, gap: timedelta = ZERO_GAP) -> tuple[Any, ...]:
    return (owner, Side.BUY, "1", 100, "0.01", gap, False)


def sell(owner: int, gap: timedelta = ZERO_GAP) -> tuple[Any, ...]:
    return (owner, Side.SELL, "1", 101, "0.01", gap, False)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=40))
# two markets of one strategy leg, both reopened in one instant (in the other order) and
# still open at the end: they stay in the order they opened
@example([buy(0), buy(1), sell(0, MINUTE), sell(1), buy(1, MINUTE), buy(0)])
def test_round_trips_match_the_reference(steps: list[tuple[Any, ...]]) -> None:
    fills, by_id = build_run(steps)
    timeline = hourly_timeline(fills)
    funding = payments(timeline)
    trips = collect._round_trips(fills, by_id, {}, timeline, funding)
    assert shown(trips) == shown(reference_round_trips(fills, by_id, timeline, funding))
    walk = collect._walk(fills, collect._millis(fills), by_id, {}, timeline, funding)
    assert walk.legs == {collect._fill_leg(f, by_id, {}) for f in fills}
    assert walk.columns == collect._Columns.of(fills)


@settings(max_examples=100, deadline=None)
@given(st.lists(step, max_size=40), st.randoms(use_true_random=False))
def test_fills_in_time_order_and_their_flows(steps: list[tuple[Any, ...]], rng: Any) -> None:
    fills, _ = build_run(steps)
    rng.shuffle(fills)
    expected = list(fills)
    if any(a.timestamp >= b.timestamp for a, b in itertools.pairwise(fills)):
        expected.sort(key=lambda f: (f.timestamp, f.fill_id))
    ordered, millis = collect._in_time_order(list(fills))
    assert ordered == expected
    assert millis.tolist() == [to_millis(f.timestamp) for f in expected]

    flows, _, _ = collect._flows(ordered, [])
    codes: dict[str, int] = {}
    assert flows.stamps.tolist() == millis.tolist()
    assert flows.market.tolist() == [codes.setdefault(f.symbol, len(codes)) for f in ordered]
    assert flows.symbols == tuple(codes)
    assert flows.signed.tolist() == [float(f.signed_size) for f in ordered]
    assert flows.price.tolist() == [float(f.price) for f in ordered]
    assert flows.fee.tolist() == [float(f.fee) for f in ordered]


# ---- the trusted RoundTrip builder ------------------------------------------------------

decimals = st.decimals(
    allow_nan=False, allow_infinity=False, places=6, min_value=-1e9, max_value=1e9
)
times = st.datetimes(timezones=st.just(UTC))
trip_values = st.tuples(
    st.text(max_size=8),
    st.sampled_from(["main", "hedge"]),
    st.text(max_size=8),
    st.text(max_size=8),
    st.sampled_from(["long", "short"]),
    decimals,
    times,
    decimals,
    st.none() | times,
    st.none() | decimals,
    decimals,
    decimals,
    decimals,
    st.integers(0, 10**6),
    st.none() | st.text(max_size=8),
    st.booleans(),
)


def test_the_draft_has_the_round_trips_layout() -> None:
    assert collect._RoundTripDraft.__slots__ == RoundTrip.__slots__
    assert [f.name for f in dataclasses.fields(collect._RoundTripDraft)] == list(
        RoundTrip.__slots__
    )


@settings(max_examples=200, deadline=None)
@given(trip_values)
def test_a_built_round_trip_is_a_round_trip(values: tuple[Any, ...]) -> None:
    built = collect._round_trip(*values)
    made = RoundTrip(*values)
    assert type(built) is RoundTrip
    assert built == made
    assert repr(built) == repr(made)
    assert hash(built) == hash(made)
    assert dataclasses.astuple(built) == dataclasses.astuple(made)
    assert RoundTrip(**dataclasses.asdict(built)) == built
    assert pickle.loads(pickle.dumps(built)) == made
    assert copy.deepcopy(built) == made
    assert dataclasses.replace(built, bars_held=1) == dataclasses.replace(made, bars_held=1)
    assert built.net_pnl == made.net_pnl
    assert built.is_open == made.is_open
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.pnl = ZERO  # type: ignore[misc]
