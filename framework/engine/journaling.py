"""What the engine needs from a journal (``sparkstacker.journal.Journal`` provides it)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, Protocol

from sparkstacker.model import AccountState, Fill, Order, OrderEvent, Signal


class EngineJournal(Protocol):
    def batch(self) -> AbstractContextManager[None]:
        """Writes inside share one transaction; an intent inside still commits on its own."""
        ...

    def record_intent(
        self, run_id: str, order: Order, *, strategy: str, reason: str | None
    ) -> None: ...
    def record_order_event(self, run_id: str, event: OrderEvent) -> None: ...
    def record_fill(self, run_id: str, fill: Fill) -> bool: ...
    def record_signal(
        self, run_id: str, signal: Signal, *, accepted: bool, reason: str | None
    ) -> None: ...
    def record_account(self, run_id: str, account: AccountState) -> None: ...
    def record_funding(
        self, run_id: str, venue: str, symbol: str, ts: Any, rate: Decimal, payment: Decimal
    ) -> None: ...
    def record_risk_event(
        self,
        run_id: str,
        kind: str,
        severity: str,
        message: str,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        blocks_entries: bool = False,
        data: dict[str, Any] | None = None,
    ) -> int: ...
    def record_group_event(
        self, run_id: str, group_id: str, step: str, data: dict[str, Any]
    ) -> None: ...
