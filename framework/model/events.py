"""Events handed to plugins' lifecycle hooks and written to the journal and orders.log."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field
from sparkstacker.model.base import FrozenModel, UtcDatetime
from sparkstacker.model.fill import Fill
from sparkstacker.model.order import Order
from sparkstacker.model.position import Position
from sparkstacker.model.signal import Signal


class OrderEventKind(StrEnum):
    INTENT = "intent"  # journaled, not yet sent
    SUBMITTED = "submitted"  # request left the engine
    ACCEPTED = "accepted"  # venue acknowledged (resting or trigger armed)
    TRIGGERED = "triggered"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    AMENDED = "amended"


class OrderEvent(FrozenModel):
    """One step in an order's life, with the order as it stands after the step."""

    kind: OrderEventKind
    order: Order
    timestamp: UtcDatetime
    reason: str | None = None
    fill: Fill | None = None
    run_id: str | None = None
    venue_status: str | None = Field(
        default=None, description="The venue's own status word for this step, verbatim"
    )


class FillEvent(FrozenModel):
    fill: Fill
    order: Order
    position: Position | None = None
    realized_pnl: Decimal | None = None
    run_id: str | None = None


class SignalEvent(FrozenModel):
    signal: Signal
    accepted: bool = True
    reason: str | None = Field(default=None, description="Why it was not acted on, if not")
    run_id: str | None = None


class OrderSubmission(FrozenModel):
    """An order about to leave the engine, as seen by ``submit_order`` wrappers."""

    order: Order
    mark_price: Decimal | None = None
    equity: Decimal | None = None
    mode: str = "backtest"
    annotations: dict[str, str] = Field(default_factory=dict)

    def annotate(self, **notes: str) -> OrderSubmission:
        return self.model_copy(update={"annotations": {**self.annotations, **notes}})
