"""Models built on the trusted path keep their values in key-sharing dicts: smaller, and
indistinguishable from validated models."""

from __future__ import annotations

import pickle
import sys
from datetime import UTC, datetime
from decimal import Decimal

from sparkstacker.model import MarginMode, Order, OrderStatus, OrderType, Side, TimeInForce
from sparkstacker.model.fast import replace
from sparkstacker.model.order import trusted_order


def _values() -> dict[str, object]:
    return {
        "client_order_id": "run-en-1",
        "venue": "sim",
        "symbol": "ETH-USD",
        "side": Side.BUY,
        "type": OrderType.MARKET,
        "tif": TimeInForce.IOC,
        "size": Decimal("2.0000"),
        "leverage": Decimal(3),
        "margin_mode": MarginMode.CROSS,
        "strategy": "s",
        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        "annotations": {"reason": "enter long"},
    }


def test_trusted_orders_and_their_copies_are_smaller_and_equal() -> None:
    fast = trusted_order(_values())
    validated = Order(**_values())  # type: ignore[arg-type]
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
    first = trusted_order(_values())
    second = replace(first, {"fees": Decimal("0.5")})
    assert first.fees == 0
    assert second.fees == Decimal("0.5")
    assert trusted_order(_values()).fees == 0
