"""Risk events that block entries: raised by reconciliation, lifted when it reconciles or an
operator resolves them (``spark-stacker resolve``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sparkstacker.engine.engine import Engine
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal, RiskEventRecord
from sparkstacker.runtime.history import Owns

if TYPE_CHECKING:
    from sparkstacker.runtime.recovery import ReconcileReport

log = logging.getLogger("sparkstacker.runtime.recovery")

UNEXPLAINED_POSITION = "unexplained_position"
UNEXPLAINED_ORDER = "unexplained_order"
BLOCK_PREFIXES = (UNEXPLAINED_POSITION, UNEXPLAINED_ORDER, "risk event ")


class RiskBlocks:
    """The blocking risk events of the accounts a run trades, and the engine's blocks."""

    def __init__(self, engine: Engine, journal: Journal, owns: Owns) -> None:
        self.engine = engine
        self.journal = journal
        self.owns = owns
        self.run_id = engine.run.run_id

    def ours(self, run_id: str, venue: str | None) -> bool:
        return venue is None or self.owns(run_id, venue) or run_id == self.run_id

    def open_events(
        self, kind: str | None, venue: str | None, symbol: str | None = None
    ) -> list[RiskEventRecord]:
        found = []
        for event in self.journal.risk_events(unresolved_only=True):
            if kind is not None and event.kind != kind:
                continue
            if not event.blocks_entries or not self.ours(event.run_id, event.venue):
                continue
            if venue is not None and event.venue != venue:
                continue
            if symbol is not None and event.symbol != symbol:
                continue
            found.append(event)
        return found

    def raise_block(
        self,
        kind: str,
        venue: str,
        symbol: str,
        message: str,
        data: Mapping[str, str],
        report: ReconcileReport,
    ) -> None:
        existing = self.open_events(kind, venue, symbol)
        if existing:
            event_id = existing[0].id
        else:
            event_id = self.journal.record_risk_event(
                self.run_id,
                kind,
                "critical",
                message,
                venue=venue,
                symbol=symbol,
                blocks_entries=True,
                data=dict(data),
            )
            self.engine.events.risk_events.append(
                {
                    "kind": kind,
                    "severity": "critical",
                    "message": message,
                    "venue": venue,
                    "symbol": symbol,
                    "timestamp": self.engine.clock.now().isoformat(),
                }
            )
        log.error(
            "risk event %s %s: %s (new entries on %s %s blocked)",
            event_id,
            kind,
            message,
            venue,
            symbol,
        )
        report.unexplained.append(f"{message} (risk event {event_id})")
        self.engine.block_entries(venue, symbol, f"{kind}: {message}")
        report.blocked.append(f"{venue} {symbol}")

    def resolve(self, event: RiskEventRecord, note: str, report: ReconcileReport) -> None:
        try:
            self.journal.resolve_risk_event(event.id, note)
        except JournalError as exc:  # resolved concurrently (spark-stacker resolve)
            log.info("risk event %s: %s", event.id, exc)
        report.resolved.append(event.id)
        log.info("risk event %s resolved: %s", event.id, note)
        if event.venue is not None and event.symbol is not None:
            self.engine.unblock_entries(event.venue, event.symbol)

    def refresh_blocks(self) -> list[str]:
        """Lift engine blocks whose risk events were resolved meanwhile (``spark-stacker
        resolve``); returns the markets unblocked. Cheap enough to call every few seconds."""
        still = self.open_events(None, None)
        lifted = []
        for (venue, symbol), reason in list(self.engine._block_entries.items()):
            if not reason.startswith(BLOCK_PREFIXES):
                continue
            if any(e.venue in (None, venue) and e.symbol in (None, symbol) for e in still):
                continue
            self.engine.unblock_entries(venue, symbol)
            lifted.append(f"{venue} {symbol}")
            log.info("entries on %s %s allowed again: its risk event was resolved", venue, symbol)
        return lifted

    def apply(self, report: ReconcileReport) -> None:
        """Every unresolved blocking event of this account blocks its market(s) in the engine."""
        for event in self.open_events(None, None):
            for slot in self.engine.slots:
                if (event.venue in (None, slot.venue)) and (event.symbol in (None, slot.symbol)):
                    self.engine.block_entries(
                        slot.venue,
                        slot.symbol,
                        f"risk event {event.id} {event.kind}: {event.message}",
                    )
                    where = f"{slot.venue} {slot.symbol}"
                    if where not in report.blocked:
                        report.blocked.append(where)
