"""Domain models to journal rows and back, field for field (no value is reshaped on the way)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sparkstacker.errors import JournalError
from sparkstacker.journal.schema import FillRow, OrderEventRow, OrderRow
from sparkstacker.model import Fill, Order, OrderEvent, OrderEventKind


def order_columns(order: Order) -> dict[str, Any]:
    """The orders-row columns of an order (everything but id, run_id, scope and version)."""
    return {
        "client_order_id": order.client_order_id,
        "venue": order.venue,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "size": order.size,
        "price": order.price,
        "trigger_price": order.trigger_price,
        "tif": order.tif.value,
        "reduce_only": order.reduce_only,
        "leverage": order.leverage,
        "margin_mode": order.margin_mode.value if order.margin_mode is not None else None,
        "status": order.status.value,
        "venue_order_id": order.venue_order_id,
        "filled_size": order.filled_size,
        "avg_fill_price": order.avg_fill_price,
        "fees": order.fees,
        "strategy": order.strategy,
        "group_id": order.group_id,
        "leg": order.leg,
        "reason": order.reason,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "annotations": dict(order.annotations),
    }


ORDER_FIELDS = tuple(Order.model_fields)


def order_from_row(row: OrderRow) -> Order:
    return Order.model_validate({name: getattr(row, name) for name in ORDER_FIELDS})


def order_snapshot(order: Order) -> dict[str, Any]:
    """The JSON form kept in order_intents/order_events (Decimals as exact strings)."""
    return order.model_dump(mode="json")


def fill_columns(fill: Fill) -> dict[str, Any]:
    return {
        "fill_id": fill.fill_id,
        "client_order_id": fill.client_order_id,
        "venue_order_id": fill.venue_order_id,
        "venue": fill.venue,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "price": fill.price,
        "size": fill.size,
        "fee": fill.fee,
        "fee_currency": fill.fee_currency,
        "liquidity": fill.liquidity.value,
        "timestamp": fill.timestamp,
        "is_liquidation": fill.is_liquidation,
        "closed_pnl": fill.closed_pnl,
        "account": fill.account,
    }


FILL_FIELDS = tuple(Fill.model_fields)


def fill_from_row(row: FillRow) -> Fill:
    return Fill.model_validate({name: getattr(row, name) for name in FILL_FIELDS})


def event_from_row(row: OrderEventRow) -> OrderEvent:
    return OrderEvent(
        kind=OrderEventKind(row.kind),
        order=Order.model_validate(row.order),
        timestamp=row.timestamp,
        reason=row.reason,
        fill=Fill.model_validate(row.fill) if row.fill is not None else None,
        run_id=row.run_id,
        venue_status=row.venue_status,
    )


def require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise JournalError(f"{what} {value.isoformat()} is naive; pass a timezone-aware UTC time")
    return value
