"""The write-ahead side: every ``record_*`` is one committed transaction.

An order intent is committed (and with ``durability="full"`` fsynced) before
:meth:`JournalWrites.record_intent` returns, so the engine may send the request only afterwards.
The orders row never changes on its own: :meth:`JournalWrites.record_order_event` appends an
order_events row and updates the order in the same transaction (a database trigger refuses
any other update).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sparkstacker import __version__
from sparkstacker.errors import JournalError
from sparkstacker.journal.convert import (
    fill_columns,
    order_columns,
    order_snapshot,
    require_aware,
)
from sparkstacker.journal.core import JournalCore
from sparkstacker.journal.database import Durability
from sparkstacker.journal.intent_log import LoggedIntent
from sparkstacker.journal.prepared import Encoded, PreparedInsert
from sparkstacker.journal.records import RUN_MODES
from sparkstacker.journal.sanitize import clean_json
from sparkstacker.journal.schema import TABLES
from sparkstacker.model import (
    AccountState,
    Fill,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    Signal,
    can_transition,
    utcnow,
)
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.engine import URL

RUNS, RULE_FILES, STRATEGIES = TABLES["runs"], TABLES["run_rule_files"], TABLES["strategies"]
ORDERS, INTENTS, EVENTS = TABLES["orders"], TABLES["order_intents"], TABLES["order_events"]
FILLS, SIGNALS = TABLES["fills"], TABLES["signals"]
BALANCES, POSITIONS, FUNDING = TABLES["balances"], TABLES["positions"], TABLES["funding_payments"]
RISK, GROUPS, GROUP_EVENTS = (
    TABLES["risk_events"],
    TABLES["position_groups"],
    TABLES["group_events"],
)

FILL_KEY = ("scope", "venue", "fill_id")

# Statements are built once and executed with parameter dicts: SQLAlchemy then reuses their
# compiled form instead of building and hashing a new statement per call (5-10x faster).
_BY_CLOID = (
    ORDERS.c.scope == bindparam("p_scope"),
    ORDERS.c.client_order_id == bindparam("p_cloid"),
)
ORDER_OWNER = select(ORDERS.c.run_id).where(*_BY_CLOID)
ORDER_FOR_EVENT = select(ORDERS).where(*_BY_CLOID).with_for_update()
INSERT_ORDER = insert(ORDERS).returning(ORDERS.c.id)
UPDATE_ORDER = update(ORDERS).where(
    ORDERS.c.id == bindparam("p_id"), ORDERS.c.version == bindparam("p_version")
)
INSERT_EVENT, INSERT_INTENT, INSERT_SIGNAL = insert(EVENTS), insert(INTENTS), insert(SIGNALS)
STRATEGY_ID = select(STRATEGIES.c.id).where(
    STRATEGIES.c.run_id == bindparam("p_run"), STRATEGIES.c.name == bindparam("p_name")
)
_IDENTITY = ("venue", "symbol", "side")
# The intent log exists for SQLite journals only (qmark parameters).
_OWNER_SQL = "SELECT run_id FROM orders WHERE scope = ? AND client_order_id = ?"


@dataclass(frozen=True, slots=True)
class _IntentStatements:
    """The three rows of an order intent, prepared for this journal's dialect."""

    order: PreparedInsert
    event: PreparedInsert
    intent: PreparedInsert


