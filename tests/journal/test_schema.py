"""Schema: Alembic builds exactly the ORM schema; connection settings; database-level guards."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sparkstacker.errors import ConfigError, JournalError
from sparkstacker.journal import Journal
from sparkstacker.journal.database import SQLITE_PAGE_SIZE, parse_url
from sparkstacker.journal.migrate import current_revision, head_revision
from sparkstacker.journal.schema import Base
from sparkstacker.model import Fill, Order


def _diff(journal: Journal) -> list[object]:
    with journal.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_migrated_schema_matches_the_orm_metadata(empty_journal_url: str) -> None:
    journal = Journal(empty_journal_url)
    assert _diff(journal) == []
    # The comparison is not blind: a missing index shows up.
    with journal.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_fills_client_order_id"))
    assert any(d[0] == "add_index" for d in _diff(journal))  # type: ignore[index]
    journal.close()


def test_every_orm_table_exists_after_migration(journal: Journal) -> None:
    names = set(sa.inspect(journal.engine).get_table_names())
    assert set(Base.metadata.tables) <= names
    assert "alembic_version" in names


def test_first_open_migrates_and_reopening_keeps_data(empty_journal_url: str) -> None:
    with Journal(empty_journal_url) as first:
        run_id = first.start_run("backtest", [], {})
    with Journal(empty_journal_url) as second:
        assert second.run(run_id) is not None
        with second.engine.connect() as conn:
            assert current_revision(conn) == head_revision() == "0001"


def test_a_schema_from_a_newer_version_is_a_clear_error(journal_url: str) -> None:
    with Journal(journal_url) as journal, journal.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(JournalError, match="newer spark-stacker"):
        Journal(journal_url)


def test_concurrent_first_opens_all_succeed(empty_journal_url: str) -> None:
    """Two processes' worth of openers racing on an empty database: the migration runs once."""
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Journal(empty_journal_url).close()
        except BaseException as exc:  # noqa: BLE001 - handed to the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with Journal(empty_journal_url) as journal, journal.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


@pytest.mark.parametrize(("durability", "expected"), [("full", 2), ("fast", 1)])
def test_sqlite_runs_in_wal_with_foreign_keys_and_chosen_sync(
    tmp_path: Path, durability: str, expected: int
) -> None:
    journal = Journal(f"sqlite:///{tmp_path / 'j.db'}", durability=durability)  # type: ignore[arg-type]
    with journal, journal.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # 2 = FULL (fsync every commit), 1 = NORMAL (WAL: safe against process crashes)
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == expected


@pytest.mark.postgres
@pytest.mark.parametrize(("durability", "expected"), [("full", "on"), ("fast", "off")])
def test_postgres_synchronous_commit_follows_durability(
    pg_url: str, durability: str, expected: str
) -> None:
    journal = Journal(pg_url, durability=durability)  # type: ignore[arg-type]
    with journal, journal.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == expected


def test_a_new_sqlite_journal_uses_small_pages_and_an_old_one_keeps_its_own(
    tmp_path: Path, make_order: Callable[..., Order]
) -> None:
    with Journal(f"sqlite:///{tmp_path / 'new.db'}") as new, new.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == SQLITE_PAGE_SIZE
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as made_earlier:
        made_earlier.execute("PRAGMA page_size=4096")
        made_earlier.execute("PRAGMA journal_mode=WAL")
    with Journal(f"sqlite:///{old}") as journal:
        run_id = journal.start_run("paper", [], {})
        journal.record_intent(run_id, make_order("kept"), strategy="s")
        with journal.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert journal.order("kept") is not None


