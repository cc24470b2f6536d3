"""The order state machine rejects illegal moves; partial IOC fills never count as done."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sparkstacker.errors import IllegalTransition, ModelError, OrderSizeError
from sparkstacker.model import (
    TRANSITIONS,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    can_transition,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _fill(order: Order, size: str, price: str = "2500", fill_id: str = "f1") -> Fill:
    return Fill(
        fill_id=fill_id,
        client_order_id=order.client_order_id,
        venue=order.venue,
        symbol=order.symbol,
        side=order.side,
        price=Decimal(price),
        size=Decimal(size),
        fee=Decimal("0.1"),
        timestamp=T0,
    )


def test_happy_path(order_factory) -> None:  # type: ignore[no-untyped-def]
    order = order_factory(size="2")
    order = order.transition(OrderStatus.SUBMITTED).transition(
        OrderStatus.ACCEPTED, venue_order_id="77"
    )
    order = order.apply_fill(_fill(order, "0.5", "2500", "a"))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    order = order.apply_fill(_fill(order, "1.5", "2510", "b"))
    assert order.status is OrderStatus.FILLED
    assert order.filled_size == Decimal("2")
    assert order.avg_fill_price == Decimal("2507.5")
    assert order.fees == Decimal("0.2")
    assert order.venue_order_id == "77"
    assert order.outcome == "filled"


def test_partial_ioc_ends_cancelled_not_filled(order_factory) -> None:  # type: ignore[no-untyped-def]
    order = order_factory(size="200", tif=TimeInForce.IOC).transition(OrderStatus.SUBMITTED)
    order = order.apply_fill(_fill(order, "136"))
    order = order.transition(OrderStatus.CANCELLED, reason="IOC remainder cancelled")
    assert order.is_terminal
    assert order.outcome == "partial"
    assert order.remaining == Decimal("64")
    with pytest.raises(IllegalTransition):
        order.transition(OrderStatus.FILLED)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (OrderStatus.NEW, OrderStatus.FILLED),
        (OrderStatus.NEW, OrderStatus.ACCEPTED),
        (OrderStatus.FILLED, OrderStatus.CANCELLED),
        (OrderStatus.REJECTED, OrderStatus.SUBMITTED),
        (OrderStatus.CANCELLED, OrderStatus.PARTIALLY_FILLED),
    ],
)
def test_illegal_transitions_raise_with_a_clear_message(order_factory, start, target) -> None:  # type: ignore[no-untyped-def]
    order = order_factory().model_copy(update={"status": start})
    with pytest.raises(IllegalTransition, match=f"cannot go from {start} to {target}"):
        order.transition(target)


def test_filled_requires_the_whole_size(order_factory) -> None:  # type: ignore[no-untyped-def]
    order = order_factory(size="2").transition(OrderStatus.SUBMITTED)
    with pytest.raises(IllegalTransition, match="0 of 2 filled"):
        order.transition(OrderStatus.FILLED)


def test_overfill_is_refused(order_factory) -> None:  # type: ignore[no-untyped-def]
    order = order_factory(size="1").transition(OrderStatus.SUBMITTED)
    with pytest.raises(ModelError, match="overfill"):
        order.apply_fill(_fill(order, "1.5"))


def test_zero_size_order_cannot_exist(order_factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OrderSizeError, match="never send a zero order"):
        order_factory(size="0")


def test_fill_from_another_side_is_refused(order_factory) -> None:  # type: ignore[no-untyped-def]
    order = order_factory().transition(OrderStatus.SUBMITTED)
    wrong = _fill(order, "0.1").model_copy(update={"side": Side.SELL})
    with pytest.raises(ModelError, match="side"):
        order.apply_fill(wrong)


@given(st.lists(st.sampled_from(list(OrderStatus)), max_size=12))
def test_random_walks_only_follow_the_table(walk: list[OrderStatus]) -> None:
    order = Order(
        client_order_id="x",
        venue="sim",
        symbol="ETH-USD",
        side=Side.BUY,
        price=Decimal(1),
        size=Decimal(1),
    )
    for target in walk:
        legal = can_transition(order.status, target) and target is not OrderStatus.FILLED
        if legal:
            order = order.transition(target)
            assert order.status is target
        else:
            with pytest.raises(IllegalTransition):
                order.transition(target)
    assert set(TRANSITIONS) == set(OrderStatus)
    assert all(not TRANSITIONS[s] for s in OrderStatus if s.is_terminal)


@given(
    size=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3),
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100000), places=2),
)
def test_a_first_fill_totals_equal_a_computed_vwap_and_share_the_fills_numbers(
    size: Decimal, price: Decimal
) -> None:
    order = Order(
        client_order_id="c",
        venue="sim",
        symbol="ETH-USD",
        side=Side.BUY,
        size=size * 2,
        type=OrderType.MARKET,
    ).transition(OrderStatus.SUBMITTED)
    fill = _fill(order, str(size), str(price))
    first = order.apply_fill(fill)
    assert first.filled_size == size
    assert first.avg_fill_price == (price * size) / size
    assert first.fees == fill.fee
    # The same objects, not copies: a long backtest holds one set of numbers per fill.
    assert first.filled_size is fill.size
    assert first.avg_fill_price is fill.price
    second = first.apply_fill(_fill(first, str(size), str(price + 1), "f2"))
    assert second.status is OrderStatus.FILLED
    assert second.avg_fill_price == (price * size + (price + 1) * size) / (size * 2)
    assert second.fees == fill.fee * 2
