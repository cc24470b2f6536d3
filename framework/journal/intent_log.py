"""The order-intent log of a SQLite journal: the write-ahead record an order request waits for.

Committing an intent straight into the journal's tables writes about fifteen pages (three
rows and their indexes) before the fsync; this log is a small side database with one table and
no index, so the commit an order waits for writes one or two pages. The journal's tables get
the intent with its next write (in a paper or live run: the transaction that follows the bar's
requests). Opening the journal puts back any logged intent its tables lack (the process died
between the two) and then forgets the log's entries; an entry is forgotten only once its rows
are committed, and putting one back twice is harmless (it is skipped when already there).

The file sits next to the journal: ``spark_stacker.db`` → ``spark_stacker.db-intents``.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sparkstacker.errors import JournalError
from sparkstacker.model import Order

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY,
    writer TEXT NOT NULL,
    run_id TEXT NOT NULL,
    strategy TEXT NOT NULL,
    reason TEXT,
    recorded_at TEXT NOT NULL,
    order_json TEXT NOT NULL
)
"""
#: Entries are deleted in bulk once this many are committed to the journal's tables (a delete
#: is a commit of its own: one per bar would double the run's fsyncs for nothing).
FORGET_EVERY = 256


def log_path(database: Path) -> Path:
    return database.with_name(database.name + "-intents")


@dataclass(frozen=True, slots=True)
class LoggedIntent:
    log_id: int
    run_id: str
    strategy: str
    reason: str | None
    recorded_at: datetime
    order: Order


class IntentLog:
    """Append (fsynced), list, forget. Several journals (two runs sharing one database) may
    log at once: each forgets only its own entries, so none drops another's unwritten one."""

    def __init__(self, path: Path, journal: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self.writer = uuid.uuid4().hex
        self._forgettable = 0  # highest id whose rows the journal's tables hold
        self._forgotten = 0
        try:
            self._db = sqlite3.connect(
                path,
                isolation_level=None,
                timeout=busy_timeout_s,
                check_same_thread=False,
                uri=True,
            )
            self._db.execute("PRAGMA page_size=1024")  # a new file only: one page per intent
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints only when forgetting
            self._db.execute(_SCHEMA)
            # The journal itself, read-only: an append checks the client order id is new
            # in the same statement (no second connection on the request path).
            self._db.execute(
                "ATTACH DATABASE ? AS journal", (journal.resolve().as_uri() + "?mode=ro",)
            )
        except sqlite3.Error as exc:
            raise JournalError(f"could not open the intent log {path}: {exc}") from exc

    def append(
        self,
        run_id: str,
        scope: str,
        order: Order,
        strategy: str,
        reason: str | None,
        recorded_at: datetime,
    ) -> int | None:
        """Commit (with an fsync) one intent and return its log id — or None, logging
        nothing, when the journal's orders already hold its client order id in ``scope``."""
        try:
            cursor = self._db.execute(
                "INSERT INTO intents (writer, run_id, strategy, reason, recorded_at, order_json) "
                "SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM journal.orders "
                "WHERE scope = ? AND client_order_id = ?)",
                (
                    self.writer,
                    run_id,
                    strategy,
                    reason,
                    recorded_at.isoformat(),
                    order.model_dump_json(),
                    scope,
                    order.client_order_id,
                ),
            )
        except sqlite3.Error as exc:
            raise JournalError(
                f"could not log the intent of order {order.client_order_id}: {exc}"
            ) from exc
        return int(cursor.lastrowid or 0) if cursor.rowcount == 1 else None

    def entries(self) -> list[LoggedIntent]:
        """Every intent not yet forgotten, oldest first."""
        try:
            rows = self._db.execute(
                "SELECT id, run_id, strategy, reason, recorded_at, order_json FROM intents "
                "WHERE id > ? ORDER BY id",
                (self._forgotten,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"could not read the intent log {self.path}: {exc}") from exc
        return [
            LoggedIntent(
                log_id=row[0],
                run_id=row[1],
                strategy=row[2],
                reason=row[3],
                recorded_at=datetime.fromisoformat(row[4]).astimezone(UTC),
                order=Order.model_validate_json(row[5]),
            )
            for row in rows
        ]

    def forget(self, up_to: int, *, now: bool = False, everyone: bool = False) -> None:
        """The journal's tables hold every intent this log wrote up to ``up_to`` (committed):
        they may go. ``everyone``: every writer's entries up to ``up_to`` (after putting them
        back at open)."""
        self._forgettable = max(self._forgettable, up_to)
        if not now and self._forgettable - self._forgotten < FORGET_EVERY:
            return
        if self._forgettable <= self._forgotten:
            return
        # The newest forgotten row stays: SQLite numbers a new row after the largest id in
        # the table, so ids never repeat (AUTOINCREMENT would write one more page per intent).
        # Putting it back later is harmless: its order is in the tables.
        params: tuple[object, ...]
        if everyone:
            where, params = "id < ?", (self._forgettable,)
        else:
            where, params = "writer = ? AND id < ?", (self.writer, self._forgettable)
        try:
            self._db.execute(f"DELETE FROM intents WHERE {where}", params)
            self._db.execute("PRAGMA main.wal_checkpoint(PASSIVE)")  # not the journal's
        except sqlite3.Error as exc:
            raise JournalError(f"could not trim the intent log {self.path}: {exc}") from exc
        self._forgotten = self._forgettable

    def close(self) -> None:
        """Trim what is written (best effort: what stays is put back harmlessly) and close."""
        try:
            if self._forgettable > self._forgotten:
                self.forget(self._forgettable, now=True)
        except JournalError as exc:
            log.warning("%s (its entries are put back harmlessly at the next open)", exc)
        finally:
            self._db.close()
