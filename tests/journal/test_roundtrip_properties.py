"""Property tests: any finite Decimal and any valid Order come back from the journal unchanged."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal
from sparkstacker.journal.schema import FundingPaymentRow
from sparkstacker.model import MarginMode, Order, OrderType, Side, TimeInForce

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_ids = itertools.count()

finite = st.decimals(allow_nan=False, allow_infinity=False)
positive = st.decimals(
    min_value=Decimal("1e-30"), max_value=Decimal("1e30"), allow_nan=False, allow_infinity=False
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, ZoneInfo("America/New_York")]),
)
words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20
)


@SETTINGS
@given(rate=finite, payment=finite)
def test_any_finite_decimal_round_trips_bit_for_bit(
    journal: Journal, rate: Decimal, payment: Decimal
) -> None:
    run_id = journal.start_run("backtest", [], {})
    journal.record_funding(
        run_id, "sim", "ETH-USD", datetime(2024, 1, 1, tzinfo=UTC), rate, payment
    )
    with sa.orm.Session(journal.engine) as session:
        row = session.scalars(
            sa.select(FundingPaymentRow).where(FundingPaymentRow.run_id == run_id)
        ).one()
    # Same value *and* same representation: sign, digits and exponent (1.10 stays 1.10).
    assert row.rate.as_tuple() == rate.as_tuple()
    assert row.payment.as_tuple() == payment.as_tuple()


@st.composite
def orders(draw: st.DrawFn) -> Order:
    kind = draw(st.sampled_from(list(OrderType)))
    size = draw(positive)
    return Order(
        client_order_id=f"p{next(_ids)}",
        venue=draw(st.sampled_from(["sim", "hyperliquid"])),
        symbol=draw(st.sampled_from(["ETH-USD", "BTC-USD"])),
        side=draw(st.sampled_from(list(Side))),
        type=kind,
        size=size,
        price=draw(positive) if kind is OrderType.LIMIT else draw(st.none() | positive),
        trigger_price=draw(positive) if kind.is_trigger else None,
        tif=draw(st.sampled_from(list(TimeInForce))),
        reduce_only=draw(st.booleans()),
        leverage=draw(st.none() | positive),
        margin_mode=draw(st.none() | st.sampled_from(list(MarginMode))),
        strategy=draw(st.none() | words),
        group_id=draw(st.none() | words),
        leg=draw(st.none() | st.sampled_from(["main", "hedge", "stop"])),
        created_at=draw(times),
        annotations=draw(st.dictionaries(words, words, max_size=3)),
    )


@SETTINGS
@given(order=orders())
def test_any_order_round_trips_exactly(journal: Journal, order: Order) -> None:
    run_id = journal.start_run("paper", [], {})
    journal.record_intent(run_id, order, strategy=order.strategy or "", reason=None)
    stored = journal.order(order.client_order_id)
    assert stored == order
    assert stored is not None
    assert stored.created_at.utcoffset() == timedelta(0)
    assert journal.order_events(order.client_order_id)[0].order == order


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_amounts_are_refused(journal: Journal, value: str) -> None:
    run_id = journal.start_run("backtest", [], {})
    with pytest.raises(JournalError, match="non-finite"):
        journal.record_funding(
            run_id, "sim", "ETH-USD", datetime(2024, 1, 1, tzinfo=UTC), Decimal(value), Decimal(1)
        )
