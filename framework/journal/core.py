"""What every journal operation shares: the engines, transactions, error wrapping, run scopes."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self

from alembic.util.exc import CommandError
from sparkstacker.errors import JournalError
from sparkstacker.journal.database import (
    BUSY_TIMEOUT_S,
    WRITE_OPTION,
    Durability,
    is_memory,
    make_engine,
    parse_url,
    sqlite_path,
)
from sparkstacker.journal.intent_log import IntentLog, log_path
from sparkstacker.journal.migrate import upgrade
from sparkstacker.journal.records import RUN_MODES
from sparkstacker.journal.schema import TABLES
from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


def describe(exc: Exception) -> str:
    """The database's own words, without the statement's parameters (they may hold data)."""
    original = getattr(exc, "orig", None)
    return str(original if original is not None else exc).strip().splitlines()[0]


class JournalCore:
    """Engines and transactions. Writes run on a connection that takes the write lock first."""

    #: A SQLite file journal copies its write-ahead log into the database (a checkpoint, with
    #: its own fsync) after this many commits. SQLite's automatic checkpoint would run inside
    #: whichever commit crossed its threshold — one order intent in ~100 paid it, the p99 of
    #: the request path — so it is off, and only commits off that path (``urgent=False``) run it.
    CHECKPOINT_EVERY = 100

    def __init__(
        self, url: str | URL, *, durability: Durability = "full", intent_log: bool = False
    ) -> None:
        self.url = parse_url(url)
        self.durability: Durability = durability
        self._engine: Engine = make_engine(self.url, durability)
        self._writer: Engine = self._engine.execution_options(**{WRITE_OPTION: True})
        self._scopes: dict[str, str] = {}
        self._sqlite = self.url.get_backend_name() == "sqlite"
        self._checkpoints = self._sqlite and not is_memory(self.url)
        self._commits_since_checkpoint = 0
        self._strategies: dict[tuple[str, str], int] = {}
        self._batch: Connection | None = None
        try:
            upgrade(self._engine)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise JournalError(
                f"could not open the journal at {self.display_url}: {describe(exc)}"
            ) from exc
        except CommandError as exc:
            self._engine.dispose()
            raise JournalError(
                f"could not migrate the journal at {self.display_url}: {exc} "
                "(was it written by a newer spark-stacker?)"
            ) from exc
        # ``intent_log``: order intents are committed to a side log (one page, one fsync) and
        # reach the tables with the next write. Only where it pays: a SQLite file that fsyncs.
        self._intent_log: IntentLog | None = None
        path = sqlite_path(self.url)
        # A journal opened without it still puts back what a crashed run left in the log.
        wanted = intent_log and durability == "full"
        if path is not None and (wanted or log_path(path).exists()):
            self._intent_log = IntentLog(log_path(path), path, busy_timeout_s=BUSY_TIMEOUT_S)
            try:
                self._replay_intent_log()
            except BaseException:
                self.close()
                raise
            if not wanted:
                self._intent_log.close()
                self._intent_log = None

    def _replay_intent_log(self) -> None:
        """Put the logged intents the tables lack back into them (after a crash)."""

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def close(self) -> None:
        """Write what is pending, release every connection; the journal cannot be used
        afterwards. (Intents that could not be written stay in the intent log.)"""
        try:
            if self._intent_log is not None:
                self._write_pending("write the logged order intents before closing")
        finally:
            if self._intent_log is not None:
                self._intent_log.close()
                self._intent_log = None
            self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({self.display_url!r}, durability={self.durability!r})"

    # ---- transactions ---------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the writes of the block into one transaction: one commit (one fsync) instead
        of one per write. Each write still succeeds or fails alone (a savepoint each); what
        succeeded is committed when the block ends, even if the block raised. An order intent
        inside the block first commits what came before it, then commits on its own, so the
        write-ahead rule holds. Re-entrant: an inner block joins the outer one."""
        if self._batch is not None:
            yield
            return
        what = "commit the journal's batched writes"
        try:
            connection = self._writer.connect()
        except SQLAlchemyError as exc:
            raise JournalError(f"could not {what}: {describe(exc)}") from exc
        self._batch = connection
        committed = False
        try:
            yield
        finally:
            self._batch = None
            try:
                try:
                    if self._has_pending():
                        with connection.begin_nested():
                            self._flush_pending(connection)
                    if connection.in_transaction():
                        connection.commit()
                        self._committed(urgent=False)
                    committed = True
                finally:
                    self._pending_committed(committed)
                    connection.close()
            except SQLAlchemyError as exc:
                raise JournalError(f"could not {what}: {describe(exc)}") from exc

    @contextmanager
    def _write(self, what: str, *, urgent: bool = False) -> Iterator[Connection]:
        """One committed transaction; any database error becomes a :class:`JournalError`.

        ``urgent``: something waits for this commit (an order request): never checkpoint here.
        Inside :meth:`batch` it is a savepoint of the batch's transaction instead (an urgent
        write first commits the batch so far)."""
        batch = self._batch
        if batch is not None:
            try:
                if urgent:
                    self._commit_batch()
                if self._has_pending():
                    with batch.begin_nested():  # a savepoint of their own
                        self._flush_pending(batch)
                with batch.begin_nested():
                    yield batch
            except SQLAlchemyError as exc:
                raise JournalError(f"could not {what}: {describe(exc)}") from exc
            return
        self._write_pending(what, urgent=urgent)
        try:
            with self._writer.begin() as connection:
                yield connection
            self._committed(urgent)
        except SQLAlchemyError as exc:
            raise JournalError(f"could not {what}: {describe(exc)}") from exc

    def _write_pending(self, what: str, *, urgent: bool = False) -> None:
        """Commit the logged intents still missing from the tables (outside a batch)."""
        if not self._has_pending():
            return
        flushed = False
        try:
            with self._writer.begin() as connection:
                self._flush_pending(connection)
            flushed = True
        except SQLAlchemyError as exc:
            raise JournalError(f"could not {what}: {describe(exc)}") from exc
        finally:
            self._pending_committed(flushed)
        self._committed(urgent)

    # Order intents logged (see ``intent_log``) but not yet in the tables: ``JournalWrites``
    # keeps them and writes them before any other write or read.
    def _has_pending(self) -> bool:
        return False

    def _flush_pending(self, connection: Connection) -> None:
        """Write the logged intents into the tables, inside ``connection``'s transaction; they
        count as written only if every insert succeeded (else they all stay pending)."""

    def _pending_committed(self, committed: bool) -> None:
        """The transaction holding the written intents committed, or failed (pending again)."""

    def _commit_batch(self) -> None:
        """Commit the open batch's writes so far (before an intent must be durable alone)."""
        if self._batch is not None and self._batch.in_transaction():
            self._batch.commit()
            self._pending_committed(True)
            self._committed(urgent=True)

    def _committed(self, urgent: bool) -> None:
        if self._checkpoints:
            self._commits_since_checkpoint += 1
            if not urgent and self._commits_since_checkpoint >= self.CHECKPOINT_EVERY:
                self.checkpoint()

    @contextmanager
    def _raw_write(self, what: str) -> Iterator[Any]:
        """One committed transaction on a DBAPI cursor, for :class:`PreparedInsert` statements
        on the request path (never checkpoints). Errors become a :class:`JournalError` whose
        cause is the driver's exception."""
        dbapi = self._engine.dialect.loaded_dbapi
        try:
            self._commit_batch()
            connection = self._writer.raw_connection()
        except SQLAlchemyError as exc:
            raise JournalError(f"could not {what}: {describe(exc)}") from exc
        try:
            cursor = connection.cursor()
            try:
                if self._sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                cursor.close()
        except dbapi.Error as exc:
            raise JournalError(f"could not {what}: {describe(exc)}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalError(f"could not {what}: {exc}") from exc
        finally:
            connection.close()
        self._committed(urgent=True)

    def _integrity_errors(self) -> tuple[type[Exception], ...]:
        """A broken constraint, as SQLAlchemy or (on the prepared path) the driver reports it."""
        return (IntegrityError, self._engine.dialect.loaded_dbapi.IntegrityError)

    def checkpoint(self) -> None:
        """Copy committed pages from SQLite's write-ahead log into the database file, without
        waiting for readers (PASSIVE); a no-op for PostgreSQL and in-memory journals."""
        if not self._checkpoints:
            return
        with self._engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        self._commits_since_checkpoint = 0

    @contextmanager
    def _read(self, what: str) -> Iterator[Session]:
        if self._batch is None:
            self._write_pending(f"{what} (write the logged order intents first)")
        try:
            with Session(self._engine, expire_on_commit=False) as session:
                yield session
        except SQLAlchemyError as exc:
            raise JournalError(f"could not {what}: {describe(exc)}") from exc

    def _insert_ignore(
        self,
        connection: Connection,
        table: Table,
        values: dict[str, Any],
        conflict: Sequence[str],
    ) -> bool:
        """Insert unless a row with the same ``conflict`` columns exists; True when inserted."""
        statement = _insert_ignore_statement(self.dialect, table.name, tuple(conflict))
        return connection.execute(statement, values).rowcount == 1

    # ---- runs -----------------------------------------------------------------------------------

    def _scope(self, connection: Connection, run_id: str) -> str:
        """The id namespace of a run: its own id for a backtest, else ``paper`` / ``live``."""
        scope = self._scopes.get(run_id)
        if scope is None:
            mode = connection.execute(
                select(TABLES["runs"].c.mode).where(TABLES["runs"].c.id == run_id)
            ).scalar_one_or_none()
            if mode is None:
                raise JournalError(f"run {run_id!r} is not in the journal; call start_run first")
            scope = scope_of(run_id, mode)
            self._scopes[run_id] = scope
        return scope

    def _mode_filter(self, mode: str | None) -> tuple[str, ...]:
        if mode is None:
            return ("paper", "live")
        if mode not in RUN_MODES:
            raise JournalError(f"mode {mode!r} is not one of {', '.join(RUN_MODES)}")
        return (mode,)


@functools.cache
def _insert_ignore_statement(dialect: str, table: str, conflict: tuple[str, ...]) -> Insert:
    """Built once per table: executing a prebuilt statement skips SQLAlchemy's per-call work."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(TABLES[table]).on_conflict_do_nothing(index_elements=conflict)


def scope_of(run_id: str, mode: str) -> str:
    return run_id if mode == "backtest" else mode
