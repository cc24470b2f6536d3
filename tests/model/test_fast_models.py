"""The trusted fast paths build models indistinguishable from validated ones, and never let a
value through that validation would refuse."""

from __future__ import annotations

import pickle
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sparkstacker.errors import IllegalTransition, ModelError, OrderSizeError
from sparkstacker.exchange import OrderReport
from sparkstacker.model import (
    Direction,
    Fill,
    Instrument,
    Liquidity,
    MarginMode,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    fast,
    from_millis,
)
from sparkstacker.model.fast import Builder, replace
from sparkstacker.model.order import order_shape, trusted_order
from sparkstacker.sizing import SizeDecision, SizingRequest, size_decision, sizing_request

D = Decimal
NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def order_values(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "client_order_id": "run-en-1",
        "venue": "sim",
        "symbol": "ETH-USD",
        "side": Side.BUY,
        "type": OrderType.MARKET,
        "tif": TimeInForce.IOC,
        "size": D("2.0000"),
        "price": None,
        "reduce_only": False,
        "leverage": D(3),
        "margin_mode": MarginMode.CROSS,
        "strategy": "s",
        "leg": "main",
        "group_id": None,
        "created_at": NOW,
        "annotations": {"reason": "enter long", "origin": "strategy"},
    }
    values.update(overrides)
    return values


def same(fast: object, validated: object) -> None:
    """Equal by every observable: fields, their order, fields-set, repr and dump."""
    assert type(fast) is type(validated)
    assert fast == validated
    assert list(fast.__dict__.items()) == list(validated.__dict__.items())
    assert fast.model_fields_set == validated.model_fields_set  # type: ignore[attr-defined]
    assert repr(fast) == repr(validated)
    assert fast.model_dump() == validated.model_dump()  # type: ignore[attr-defined]


def test_trusted_order_is_the_validated_order() -> None:
    values = order_values()
    same(trusted_order(dict(values)), Order(**values))
    shaped = order_shape(values.keys())
    same(trusted_order(dict(values), shaped), Order(**values))


def test_trusted_order_keeps_every_model_rule() -> None:
    with pytest.raises(OrderSizeError):
        trusted_order(order_values(size=D(0)))
    with pytest.raises(ModelError, match="needs a price"):
        trusted_order(order_values(type=OrderType.LIMIT, tif=TimeInForce.GTC))
    with pytest.raises(ModelError, match="needs a trigger_price"):
        trusted_order(order_values(type=OrderType.STOP))
    with pytest.raises(ModelError, match="must be > 0"):
        trusted_order(order_values(type=OrderType.LIMIT, price=D("-1")))
    with pytest.raises(ValidationError):
        trusted_order(order_values(client_order_id="x" * 65))


def test_replace_is_model_copy() -> None:
    order = Order(**order_values())
    update = {"status": OrderStatus.SUBMITTED, "updated_at": NOW}
    same(replace(order, update), order.model_copy(update=update))
    copied = replace(replace(order, update), {"venue_order_id": "7"})
    same(copied, order.model_copy(update={**update, "venue_order_id": "7"}))
    assert order.status is OrderStatus.NEW  # the original is untouched


def test_replace_remembers_unions_of_interned_fields_sets_only() -> None:
    """A validated model's own fields-set may die and its id be reused: no union is kept for
    it, so a later copy never picks up a stale one."""
    update = {"status": OrderStatus.SUBMITTED, "updated_at": NOW}
    for extra in ({}, {"group_id": "g"}, {"reason": "why"}):
        order = Order(**order_values(**extra))
        remembered = set(fast._UNIONS)
        same(replace(order, update), order.model_copy(update=update))
        assert set(fast._UNIONS) == remembered
    built = trusted_order(order_values(), order_shape(order_values().keys()))
    twice = [replace(built, update), replace(built, update)]
    assert twice[0].__pydantic_fields_set__ is twice[1].__pydantic_fields_set__
    same(twice[1], Order(**order_values()).model_copy(update=update))