def test_sqlite_writes_reuse_one_connection(
    tmp_path: Path, make_order: Callable[..., Order], make_fill: Callable[..., Fill]
) -> None:
    """SQLite drops a connection's page cache when another connection wrote: once the pool
    holds two connections (a reader overlapped a writer), writes must not rotate between them."""
    journal = Journal(f"sqlite:///{tmp_path / 'j.db'}")
    with journal:
        run_id = journal.start_run("paper", [], {})
        with journal.engine.connect() as first, journal.engine.connect() as second:
            assert first.connection.dbapi_connection is not second.connection.dbapi_connection
        served: list[int] = []
        sa.event.listen(
            journal.engine, "checkout", lambda dbapi, _record, _proxy: served.append(id(dbapi))
        )
        for number in range(5):
            journal.record_intent(run_id, make_order(f"c{number}"), strategy="s")
            with journal.batch():
                journal.record_fill(run_id, make_fill(f"f{number}", client_order_id=None))
        assert len(served) >= 10
        assert len(set(served)) == 1


def test_sqlite_creates_the_parent_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "journal.db"
    Journal(f"sqlite:///{path}").close()
    assert path.is_file()


def test_in_memory_sqlite_works_for_quick_use(make_order: Callable[..., Order]) -> None:
    with Journal("sqlite://") as journal:
        run_id = journal.start_run("backtest", [], {})
        journal.record_intent(run_id, make_order(), strategy="s", reason=None)
        assert journal.order("c1") == make_order()


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/db", "not a url", "postgresql+asyncpg://u@h/db"]
)
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="journal"):
        Journal(url)


def test_postgres_urls_use_psycopg2() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg2"
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg2"


def test_bad_durability_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="durability"):
        Journal(f"sqlite:///{tmp_path / 'j.db'}", durability="maybe")  # type: ignore[arg-type]


def test_unreachable_database_is_a_journal_error() -> None:
    with pytest.raises(JournalError, match="could not open the journal"):
        Journal("postgresql://nobody@127.0.0.1:1/none")


def test_foreign_keys_are_enforced(journal: Journal) -> None:
    with pytest.raises(sa.exc.IntegrityError), journal.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO strategies (run_id, name, created_at) "
                "VALUES ('no-such-run', 's', CURRENT_TIMESTAMP)"
            )
        )


def test_orders_row_cannot_change_without_an_event(
    journal: Journal, run_id: str, make_order: Callable[..., Order]
) -> None:
    journal.record_intent(run_id, make_order(), strategy="s", reason=None)
    guard = pytest.raises(sa.exc.DBAPIError, match="without a matching order_events row")
    with guard, journal.engine.begin() as conn:
        conn.execute(sa.text("UPDATE orders SET status = 'filled'"))
    # Bumping the version alone does not help either: the event row must exist.
    guard = pytest.raises(sa.exc.DBAPIError, match="without a matching order_events row")
    with guard, journal.engine.begin() as conn:
        conn.execute(sa.text("UPDATE orders SET status = 'filled', version = version + 1"))
    assert journal.order("c1") == make_order()


@pytest.mark.parametrize("table", ["order_events", "fills"])
def test_events_and_fills_are_append_only(
    journal: Journal,
    run_id: str,
    make_order: Callable[..., Order],
    make_fill: Callable[..., object],
    table: str,
) -> None:
    journal.record_intent(run_id, make_order(), strategy="s", reason=None)
    journal.record_fill(run_id, make_fill())  # type: ignore[arg-type]
    column = "kind" if table == "order_events" else "fill_id"
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), journal.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET {column} = 'changed'"))


def test_many_openers_of_new_sqlite_files_never_see_database_is_locked(tmp_path: Path) -> None:
    """Switching a new file to WAL needs it to itself, and SQLite refuses at once ("database is
    locked", no busy handler) while another connection opens, migrates or closes it: before the
    journal waited for that, about one round in twenty of six openers failed."""
    failures: list[BaseException] = []

    def open_it(url: str) -> None:
        try:
            Journal(url).close()
        except BaseException as exc:  # noqa: BLE001 - handed to the assertion below
            failures.append(exc)

    for round_number in range(20):
        url = f"sqlite:///{tmp_path / f'new-{round_number}.db'}"
        threads = [threading.Thread(target=open_it, args=(url,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert failures == []
