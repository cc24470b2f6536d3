"""Write-ahead orders: intents, events, the orders row, and the reads recovery depends on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal
from sparkstacker.model import (
    Fill,
    MarginMode,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
MakeOrder = Callable[..., Order]
MakeFill = Callable[..., Fill]


def event(kind: OrderEventKind, order: Order, **kw: object) -> OrderEvent:
    return OrderEvent(kind=kind, order=order, timestamp=order.updated_at or T0, **kw)  # type: ignore[arg-type]


def versions(journal: Journal) -> dict[str, tuple[int, int]]:
    """client order id -> (orders.version, number of order_events rows)."""
    with journal.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT o.client_order_id, o.version, "
                "(SELECT count(*) FROM order_events e WHERE e.order_id = o.id) FROM orders o"
            )
        )
        return {cloid: (int(v), int(n)) for cloid, v, n in rows}


def test_an_order_with_every_field_set_round_trips_exactly(
    journal: Journal, run_id: str, make_order: MakeOrder
) -> None:
    order = make_order(
        "every-field",
        side=Side.SELL,
        type=OrderType.STOP,
        size=Decimal("0.00012345678901234567"),
        price=Decimal("2500.10"),
        trigger_price=Decimal("2450.000"),
        tif=TimeInForce.IOC,
        reduce_only=True,
        leverage=Decimal("12.5"),
        margin_mode=MarginMode.ISOLATED,
        strategy="macd_eth",
        group_id="g-7",
        leg="hedge",
        created_at=datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
        annotations={"audit": "ok", "note": "ünïcode ✓"},
    )
    journal.record_intent(run_id, order, strategy="macd_eth", reason="crossed up")
    stored = journal.order("every-field")
    assert stored == order
    assert stored is not None
    assert str(stored.price) == "2500.10"  # the exponent survives, not just the value
    assert stored.created_at.tzinfo is UTC


def test_timestamps_come_back_in_utc_whatever_zone_went_in(
    journal: Journal, run_id: str, make_order: MakeOrder
) -> None:
    tokyo = datetime(2024, 3, 1, 21, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    journal.record_intent(run_id, make_order(created_at=tokyo), strategy="s", reason=None)
    stored = journal.order("c1")
    assert stored is not None
    assert stored.created_at == datetime(2024, 3, 1, 21, 0, tzinfo=UTC)
    assert stored.created_at.utcoffset() == timedelta(0)


def test_intent_writes_orders_intent_and_event_rows(
    journal: Journal, run_id: str, make_order: MakeOrder
) -> None:
    journal.record_intent(run_id, make_order(), strategy="s1", reason="signal at 12:00")
    [first] = journal.order_events("c1")
    assert first.kind is OrderEventKind.INTENT
    assert first.reason == "signal at 12:00"
    assert first.run_id == run_id
    assert versions(journal) == {"c1": (1, 1)}
    with journal.engine.connect() as conn:
        intent = conn.execute(
            sa.text(
                "SELECT i.reason, s.name FROM order_intents i "
                "JOIN strategies s ON s.id = i.strategy_id"
            )
        ).one()
    assert tuple(intent) == ("signal at 12:00", "s1")


def test_intent_must_be_new(journal: Journal, run_id: str, make_order: MakeOrder) -> None:
    submitted = make_order().transition(OrderStatus.SUBMITTED, at=T0)
    with pytest.raises(JournalError, match="must be new"):
        journal.record_intent(run_id, submitted, strategy="s", reason=None)
    assert journal.order("c1") is None


def test_a_client_order_id_is_journaled_once(
    journal: Journal, run_id: str, make_order: MakeOrder
) -> None:
    journal.record_intent(run_id, make_order(), strategy="s", reason=None)
    with pytest.raises(JournalError, match="already journaled"):
        journal.record_intent(run_id, make_order(size="2"), strategy="s", reason=None)
    # A later paper run (a restart) shares the id space, so it cannot reuse the id either.
    restart = journal.start_run("paper", [], {})
    with pytest.raises(JournalError, match="never be reused"):
        journal.record_intent(restart, make_order(), strategy="s", reason=None)
    assert journal.order("c1") == make_order()


def test_backtests_have_their_own_id_space(journal: Journal, make_order: MakeOrder) -> None:
    first = journal.start_run("backtest", [], {})
    second = journal.start_run("backtest", [], {})
    journal.record_intent(first, make_order(), strategy="s", reason=None)
    journal.record_intent(second, make_order(size="3"), strategy="s", reason=None)
    assert [o.size for o in journal.orders(first)] == [Decimal("1.25")]
    assert [o.size for o in journal.orders(second)] == [Decimal("3")]
    assert journal.order("c1") == make_order(size="3")  # the newest


def test_lifecycle_moves_the_orders_row_with_one_event_per_step(
    journal: Journal, run_id: str, make_order: MakeOrder, make_fill: MakeFill
) -> None:
    order = make_order()
    journal.record_intent(run_id, order, strategy="s", reason=None)
    submitted = order.transition(OrderStatus.SUBMITTED, at=T0 + timedelta(seconds=1))
    journal.record_order_event(run_id, event(OrderEventKind.SUBMITTED, submitted))
    accepted = submitted.transition(
        OrderStatus.ACCEPTED, at=T0 + timedelta(seconds=2), venue_order_id="777"
    )
    journal.record_order_event(
        run_id, event(OrderEventKind.ACCEPTED, accepted, venue_status="resting")
    )
    fill = make_fill(size=Decimal("0.25"), timestamp=T0 + timedelta(seconds=3))
    partial = accepted.apply_fill(fill)
    journal.record_order_event(run_id, event(OrderEventKind.PARTIAL_FILL, partial, fill=fill))
    cancelled = partial.transition(
        OrderStatus.CANCELLED, at=T0 + timedelta(seconds=4), reason="user cancel"
    )
    journal.record_order_event(
        run_id,
        event(OrderEventKind.CANCELLED, cancelled, reason="user cancel", venue_status="canceled"),
    )

    assert journal.order("c1") == cancelled
    events = journal.order_events("c1")
    assert [e.kind for e in events] == [
        OrderEventKind.INTENT,
        OrderEventKind.SUBMITTED,
        OrderEventKind.ACCEPTED,
        OrderEventKind.PARTIAL_FILL,
        OrderEventKind.CANCELLED,
    ]
    assert [e.order for e in events] == [order, submitted, accepted, partial, cancelled]
    assert events[2].venue_status == "resting"
    assert events[3].fill == fill
    assert events[4] == event(
        OrderEventKind.CANCELLED,
        cancelled,
        reason="user cancel",
        venue_status="canceled",
        run_id=run_id,
    )
    assert versions(journal) == {"c1": (5, 5)}
    # The fill carried by the event was recorded with it, once.
    assert journal.fills() == [fill]
    assert journal.record_fill(run_id, fill) is False


def test_engine_intent_event_after_record_intent_is_not_doubled(
    journal: Journal, run_id: str, make_order: MakeOrder
) -> None:
    """The engine emits an ``intent`` event after record_intent; it is already journaled."""
    journal.record_intent(run_id, make_order(), strategy="s", reason="why")
    journal.record_order_event(run_id, event(OrderEventKind.INTENT, make_order(), reason="why"))
    assert len(journal.order_events("c1")) == 1
    assert versions(journal) == {"c1": (1, 1)}


def test_non_status_steps_are_appended_too(
    journal: Journal, run_id: str, make_order: MakeOrder
) -> None:
    journal.record_intent(run_id, make_order(), strategy="s", reason=None)
    submitted = make_order().transition(OrderStatus.SUBMITTED, at=T0)
    journal.record_order_event(run_id, event(OrderEventKind.SUBMITTED, submitted))
    journal.record_order_event(
        run_id, event(OrderEventKind.CANCEL_REQUESTED, submitted, reason="shutdown")
    )
    assert [e.kind for e in journal.order_events("c1")][-1] is OrderEventKind.CANCEL_REQUESTED
    assert versions(journal) == {"c1": (3, 3)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": OrderStatus.FILLED, "filled_size": Decimal("1.25")}, "cannot go from new"),
        ({"venue": "other"}, "venue cannot change"),
        ({"side": Side.SELL}, "side cannot change"),
    ],
)
def test_refused_events_change_nothing(
    journal: Journal, run_id: str, make_order: MakeOrder, change: dict[str, object], message: str
) -> None:
    journal.record_intent(run_id, make_order(), strategy="s", reason=None)
    bad = make_order().model_copy(update=change)
    with pytest.raises(JournalError, match=message):
        journal.record_order_event(run_id, event(OrderEventKind.FILL, bad))
    assert journal.order("c1") == make_order()
    assert versions(journal) == {"c1": (1, 1)}


def test_filled_size_never_shrinks(
    journal: Journal, run_id: str, make_order: MakeOrder, make_fill: MakeFill
) -> None:
    journal.record_intent(run_id, make_order(), strategy="s", reason=None)
    submitted = make_order().transition(OrderStatus.SUBMITTED, at=T0)
    journal.record_order_event(run_id, event(OrderEventKind.SUBMITTED, submitted))
    partial = submitted.apply_fill(make_fill(size=Decimal("1")))
    journal.record_order_event(run_id, event(OrderEventKind.PARTIAL_FILL, partial))
    shrunk = partial.model_copy(update={"filled_size": Decimal("0.5")})
    with pytest.raises(JournalError, match="cannot shrink"):
        journal.record_order_event(run_id, event(OrderEventKind.PARTIAL_FILL, shrunk))


def test_event_for_an_order_without_intent_is_refused(
    journal: Journal, run_id: str, make_order: MakeOrder
) -> None:
    with pytest.raises(JournalError, match="no journaled intent"):
        journal.record_order_event(run_id, event(OrderEventKind.ACCEPTED, make_order()))
    assert journal.orders() == []


def test_event_of_another_run_is_refused(
    journal: Journal, run_id: str, make_order: MakeOrder
) -> None:
    journal.record_intent(run_id, make_order(), strategy="s", reason=None)
    with pytest.raises(JournalError, match="belongs to run"):
        journal.record_order_event(
            run_id, event(OrderEventKind.INTENT, make_order(), run_id="someone-else")
        )


def test_unknown_run_is_refused(journal: Journal, make_order: MakeOrder) -> None:
    with pytest.raises(JournalError, match="start_run first"):
        journal.record_intent("nope", make_order(), strategy="s", reason=None)


def test_orders_filters(journal: Journal, make_order: MakeOrder) -> None:
    first = journal.start_run("paper", [], {})
    second = journal.start_run("paper", [], {})
    journal.record_intent(first, make_order("a"), strategy="s", reason=None)
    journal.record_intent(first, make_order("b", venue="hyperliquid"), strategy="s", reason=None)
    journal.record_intent(second, make_order("c"), strategy="s", reason=None)
    rejected = make_order("c").transition(OrderStatus.REJECTED, at=T0, reason="margin")
    journal.record_order_event(second, event(OrderEventKind.REJECTED, rejected))

    assert [o.client_order_id for o in journal.orders()] == ["a", "b", "c"]
    assert [o.client_order_id for o in journal.orders(first)] == ["a", "b"]
    assert [o.client_order_id for o in journal.orders(open_only=True)] == ["a", "b"]
    assert [o.client_order_id for o in journal.orders(venue="hyperliquid")] == ["b"]
    assert [o.client_order_id for o in journal.orders(second, open_only=True)] == []


def test_unacknowledged_intents_are_new_or_submitted_orders_of_paper_and_live_runs(
    journal: Journal, make_order: MakeOrder
) -> None:
    live = journal.start_run("live", [], {})
    backtest = journal.start_run("backtest", [], {})
    for cloid in ("new", "submitted", "accepted", "rejected"):
        journal.record_intent(live, make_order(cloid), strategy="s", reason=None)
    journal.record_intent(backtest, make_order("bt"), strategy="s", reason=None)
    journal.record_intent(live, make_order("hl", venue="hyperliquid"), strategy="s", reason=None)
    sub = make_order("submitted").transition(OrderStatus.SUBMITTED, at=T0)
    journal.record_order_event(live, event(OrderEventKind.SUBMITTED, sub))
    acc = make_order("accepted").transition(OrderStatus.SUBMITTED, at=T0)
    journal.record_order_event(live, event(OrderEventKind.SUBMITTED, acc))
    acc = acc.transition(OrderStatus.ACCEPTED, at=T0)
    journal.record_order_event(live, event(OrderEventKind.ACCEPTED, acc))
    rej = make_order("rejected").transition(OrderStatus.REJECTED, at=T0)
    journal.record_order_event(live, event(OrderEventKind.REJECTED, rej))

    cloids = [o.client_order_id for o in journal.unacknowledged_intents()]
    assert cloids == ["new", "submitted", "hl"]
    assert [o.client_order_id for o in journal.unacknowledged_intents("sim")] == [
        "new",
        "submitted",
    ]
    assert [o.client_order_id for o in journal.unacknowledged_intents(mode="backtest")] == ["bt"]
    assert journal.unacknowledged_intents(mode="paper") == []
    with pytest.raises(JournalError, match="mode"):
        journal.unacknowledged_intents(mode="sandbox")


def test_unknown_order_reads_are_empty(journal: Journal) -> None:
    assert journal.order("missing") is None
    assert journal.order_events("missing") == []
