"""Engines for the journal: SQLite (WAL) or PostgreSQL (psycopg2), and their durability settings.

``durability="full"`` (paper and live): SQLite ``synchronous=FULL`` — every commit is fsynced,
so a committed intent survives a process kill *and* a power cut; PostgreSQL
``synchronous_commit=on``.

``durability="fast"`` (backtests): SQLite ``synchronous=NORMAL`` — in WAL mode that still never
corrupts the file and survives a process kill; only the last commits before an OS crash or power
cut may be lost, which a backtest can simply re-run. PostgreSQL ``synchronous_commit=off`` has
the same contract (at most a few hundred milliseconds of commits lost on a server crash).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from sparkstacker.errors import ConfigError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

Durability = Literal["full", "fast"]
WRITE_OPTION = "journal_write"
_SQLITE_SYNC = {"full": "FULL", "fast": "NORMAL"}
_PG_SYNC = {"full": "on", "fast": "off"}
BUSY_TIMEOUT_S = 30.0
SQLITE_PAGE_SIZE = 2048


def parse_url(url: str | URL) -> URL:
    """Validate a journal URL: ``sqlite:///file.db`` or ``postgresql://…`` (psycopg2)."""
    text = str(url) if isinstance(url, URL) else url
    if isinstance(text, str) and text.startswith("postgres://"):
        text = "postgresql://" + text.removeprefix("postgres://")
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise ConfigError(
            f"journal URL {text!r} is not a database URL; use sqlite:///path.db or postgresql://…"
        ) from exc
    # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; the journal's driver is psycopg2.
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite" and driver == "pysqlite":
        return parsed
    if backend == "postgresql" and driver == "psycopg2":
        return parsed
    raise ConfigError(
        f"journal URL {parsed.render_as_string(hide_password=True)!r} uses {backend}+{driver}; "
        "the journal supports sqlite:///path.db and postgresql://… (psycopg2)"
    )


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    if url.get_backend_name() != "sqlite" or is_memory(url):
        return None
    return Path(str(url.database))


def make_engine(url: URL, durability: Durability) -> Engine:
    """An engine with the journal's connection settings (WAL, foreign keys, durability)."""
    if durability not in _SQLITE_SYNC:
        raise ConfigError(f"journal durability {durability!r} must be 'full' or 'fast'")
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, durability)
    return _postgres_engine(url, durability)


def _sqlite_engine(url: URL, durability: Durability) -> Engine:
    memory = is_memory(url)
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    }
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        # Reuse the most recently returned connection: SQLite keeps a page cache per
        # connection and drops it when another connection wrote, so round-robin pooling made
        # every order intent start by re-reading the index pages it needs.
        kwargs["pool_use_lifo"] = True
        path = sqlite_path(url)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    sync = _SQLITE_SYNC[durability]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN is ours (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                # Only a new, empty file takes it (existing journals keep theirs). A commit
                # writes each page it touches to the log; an order intent touches about 15
                # (3 rows, their indexes), so smaller pages make its fsync lighter (p99 of a
                # bare intent commit: ~490 µs with 4 KiB pages, ~390 µs with 2 KiB here).
                cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
                _enable_wal(cursor)
                # No checkpoint inside a commit: the journal runs them itself, never from the
                # write-ahead intent on the request path (see JournalCore.CHECKPOINT_EVERY).
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={sync}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and then
        # writes can fail with SQLITE_BUSY_SNAPSHOT under a concurrent writer, and the busy
        # timeout does not apply to that. Readers stay deferred and never block the writer.
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (a no-op once it is). The switch needs the file to itself, and
    SQLite answers "database is locked" at once — without its busy handler — while another
    connection opens, migrates or closes a new file, so wait for it here, up to the busy timeout.
    """
    import sqlite3

    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.001
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _postgres_engine(url: URL, durability: Durability) -> Engine:
    # Paper/live runs last for days: check each pooled connection before use so a restarted
    # server costs a reconnect, not a failed write. Backtests skip that round trip.
    engine = create_engine(url, pool_pre_ping=durability == "full")
    sync = _PG_SYNC[durability]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET synchronous_commit TO {sync}")
            cursor.execute("SET TIME ZONE 'UTC'")
        finally:
            cursor.close()
        dbapi_connection.commit()

    return engine
