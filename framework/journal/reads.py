"""The read side: orders, events, fills and the lookups recovery and reconciliation need."""

from __future__ import annotations

from datetime import datetime

from sparkstacker.errors import JournalError
from sparkstacker.journal.convert import (
    event_from_row,
    fill_from_row,
    order_from_row,
    require_aware,
)
from sparkstacker.journal.core import JournalCore
from sparkstacker.journal.records import (
    GroupEventRecord,
    RiskEventRecord,
    RuleFileRecord,
    RunRecord,
)
from sparkstacker.journal.schema import (
    FillRow,
    GroupEventRow,
    OrderEventRow,
    OrderRow,
    RiskEventRow,
    RuleFileRow,
    RunRow,
)
from sparkstacker.model import TERMINAL_STATUSES, Fill, Order, OrderEvent, OrderStatus
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

OPEN_STATUSES = tuple(s.value for s in OrderStatus if s not in TERMINAL_STATUSES)
UNACKNOWLEDGED = (OrderStatus.NEW.value, OrderStatus.SUBMITTED.value)


class JournalReads(JournalCore):
    """Queries; each runs in its own read transaction and never blocks a writer (WAL)."""

    # ---- runs -----------------------------------------------------------------------------------

    def runs(self, *, mode: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        with self._read("list runs") as session:
            query = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id)
            if mode is not None:
                query = query.where(RunRow.mode == mode)
            if limit is not None:
                query = query.limit(limit)
            rows = session.scalars(query).all()
            files = _rule_files(session, [r.id for r in rows])
            return [_run_record(r, files.get(r.id, ())) for r in rows]

    def run(self, run_id: str) -> RunRecord | None:
        with self._read(f"read run {run_id}") as session:
            row = session.get(RunRow, run_id)
            if row is None:
                return None
            return _run_record(row, _rule_files(session, [run_id]).get(run_id, ()))

    def resolve_run(self, prefix: str) -> str:
        """The full id of the one run whose id starts with ``prefix`` (like git's short hashes)."""
        with self._read("find a run") as session:
            matches = session.scalars(
                select(RunRow.id).where(RunRow.id.startswith(prefix, autoescape=True)).limit(2)
            ).all()
        if not matches:
            raise JournalError(f"no run id starts with {prefix!r} in {self.display_url}")
        if len(matches) > 1:
            raise JournalError(f"run id prefix {prefix!r} is ambiguous; give more characters")
        return matches[0]

    # ---- orders ---------------------------------------------------------------------------------

    def order(self, client_order_id: str) -> Order | None:
        """The current state of an order (the newest one with that id), or None."""
        with self._read(f"read order {client_order_id}") as session:
            row = session.scalars(
                select(OrderRow)
                .where(OrderRow.client_order_id == client_order_id)
                .order_by(OrderRow.id.desc())
                .limit(1)
            ).first()
            return order_from_row(row) if row is not None else None

    def orders(
        self,
        run_id: str | None = None,
        *,
        open_only: bool = False,
        venue: str | None = None,
        symbol: str | None = None,
    ) -> list[Order]:
        """Orders in journal order; ``open_only`` keeps those not in a terminal state."""
        query = select(OrderRow).order_by(OrderRow.id)
        if run_id is not None:
            query = query.where(OrderRow.run_id == run_id)
        if open_only:
            query = query.where(OrderRow.status.in_(OPEN_STATUSES))
        if venue is not None:
            query = query.where(OrderRow.venue == venue)
        if symbol is not None:
            query = query.where(OrderRow.symbol == symbol)
        with self._read("list orders") as session:
            return [order_from_row(row) for row in session.scalars(query)]

    def order_events(self, client_order_id: str) -> list[OrderEvent]:
        """Every step of an order's life, oldest first (the newest order with that id)."""
        newest = (
            select(OrderRow.id)
            .where(OrderRow.client_order_id == client_order_id)
            .order_by(OrderRow.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        with self._read(f"read events of order {client_order_id}") as session:
            rows = session.scalars(
                select(OrderEventRow)
                .where(OrderEventRow.order_id == newest)
                .order_by(OrderEventRow.seq)
            )
            return [event_from_row(row) for row in rows]

    def unacknowledged_intents(
        self, venue: str | None = None, *, mode: str | None = None
    ) -> list[Order]:
        """Journaled orders whose venue outcome is unknown: still ``new`` or ``submitted``.

        These are the orders of a run that stopped between "intent committed" and "venue
        answered"; recovery asks the venue about each by client order id. ``mode`` None means
        paper and live runs (a backtest has nothing to recover).
        """
        query = (
            select(OrderRow)
            .join(RunRow, RunRow.id == OrderRow.run_id)
            .where(OrderRow.status.in_(UNACKNOWLEDGED), RunRow.mode.in_(self._mode_filter(mode)))
            .order_by(OrderRow.id)
        )
        if venue is not None:
            query = query.where(OrderRow.venue == venue)
        with self._read("list unacknowledged intents") as session:
            return [order_from_row(row) for row in session.scalars(query)]

    # ---- fills ----------------------------------------------------------------------------------

    def fills(
        self,
        run_id: str | None = None,
        *,
        venue: str | None = None,
        since: datetime | None = None,
        client_order_id: str | None = None,
    ) -> list[Fill]:
        """Fills in time order; ``since`` is inclusive (overlap is harmless: fills dedupe)."""
        query = select(FillRow).order_by(FillRow.timestamp, FillRow.id)
        if run_id is not None:
            query = query.where(FillRow.run_id == run_id)
        if venue is not None:
            query = query.where(FillRow.venue == venue)
        if since is not None:
            query = query.where(FillRow.timestamp >= require_aware(since, "since"))
        if client_order_id is not None:
            query = query.where(FillRow.client_order_id == client_order_id)
        with self._read("list fills") as session:
            return [fill_from_row(row) for row in session.scalars(query)]

    def last_fill_time(
        self, venue: str, account: str | None = None, *, mode: str | None = None
    ) -> datetime | None:
        """When the newest journaled fill on ``venue`` (and ``account``) happened, or None.

        Reconciliation asks the venue for fills from this time on. ``mode`` None means paper and
        live runs, so a backtest's historical fills never move it.
        """
        query = (
            select(func.max(FillRow.timestamp))
            .join(RunRow, RunRow.id == FillRow.run_id)
            .where(FillRow.venue == venue, RunRow.mode.in_(self._mode_filter(mode)))
        )
        if account is not None:
            query = query.where(FillRow.account == account)
        with self._read(f"find the last fill on {venue}") as session:
            return session.scalar(query)

    # ---- risk and groups ------------------------------------------------------------------------

    def blocking_risk_events(self, venue: str, symbol: str) -> list[RiskEventRecord]:
        """Unresolved events that block entries on this market (or its whole venue, or all)."""
        query = (
            select(RiskEventRow)
            .where(
                RiskEventRow.blocks_entries.is_(True),
                RiskEventRow.resolved_at.is_(None),
                or_(RiskEventRow.venue.is_(None), RiskEventRow.venue == venue),
                or_(RiskEventRow.symbol.is_(None), RiskEventRow.symbol == symbol),
            )
            .order_by(RiskEventRow.id)
        )
        with self._read(f"list risk blocks on {venue} {symbol}") as session:
            return [_risk_record(row) for row in session.scalars(query)]

    def risk_events(
        self, run_id: str | None = None, *, unresolved_only: bool = False
    ) -> list[RiskEventRecord]:
        query = select(RiskEventRow).order_by(RiskEventRow.id)
        if run_id is not None:
            query = query.where(RiskEventRow.run_id == run_id)
        if unresolved_only:
            query = query.where(RiskEventRow.resolved_at.is_(None))
        with self._read("list risk events") as session:
            return [_risk_record(row) for row in session.scalars(query)]

    def group_events(self, group_id: str) -> list[GroupEventRecord]:
        """The protocol steps of a position group, oldest first."""
        query = (
            select(GroupEventRow)
            .where(GroupEventRow.group_id == group_id)
            .order_by(GroupEventRow.seq)
        )
        with self._read(f"read group {group_id}") as session:
            return [
                GroupEventRecord(
                    id=row.id,
                    group_id=row.group_id,
                    run_id=row.run_id,
                    seq=row.seq,
                    step=row.step,
                    data=row.data,
                    timestamp=row.timestamp,
                )
                for row in session.scalars(query)
            ]


def _rule_files(session: Session, run_ids: list[str]) -> dict[str, tuple[RuleFileRecord, ...]]:
    out: dict[str, list[RuleFileRecord]] = {}
    if not run_ids:
        return {}
    query = select(RuleFileRow).where(RuleFileRow.run_id.in_(run_ids)).order_by(RuleFileRow.id)
    for row in session.scalars(query):
        out.setdefault(row.run_id, []).append(RuleFileRecord(path=row.path, sha256=row.sha256))
    return {key: tuple(value) for key, value in out.items()}


def _run_record(row: RunRow, files: tuple[RuleFileRecord, ...]) -> RunRecord:
    return RunRecord(
        id=row.id,
        mode=row.mode,
        started_at=row.started_at,
        ended_at=row.ended_at,
        status=row.status,
        config=row.config,
        summary=row.summary,
        rule_files=files,
        framework_version=row.framework_version,
    )


def _risk_record(row: RiskEventRow) -> RiskEventRecord:
    return RiskEventRecord(
        id=row.id,
        run_id=row.run_id,
        kind=row.kind,
        severity=row.severity,
        message=row.message,
        venue=row.venue,
        symbol=row.symbol,
        blocks_entries=row.blocks_entries,
        data=row.data,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
    )
