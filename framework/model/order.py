"""Orders and their explicit state machine.

``new → submitted → accepted → (triggered) → partially_filled → filled``, with ``cancelled``,
``rejected`` and ``expired`` as the other terminal states. Every change returns a new frozen
``Order``; an illegal move raises :class:`IllegalTransition`. A partially filled IOC whose rest
is cancelled ends ``cancelled`` with ``filled_size > 0`` — never ``filled``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from pydantic import Field, field_validator, model_validator
from sparkstacker.errors import IllegalTransition, ModelError, OrderSizeError
from sparkstacker.model.base import ZERO, FrozenModel, UtcDatetime, utcnow
from sparkstacker.model.enums import MarginMode, Side
from sparkstacker.model.fast import Builder, replace
from sparkstacker.model.fill import Fill


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"  # trigger; market when triggered unless a limit price is given
    TAKE_PROFIT = "take_profit"  # trigger; market when triggered unless a limit price is given

    @property
    def is_trigger(self) -> bool:
        return self in (OrderType.STOP, OrderType.TAKE_PROFIT)


class TimeInForce(StrEnum):
    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # immediate or cancel: fill what crosses now, cancel the rest
    ALO = "alo"  # add liquidity only (post-only): rejected if it would cross
    FOK = "fok"  # fill or kill: all now or nothing


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    TRIGGERED = "triggered"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

_S = OrderStatus
_FILLED, _PARTIALLY_FILLED = _S.FILLED, _S.PARTIALLY_FILLED  # read per fill: bound once
TRANSITIONS: MappingProxyType[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        _S.NEW: frozenset({_S.SUBMITTED, _S.REJECTED, _S.CANCELLED}),
        _S.SUBMITTED: frozenset(
            {_S.ACCEPTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}
        ),
        _S.ACCEPTED: frozenset(
            {_S.TRIGGERED, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}
        ),
        _S.TRIGGERED: frozenset(
            {_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}
        ),
        _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED}),
        _S.FILLED: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.EXPIRED: frozenset(),
    }
)


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    return new in TRANSITIONS[current]


class Order(FrozenModel):
    """An order from intent to outcome: ``size`` was asked for, ``filled_size`` happened."""

    client_order_id: str = Field(min_length=1, max_length=64)
    venue: str
    symbol: str
    side: Side
    type: OrderType = OrderType.LIMIT
    size: Decimal = Field(description="Requested size in base units")
    price: Decimal | None = Field(default=None, description="Limit price (worst price for IOC)")
    trigger_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    leverage: Decimal | None = None
    margin_mode: MarginMode | None = None
    status: OrderStatus = OrderStatus.NEW
    venue_order_id: str | None = None
    filled_size: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    fees: Decimal = ZERO
    strategy: str | None = None
    group_id: str | None = None
    leg: str | None = Field(default=None, description="main, hedge, or a protective role")
    reason: str | None = Field(default=None, description="Why it was rejected / cancelled")
    created_at: UtcDatetime = Field(default_factory=utcnow)
    updated_at: UtcDatetime | None = None
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("size")
    @classmethod
    def _positive_size(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise OrderSizeError(
                f"order size must be positive, got {value}; never send a zero order"
            )
        return value

    @model_validator(mode="after")
    def _check_prices(self) -> Order:
        if self.type is OrderType.LIMIT and self.price is None:
            raise ModelError(f"limit order {self.client_order_id} needs a price")
        if self.type.is_trigger and self.trigger_price is None:
            raise ModelError(f"{self.type} order {self.client_order_id} needs a trigger_price")
        for name in ("price", "trigger_price"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ModelError(f"{name} of order {self.client_order_id} must be > 0, got {value}")
        if self.filled_size < 0 or self.filled_size > self.size:
            raise ModelError(
                f"filled size {self.filled_size} of order {self.client_order_id} is outside "
                f"0..{self.size}"
            )
        return self

    # ---- derived ------------------------------------------------------------------------------

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled_size

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL_STATUSES

    @property
    def signed_filled(self) -> Decimal:
        return self.filled_size * self.side.sign

    @property
    def outcome(self) -> str:
        """``filled``, ``partial`` (ended with some size unfilled), ``none`` or ``pending``."""
        if not self.is_terminal:
            return "pending"
        if self.filled_size == self.size:
            return "filled"
        return "partial" if self.filled_size > 0 else "none"

    # ---- state machine ------------------------------------------------------------------------

    def transition(
        self,
        status: OrderStatus,
        *,
        at: datetime | None = None,
        reason: str | None = None,
        venue_order_id: str | None = None,
    ) -> Order:
        """Move to ``status`` or raise :class:`IllegalTransition`."""
        if status not in TRANSITIONS[self.status]:
            raise IllegalTransition(
                f"order {self.client_order_id} cannot go from {self.status} to {status}"
                + (f" (reason: {reason})" if reason else "")
            )
        if status is _FILLED and self.filled_size != self.size:
            raise IllegalTransition(
                f"order {self.client_order_id} cannot be filled: {self.filled_size} of "
                f"{self.size} filled"
            )
        update: dict[str, Any] = {"status": status, "updated_at": at or utcnow()}
        if reason is not None:
            update["reason"] = reason
        if venue_order_id is not None:
            update["venue_order_id"] = venue_order_id
        return replace(self, update)

    def apply_fill(self, fill: Fill) -> Order:
        """Add a fill: cumulative size, VWAP and fees; status becomes partially filled or filled."""
        # Each field is read once: a model's attribute costs more than a local's.
        cid = self.client_order_id
        if fill.client_order_id not in (None, cid):
            raise ModelError(f"fill {fill.fill_id} belongs to {fill.client_order_id}, not {cid}")
        if fill.side is not self.side:
            raise ModelError(f"fill {fill.fill_id} side {fill.side} != order side {self.side}")
        size, done, quantity = self.size, self.filled_size, fill.size
        filled = done + quantity
        if filled > size:
            raise ModelError(f"fill {fill.fill_id} would overfill order {cid}: {filled} > {size}")
        price, fee, fees = fill.price, fill.fee, self.fees
        if done:
            previous = (self.avg_fill_price or 0) * done
            avg = (previous + price * quantity) / filled
            fees = fees + fee
        else:
            # First fill: the totals are the fill's own numbers. Sharing its Decimal objects
            # (equal values, the fill's exact representation) keeps ~300 bytes per order
            # out of memory in long backtests.
            filled, avg = quantity, price
            fees = fee if not fees else fees + fee
        status = _FILLED if filled == size else _PARTIALLY_FILLED
        if status not in TRANSITIONS[self.status]:
            raise IllegalTransition(
                f"order {cid} in state {self.status} cannot take fill {fill.fill_id}"
            )
        return replace(
            self,
            {
                "filled_size": filled,
                "avg_fill_price": avg,
                "fees": fees,
                "status": status,
                "updated_at": fill.timestamp,
                "venue_order_id": self.venue_order_id or fill.venue_order_id,
            },
        )

    def annotate(self, **notes: str) -> Order:
        return replace(self, {"annotations": {**self.annotations, **notes}})


_build_order = Builder(Order)


def order_shape(names: Iterable[str]) -> Builder:
    """A builder for :func:`trusted_order` calls that always pass exactly ``names``."""
    return Builder(Order, given=names)


def trusted_order(values: dict[str, Any], shape: Builder | None = None) -> Order:
    """An ``Order`` from values the engine built itself (right types, UTC ``created_at``).

    Skips pydantic's type validation but keeps every rule of the model: a positive size, a
    price for limits, a trigger for triggers, positive prices, a non-empty id of at most 64
    characters. Raises exactly what ``Order(**values)`` would for those. ``shape`` (from
    :func:`order_shape`) saves reading the names of ``values`` on every call.
    """
    if values["size"] <= 0 or not 0 < len(values["client_order_id"]) <= 64:
        return Order(**values)  # the validated path raises the model's own error
    kind = values.get("type", OrderType.LIMIT)
    price = values.get("price")
    trigger = values.get("trigger_price")
    if (
        (kind is OrderType.LIMIT and price is None)
        or (kind.is_trigger and trigger is None)
        or (price is not None and price <= 0)
        or (trigger is not None and trigger <= 0)
        or "created_at" not in values
        or "filled_size" in values
    ):
        return Order(**values)
    order: Order = (shape or _build_order)(values)
    return order