def test_state_machine_still_refuses_illegal_moves() -> None:
    order = trusted_order(order_values())
    submitted = order.transition(OrderStatus.SUBMITTED, at=NOW)
    assert submitted.status is OrderStatus.SUBMITTED
    assert submitted.updated_at == NOW
    with pytest.raises(IllegalTransition):
        submitted.transition(OrderStatus.NEW)
    fill = Fill(
        fill_id="f1",
        client_order_id=order.client_order_id,
        venue="sim",
        symbol="ETH-USD",
        side=Side.BUY,
        price=D("2000.5"),
        size=D("2.0000"),
        fee=D("0.2"),
        timestamp=NOW,
    )
    filled = submitted.apply_fill(fill)
    assert (filled.status, filled.filled_size, filled.avg_fill_price) == (
        OrderStatus.FILLED,
        D(2),
        D("2000.5"),
    )
    with pytest.raises(ModelError, match="overfill"):
        filled.apply_fill(fill.model_copy(update={"fill_id": "f2"}))


def test_builder_matches_validation_with_defaults_and_factories() -> None:
    fills = Builder(Fill)
    values = {
        "fill_id": "f1",
        "venue": "sim",
        "symbol": "ETH-USD",
        "side": Side.SELL,
        "price": D("1999.9"),
        "size": D("0.5"),
        "timestamp": NOW,
        "liquidity": Liquidity.MAKER,
    }
    same(fills(dict(values)), Fill(**values))
    reports = Builder(OrderReport, given=("client_order_id", "status", "timestamp"))
    report_values = {"client_order_id": "c", "status": OrderStatus.ACCEPTED, "timestamp": NOW}
    same(reports(dict(report_values)), OrderReport(**report_values))
    with pytest.raises(TypeError, match="unknown"):
        Builder(Fill, given=("fill_id", "nonsense"))


def test_sizing_models_fast_and_fallback() -> None:
    instrument = Instrument(
        symbol="ETH-USD",
        venue="sim",
        base="ETH",
        quote="USD",
        tick_size=D("0.1"),
        lot_size=D("0.001"),
    )
    values = {
        "instrument": instrument,
        "direction": Direction.LONG,
        "price": D("2000.5"),
        "equity": D(10_000),
        "leverage": D(2),
        "confidence": D("1.0"),
        "stop_distance": None,
    }
    same(sizing_request(**values), SizingRequest(**values))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        sizing_request(**{**values, "price": D(0)})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        sizing_request(**{**values, "confidence": D("1.5")})  # type: ignore[arg-type]
    same(
        size_decision(D("0.123"), D("246.06")),  # finish_size always names clamped
        SizeDecision(size=D("0.123"), notional=D("246.06"), clamped=None),
    )
    with pytest.raises(ValidationError):
        size_decision(D("-1"), D(5))


@given(st.lists(st.integers(min_value=0, max_value=4_000_000_000_000), min_size=1, max_size=20))
def test_from_millis_memo_never_returns_a_stale_instant(stamps: list[int]) -> None:
    for ms in stamps + stamps[::-1]:
        assert from_millis(ms) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


# Trusted-path models keep their values in key-sharing dicts: smaller, and indistinguishable
# from validated models.
def test_trusted_orders_and_their_copies_are_smaller_and_equal() -> None:
    fast = trusted_order(order_values())
    validated = Order(**order_values())  # type: ignore[arg-type]
    moved = replace(fast, {"status": OrderStatus.SUBMITTED})
    assert sys.getsizeof(fast.__dict__) < sys.getsizeof(validated.__dict__) / 2
    assert sys.getsizeof(moved.__dict__) == sys.getsizeof(fast.__dict__)
    assert fast == validated
    assert list(fast.__dict__.items()) == list(validated.__dict__.items())
    assert (
        moved.model_dump()
        == validated.model_copy(update={"status": OrderStatus.SUBMITTED}).model_dump()
    )
    assert pickle.loads(pickle.dumps(moved)) == moved


def test_a_copy_never_changes_the_template_or_its_siblings() -> None:
    first = trusted_order(order_values())
    second = replace(first, {"fees": Decimal("0.5")})
    assert first.fees == 0
    assert second.fees == Decimal("0.5")
    assert trusted_order(order_values()).fees == 0