def sha256_of(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise JournalError(f"rule file {path} cannot be read for the journal: {exc}") from exc


class JournalWrites(JournalCore):
    """Runs, intents, order events, fills, snapshots, funding, risk and hedge-group steps."""

    _intent_sql: _IntentStatements | None = None

    def __init__(
        self, url: str | URL, *, durability: Durability = "full", intent_log: bool = False
    ) -> None:
        # Intents committed to the intent log, not yet written to the tables (oldest first),
        # those written in a transaction not yet committed, and who owns each pending id.
        self._pending: list[LoggedIntent] = []
        self._in_flight: list[LoggedIntent] = []
        self._pending_owner: dict[tuple[str, str], str] = {}
        super().__init__(url, durability=durability, intent_log=intent_log)

    # ---- runs -----------------------------------------------------------------------------------

    def start_run(self, mode: str, rule_files: Sequence[Path], config: Mapping[str, Any]) -> str:
        """Open a run; ``config`` is stored without anything that looks secret. Returns its id."""
        if mode not in RUN_MODES:
            raise JournalError(f"run mode {mode!r} is not one of {', '.join(RUN_MODES)}")
        if not isinstance(config, Mapping):
            raise JournalError(f"run config must be a mapping, got {type(config).__name__}")
        files = [(str(Path(p)), sha256_of(Path(p))) for p in rule_files]
        stored = clean_json(dict(config), where="run config")
        run_id = uuid.uuid4().hex
        with self._write(f"start a {mode} run") as conn:
            conn.execute(
                insert(RUNS).values(
                    id=run_id,
                    mode=mode,
                    started_at=utcnow(),
                    status="running",
                    config=stored,
                    framework_version=__version__,
                )
            )
            if files:
                conn.execute(
                    insert(RULE_FILES),
                    [{"run_id": run_id, "path": p, "sha256": digest} for p, digest in files],
                )
        return run_id

    def end_run(self, run_id: str, status: str, summary: Mapping[str, Any]) -> None:
        stored = clean_json(dict(summary), where="run summary")
        with self._write(f"end run {run_id}") as conn:
            result = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id)
                .values(ended_at=utcnow(), status=status, summary=stored)
            )
            if result.rowcount != 1:
                raise JournalError(f"run {run_id!r} is not in the journal")

    def register_strategy(
        self,
        run_id: str,
        name: str,
        *,
        source: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> int:
        """Record a strategy of a run (its rule source and parameters); returns its row id."""
        with self._write(f"register strategy {name!r}") as conn:
            self._scope(conn, run_id)
            strategy_id = self._strategy_id(conn, run_id, name, source=source, params=params)
        self._strategies[(run_id, name)] = strategy_id
        return strategy_id

    def _strategy_id(
        self,
        conn: Connection,
        run_id: str,
        name: str,
        *,
        source: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> int:
        cached = self._strategies.get((run_id, name))
        if cached is not None:
            return cached
        values: dict[str, Any] = {
            "run_id": run_id,
            "name": name,
            "source": source,
            "params": clean_json(dict(params), where=f"strategy {name} params")
            if params is not None
            else None,
            "created_at": utcnow(),
        }
        self._insert_ignore(conn, STRATEGIES, values, ("run_id", "name"))
        return int(conn.execute(STRATEGY_ID, {"p_run": run_id, "p_name": name}).scalar_one())

    # ---- orders ---------------------------------------------------------------------------------

    def record_intent(
        self, run_id: str, order: Order, *, strategy: str, reason: str | None = None
    ) -> None:
        """Commit an order before it is sent. A client order id can be journaled only once."""
        if order.status is not OrderStatus.NEW:
            raise JournalError(
                f"intent for order {order.client_order_id} must be new, not {order.status}"
            )
        what = f"journal the intent of order {order.client_order_id}"
        try:
            self._insert_intent(run_id, order, strategy, reason, what)
        except JournalError as exc:
            # The (scope, client order id) unique key refuses a reused id inside the one
            # transaction, so the request path pays no look-up first; name the owner here.
            if not isinstance(exc.__cause__, self._integrity_errors()):
                raise
            with self._write(what) as conn:
                scope = self._scope(conn, run_id)
                existing = conn.execute(
                    ORDER_OWNER, {"p_scope": scope, "p_cloid": order.client_order_id}
                ).scalar_one_or_none()
            if existing is None:
                raise
            raise JournalError(
                f"client order id {order.client_order_id} was already journaled "
                f"(run {existing}); a client order id must never be reused"
            ) from None

    def _insert_intent(
        self, run_id: str, order: Order, strategy: str, reason: str | None, what: str
    ) -> None:
        scope, strategy_id = self._intent_owner(run_id, strategy, what)
        if self._intent_log is not None:
            self._log_intent(run_id, scope, order, strategy, reason)
            return
        with self._raw_write(what) as cursor:
            self._intent_rows(cursor, run_id, scope, strategy_id, order, reason, utcnow())

    def _intent_owner(self, run_id: str, strategy: str, what: str) -> tuple[str, int | None]:
        """The run's scope and the strategy's row id (created on first use), cached."""
        scope = self._scopes.get(run_id)
        strategy_id = self._strategies.get((run_id, strategy)) if strategy else None
        if scope is None or (strategy and strategy_id is None):
            with self._write(what) as conn:
                scope = self._scope(conn, run_id)
                if strategy:
                    strategy_id = self._strategy_id(conn, run_id, strategy)
            if strategy_id is not None:
                self._strategies[(run_id, strategy)] = strategy_id
        assert scope is not None
        return scope, strategy_id

    def _intent_rows(
        self,
        cursor: Any,
        run_id: str,
        scope: str,
        strategy_id: int | None,
        order: Order,
        reason: str | None,
        recorded_at: datetime,
    ) -> None:
        """The intent's three rows (orders, its first order_events row, order_intents)."""
        statements = self._intent_statements()
        snapshot = Encoded(order.model_dump_json())
        cursor.execute(
            statements.order.sql,
            statements.order.params(
                {"run_id": run_id, "scope": scope, "version": 1, **order_columns(order)}
            ),
        )
        order_pk = cursor.fetchone()[0]
        cursor.execute(
            statements.event.sql,
            statements.event.params(
                {
                    "run_id": run_id,
                    "order_id": order_pk,
                    "seq": 1,
                    "client_order_id": order.client_order_id,
                    "kind": OrderEventKind.INTENT.value,
                    "status": order.status.value,
                    "venue_status": None,
                    "reason": reason,
                    "fill_id": None,
                    "timestamp": order.created_at,
                    "recorded_at": recorded_at,
                    "order": snapshot,
                    "fill": None,
                }
            ),
        )
        cursor.execute(
            statements.intent.sql,
            statements.intent.params(
                {
                    "run_id": run_id,
                    "order_id": order_pk,
                    "strategy_id": strategy_id,
                    "client_order_id": order.client_order_id,
                    "reason": reason,
                    "order": snapshot,
                    "recorded_at": recorded_at,
                }
            ),
        )

    # ---- the intent log (SQLite journals of paper and live runs) ------------------------------

    def _log_intent(
        self, run_id: str, scope: str, order: Order, strategy: str, reason: str | None
    ) -> None:
        """Refuse a reused client order id now, then commit the intent to the log."""
        assert self._intent_log is not None
        cloid = order.client_order_id
        owner = self._pending_owner.get((scope, cloid))
        now = utcnow()
        log_id = None
        if owner is None:
            log_id = self._intent_log.append(run_id, scope, order, strategy, reason, now)
        if log_id is None:
            if owner is None:
                with self._read(f"look up client order id {cloid}") as session:
                    owner = session.execute(
                        ORDER_OWNER, {"p_scope": scope, "p_cloid": cloid}
                    ).scalar()
            raise JournalError(
                f"client order id {cloid} was already journaled (run {owner}); "
                "a client order id must never be reused"
            )
        self._pending.append(LoggedIntent(log_id, run_id, strategy, reason, now, order))
        self._pending_owner[(scope, cloid)] = run_id

    def _has_pending(self) -> bool:
        return bool(self._pending)

    def _flush_pending(self, connection: Connection) -> None:
        batch = list(self._pending)
        cursor = connection.connection.cursor()
        try:
            for entry in batch:
                scope, strategy_id = self._scopes[entry.run_id], None
                cursor.execute(_OWNER_SQL, (scope, entry.order.client_order_id))
                if cursor.fetchone() is not None:
                    continue  # already put back from the log by another process opening it
                if entry.strategy:
                    strategy_id = self._strategies.get((entry.run_id, entry.strategy))
                self._intent_rows(
                    cursor,
                    entry.run_id,
                    scope,
                    strategy_id,
                    entry.order,
                    entry.reason,
                    entry.recorded_at,
                )
        finally:
            cursor.close()
        del self._pending[: len(batch)]
        self._in_flight.extend(batch)

    def _pending_committed(self, committed: bool) -> None:
        flight, self._in_flight = self._in_flight, []
        if not flight:
            return
        if not committed:
            self._pending[:0] = flight
            return
        for entry in flight:
            self._pending_owner.pop((self._scopes[entry.run_id], entry.order.client_order_id))
        if self._intent_log is not None:
            self._intent_log.forget(flight[-1].log_id)

    def _replay_intent_log(self) -> None:
        assert self._intent_log is not None
        entries = self._intent_log.entries()
        if not entries:
            return
        with self._write("put logged order intents back into the journal") as conn:
            missing = []
            for entry in entries:
                scope = self._scope(conn, entry.run_id)
                if entry.strategy:
                    self._strategies[(entry.run_id, entry.strategy)] = self._strategy_id(
                        conn, entry.run_id, entry.strategy
                    )
                cloid = entry.order.client_order_id
                known = conn.execute(ORDER_OWNER, {"p_scope": scope, "p_cloid": cloid})
                if known.scalar() is None and (scope, cloid) not in self._pending_owner:
                    missing.append(entry)
                    self._pending_owner[(scope, cloid)] = entry.run_id
            self._pending.extend(missing)
            self._flush_pending(conn)
        self._pending_committed(True)
        self._intent_log.forget(entries[-1].log_id, now=True, everyone=True)

    def _intent_statements(self) -> _IntentStatements:
        if self._intent_sql is None:
            dialect = self._engine.dialect
            self._intent_sql = _IntentStatements(
                order=PreparedInsert(ORDERS, dialect, returning="id"),
                event=PreparedInsert(EVENTS, dialect),
                intent=PreparedInsert(INTENTS, dialect),
            )
        return self._intent_sql

    def record_order_event(self, run_id: str, event: OrderEvent) -> None:
        """Append one lifecycle step and move the orders row to ``event.order``, atomically.

        The order must have a journaled intent; venue, symbol and side cannot change; a status
        change must be a legal transition; the filled size never shrinks. An ``intent`` event
        for an order still exactly as journaled is already recorded and is not repeated.
        A fill carried by the event is recorded too (once, like :meth:`record_fill`).
        """
        order = event.order
        cloid = order.client_order_id
        if event.run_id is not None and event.run_id != run_id:
            raise JournalError(
                f"event of order {cloid} belongs to run {event.run_id}, not {run_id}"
            )
        with self._write(f"journal the {event.kind} event of order {cloid}") as conn:
            scope = self._scope(conn, run_id)
            row = conn.execute(ORDER_FOR_EVENT, {"p_scope": scope, "p_cloid": cloid}).one_or_none()
            if row is None:
                raise JournalError(
                    f"order {cloid} has no journaled intent; record_intent must come first"
                )
            current: dict[str, Any] = row._asdict()
            columns = order_columns(order)
            if (
                event.kind is OrderEventKind.INTENT
                and current["version"] == 1
                and all(current[name] == value for name, value in columns.items())
            ):
                return
            _check_step(cloid, current, columns)
            if event.fill is not None:
                self._insert_fill(conn, run_id, scope, event.fill)
            seq = current["version"] + 1
            conn.execute(
                INSERT_EVENT,
                {
                    "run_id": run_id,
                    "order_id": current["id"],
                    "seq": seq,
                    "client_order_id": cloid,
                    "kind": event.kind.value,
                    "status": order.status.value,
                    "venue_status": event.venue_status,
                    "reason": event.reason,
                    "fill_id": event.fill.fill_id if event.fill is not None else None,
                    "timestamp": event.timestamp,
                    "recorded_at": utcnow(),
                    "order": order_snapshot(order),
                    "fill": event.fill.model_dump(mode="json") if event.fill is not None else None,
                },
            )
            moved = conn.execute(
                UPDATE_ORDER,
                {"p_id": current["id"], "p_version": current["version"], "version": seq, **columns},
            )
            if moved.rowcount != 1:
                raise JournalError(f"order {cloid} was changed concurrently; event not recorded")

    # ---- fills, signals, snapshots --------------------------------------------------------------

    def record_fill(self, run_id: str, fill: Fill) -> bool:
        """Record an execution; False (and no change) when this venue's fill id is already in."""
        with self._write(f"journal fill {fill.fill_id} on {fill.venue}") as conn:
            return self._insert_fill(conn, run_id, self._scope(conn, run_id), fill)

    def _insert_fill(self, conn: Connection, run_id: str, scope: str, fill: Fill) -> bool:
        values = {"run_id": run_id, "scope": scope, "recorded_at": utcnow(), **fill_columns(fill)}
        return self._insert_ignore(conn, FILLS, values, FILL_KEY)

    def record_signal(
        self, run_id: str, signal: Signal, *, accepted: bool, reason: str | None = None
    ) -> None:
        """Record what a strategy asked for and whether it was acted on (``reason`` if not)."""
        with self._write(f"journal a signal of {signal.strategy}") as conn:
            self._scope(conn, run_id)
            strategy_id = self._strategy_id(conn, run_id, signal.strategy)
            conn.execute(
                INSERT_SIGNAL,
                {
                    "run_id": run_id,
                    "strategy_id": strategy_id,
                    "venue": signal.venue,
                    "symbol": signal.symbol,
                    "direction": signal.direction.value,
                    "confidence": signal.confidence,
                    "timestamp": signal.timestamp,
                    "source": signal.source,
                    "price": signal.price,
                    "reason": signal.reason,
                    "accepted": accepted,
                    "decision_reason": reason,
                },
            )
        self._strategies[(run_id, signal.strategy)] = strategy_id

    def record_account(self, run_id: str, account: AccountState) -> None:
        """A balance snapshot with its positions."""
        with self._write(f"journal the {account.venue} account snapshot") as conn:
            self._scope(conn, run_id)
            balance_id = conn.execute(
                insert(BALANCES)
                .values(
                    run_id=run_id,
                    venue=account.venue,
                    account=account.account,
                    timestamp=account.timestamp,
                    equity=account.equity,
                    collateral=account.collateral,
                    margin_used=account.margin_used,
                    maintenance_margin=account.maintenance_margin,
                    simulated=account.simulated,
                    assets=[b.model_dump(mode="json") for b in account.balances],
                )
                .returning(BALANCES.c.id)
            ).scalar_one()
            if account.positions:
                conn.execute(
                    insert(POSITIONS),
                    [
                        {
                            "run_id": run_id,
                            "balance_id": balance_id,
                            "timestamp": account.timestamp,
                            **p.model_dump(exclude={"account", "margin_mode"}),
                            "account": p.account or account.account,
                            "margin_mode": p.margin_mode.value,
                        }
                        for p in account.positions
                    ],
                )

    def record_funding(
        self,
        run_id: str,
        venue: str,
        symbol: str,
        ts: datetime,
        rate: Decimal,
        payment: Decimal,
        *,
        account: str = "main",
    ) -> None:
        """A funding settlement (``payment`` > 0 paid); one already recorded is left as is."""
        require_aware(ts, "funding time")
        with self._write(f"journal funding for {symbol} on {venue}") as conn:
            values = {
                "run_id": run_id,
                "scope": self._scope(conn, run_id),
                "venue": venue,
                "account": account,
                "symbol": symbol,
                "timestamp": ts,
                "rate": Decimal(rate),
                "payment": Decimal(payment),
            }
            self._insert_ignore(
                conn, FUNDING, values, ("scope", "venue", "account", "symbol", "timestamp")
            )

    # ---- risk and hedge groups ----------------------------------------------------------------

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
        data: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> int:
        """Record a risk event; with ``blocks_entries`` it blocks new entries on ``venue`` /
        ``symbol`` (None means all) until :meth:`resolve_risk_event`. Returns its id."""
        with self._write(f"journal risk event {kind!r}") as conn:
            self._scope(conn, run_id)
            event_id = conn.execute(
                insert(RISK)
                .values(
                    run_id=run_id,
                    kind=kind,
                    severity=severity,
                    message=message,
                    venue=venue,
                    symbol=symbol,
                    blocks_entries=blocks_entries,
                    data=clean_json(dict(data), where=f"risk event {kind}") if data else None,
                    created_at=require_aware(at, "risk event time") if at else utcnow(),
                )
                .returning(RISK.c.id)
            ).scalar_one()
        return int(event_id)

    def resolve_risk_event(self, event_id: int, note: str, *, at: datetime | None = None) -> None:
        """Mark a risk event resolved (lifting its block) with a note saying why."""
        when = require_aware(at, "resolution time") if at else utcnow()
        with self._write(f"resolve risk event {event_id}") as conn:
            resolved = conn.execute(
                select(RISK.c.resolved_at).where(RISK.c.id == event_id)
            ).one_or_none()
            if resolved is None:
                raise JournalError(f"risk event {event_id} is not in the journal")
            if resolved[0] is not None:
                raise JournalError(f"risk event {event_id} was already resolved at {resolved[0]}")
            conn.execute(
                update(RISK).where(RISK.c.id == event_id).values(resolved_at=when, resolution=note)
            )

    def record_group_event(
        self,
        run_id: str,
        group_id: str,
        step: str,
        data: Mapping[str, Any],
        *,
        at: datetime | None = None,
    ) -> None:
        """Append one main/hedge protocol step of a position group (numbered per group)."""
        when = require_aware(at, "group step time") if at else utcnow()
        stored = clean_json(dict(data), where=f"group {group_id} step {step}")
        with self._write(f"journal step {step!r} of group {group_id}") as conn:
            self._scope(conn, run_id)
            steps = conn.execute(
                select(GROUPS.c.steps).where(GROUPS.c.group_id == group_id).with_for_update()
            ).scalar_one_or_none()
            seq = 1 if steps is None else steps + 1
            if steps is None:
                conn.execute(
                    insert(GROUPS).values(
                        group_id=group_id,
                        run_id=run_id,
                        created_at=when,
                        updated_at=when,
                        last_step=step,
                        steps=seq,
                    )
                )
            else:
                conn.execute(
                    update(GROUPS)
                    .where(GROUPS.c.group_id == group_id)
                    .values(updated_at=when, last_step=step, steps=seq)
                )
            conn.execute(
                insert(GROUP_EVENTS).values(
                    group_id=group_id,
                    run_id=run_id,
                    seq=seq,
                    step=step,
                    data=stored,
                    timestamp=when,
                )
            )


def _check_step(cloid: str, current: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    for name in _IDENTITY:
        if current[name] != new[name]:
            raise JournalError(
                f"order {cloid}: {name} cannot change from {current[name]} to {new[name]}"
            )
    old_status, new_status = OrderStatus(current["status"]), OrderStatus(new["status"])
    if new_status != old_status and not can_transition(old_status, new_status):
        raise JournalError(f"order {cloid} cannot go from {old_status} to {new_status}")
    if new["filled_size"] < current["filled_size"]:
        raise JournalError(
            f"order {cloid}: filled size cannot shrink from {current['filled_size']} "
            f"to {new['filled_size']}"
        )
