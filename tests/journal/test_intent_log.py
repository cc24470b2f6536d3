"""The intent log of SQLite journals: an intent is durable in the log before ``record_intent``
returns, reaches the tables with the next write or read, and survives a crash in between."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal
from sparkstacker.journal.intent_log import FORGET_EVERY, IntentLog, log_path
from sparkstacker.model import Fill, Order

from tests.journal.test_durability import killed, run_child
from tests.journal.test_roundtrip_properties import SETTINGS, orders


def _count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(sql).fetchone()[0])


def _orders_in_tables(path: Path) -> int:
    return _count(path, "SELECT COUNT(*) FROM orders")


def _logged(path: Path) -> int:
    return _count(log_path(path), "SELECT COUNT(*) FROM intents")


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "journal.db"
    path.write_bytes(sqlite_template.read_bytes())
    return path


@pytest.fixture
def logged(db: Path) -> Iterator[Journal]:
    journal = Journal(f"sqlite:///{db}", intent_log=True)
    yield journal
    journal.close()


def test_an_intent_is_logged_first_and_reaches_the_tables_with_the_next_write(
    db: Path, logged: Journal, make_order: Callable[..., Order], make_fill: Callable[..., Fill]
) -> None:
    run_id = logged.start_run("paper", [], {})
    logged.record_intent(run_id, make_order("c1"), strategy="s")
    assert (_logged(db), _orders_in_tables(db)) == (1, 0)
    logged.record_fill(run_id, make_fill("f1"))
    assert _orders_in_tables(db) == 1
    stored = logged.order("c1")
    assert stored is not None
    assert stored.client_order_id == "c1"
    assert [e.kind.value for e in logged.order_events("c1")] == ["intent"]


def test_a_read_sees_a_logged_intent(logged: Journal, make_order: Callable[..., Order]) -> None:
    run_id = logged.start_run("paper", [], {})
    order = make_order("c2", annotations={"why": "breakout"})
    logged.record_intent(run_id, order, strategy="s", reason="signal")
    assert logged.order("c2") == order
    assert logged.unacknowledged_intents() == [order]


def test_a_reused_client_order_id_is_refused_before_anything_is_logged(
    db: Path, logged: Journal, make_order: Callable[..., Order]
) -> None:
    run_id = logged.start_run("paper", [], {})
    logged.record_intent(run_id, make_order("dup"), strategy="s")
    with pytest.raises(JournalError, match=f"already journaled \\(run {run_id}\\)"):
        logged.record_intent(run_id, make_order("dup"), strategy="s")  # still only logged
    assert logged.order("dup") is not None  # now in the tables
    with pytest.raises(JournalError, match="must never be reused"):
        logged.record_intent(run_id, make_order("dup"), strategy="s")
    assert _logged(db) <= 1
    assert _orders_in_tables(db) == 1


def test_a_crash_before_the_tables_got_the_intent_loses_nothing(
    db: Path, make_order: Callable[..., Order]
) -> None:
    order = make_order("crashed", leverage="3")
    killed(run_child(f"sqlite:///{db}", "logged_intent", order))
    # The process died with the intent in the log only.
    assert (_logged(db), _orders_in_tables(db)) == (1, 0)
    with Journal(f"sqlite:///{db}") as reopened:  # any journal puts it back, logging or not
        assert reopened.unacknowledged_intents() == [order]
        assert reopened.order_events("crashed")[0].reason == "test"
    assert (_logged(db), _orders_in_tables(db)) == (1, 1)  # the newest entry stays (ids)
    with Journal(f"sqlite:///{db}", intent_log=True) as again:  # putting back twice: no-op
        assert again.unacknowledged_intents() == [order]
    assert _orders_in_tables(db) == 1


def test_a_run_that_finds_its_intents_already_put_back_does_not_fail(
    db: Path, logged: Journal, make_order: Callable[..., Order], make_fill: Callable[..., Fill]
) -> None:
    """Another process (``spark-stacker orders``) opened the journal while this run's intent
    was only logged, and put it back first: the run's own write must skip it, not fail."""
    run_id = logged.start_run("paper", [], {})
    logged.record_intent(run_id, make_order("shared"), strategy="s")
    with Journal(f"sqlite:///{db}") as reader:
        assert reader.order("shared") is not None
    logged.record_fill(run_id, make_fill("f1", client_order_id="shared"))
    assert _orders_in_tables(db) == 1
    assert [f.fill_id for f in logged.fills(run_id=run_id)] == ["f1"]


def test_the_log_is_trimmed_once_its_intents_are_in_the_tables(
    db: Path, logged: Journal, make_order: Callable[..., Order]
) -> None:
    run_id = logged.start_run("paper", [], {})
    for number in range(FORGET_EVERY + 10):
        logged.record_intent(run_id, make_order(f"t{number}"), strategy="s")
        with logged.batch():
            pass  # the runtime's end-of-bar transaction
    assert _orders_in_tables(db) == FORGET_EVERY + 10
    assert _logged(db) <= 11
    logged.close()
    assert _logged(db) == 1  # the newest entry stays (ids never repeat)


def test_a_journal_without_the_log_and_a_memory_journal_write_intents_directly(
    db: Path, make_order: Callable[..., Order]
) -> None:
    with Journal(f"sqlite:///{db}") as plain:
        run_id = plain.start_run("paper", [], {})
        plain.record_intent(run_id, make_order("direct"), strategy="s")
        assert _orders_in_tables(db) == 1
    assert not log_path(db).exists()
    with Journal("sqlite://", intent_log=True) as memory:
        run_id = memory.start_run("paper", [], {})
        memory.record_intent(run_id, make_order("m"), strategy="s")
        assert memory.order("m") is not None


@SETTINGS
@given(order=orders())
def test_any_order_round_trips_through_the_log(
    tmp_path: Path, sqlite_template: Path, order: Order
) -> None:
    journal_file = tmp_path / f"{order.client_order_id}.db"
    journal_file.write_bytes(sqlite_template.read_bytes())
    log = IntentLog(log_path(journal_file), journal_file)
    try:
        at = datetime(2025, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
        log_id = log.append("run", "paper", order, order.strategy or "", "why", at)
        assert log_id is not None
        (entry,) = log.entries()
        assert (entry.order, entry.recorded_at, entry.reason) == (order, at, "why")
    finally:
        log.close()


def test_two_runs_sharing_a_journal_never_drop_each_others_unwritten_intents(
    db: Path, make_order: Callable[..., Order]
) -> None:
    first = Journal(f"sqlite:///{db}", intent_log=True)
    second = Journal(f"sqlite:///{db}", intent_log=True)
    try:
        run_a = first.start_run("paper", [], {})
        run_b = second.start_run("live", [], {})
        first.record_intent(run_a, make_order("a-only-logged"), strategy="a")
        for number in range(FORGET_EVERY + 5):  # the second run writes and trims its own
            second.record_intent(run_b, make_order(f"b{number}"), strategy="b")
            with second.batch():
                pass
        assert first._intent_log is not None
        writer = first._intent_log.writer
        still = _count(log_path(db), f"SELECT COUNT(*) FROM intents WHERE writer = '{writer}'")
        assert still == 1
        assert _logged(db) < FORGET_EVERY  # the second run's entries did go
    finally:
        second.close()
        first._intent_log.close()  # type: ignore[union-attr]  # dies: nothing written
        first._intent_log = None
        first._pending.clear()
        first.close()
    with Journal(f"sqlite:///{db}") as reopened:
        assert reopened.order("a-only-logged") is not None
