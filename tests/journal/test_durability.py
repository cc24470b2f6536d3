"""Durability: a process killed by SIGKILL leaves exactly what it committed; readers never block.

Each crash test starts a real child process (``crash_child.py``) that journals with the real
database and kills itself with SIGKILL — no cleanup code runs — then reopens the journal here.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sparkstacker.journal import Journal
from sparkstacker.model import Order, OrderEventKind, OrderStatus
from sqlalchemy import text

CHILD = Path(__file__).with_name("crash_child.py")


def run_child(
    url: str, scenario: str, order: Order, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHILD), url, scenario, order.model_dump_json(), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def killed(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == -signal.SIGKILL, result.stderr


@pytest.mark.parametrize("scenario", ["intent", "logged_intent"])
def test_intent_survives_sigkill_right_after_record_intent(
    journal_url: str, make_order: Callable[..., Order], scenario: str
) -> None:
    """``logged_intent``: the intent was only in the intent log (the tables get it with the
    next write, which never came); opening the journal puts it back."""
    order = make_order("crash-1", leverage="3", annotations={"why": "breakout"})
    killed(run_child(journal_url, scenario, order))

    with Journal(journal_url) as journal:
        pending = journal.unacknowledged_intents()
        assert pending == [order]
        assert journal.unacknowledged_intents(venue="other") == []
        events = journal.order_events("crash-1")
        assert [e.kind for e in events] == [OrderEventKind.INTENT]
        assert events[0].reason == "test"


def test_submitted_but_unanswered_order_is_still_unacknowledged(
    journal_url: str, make_order: Callable[..., Order]
) -> None:
    killed(run_child(journal_url, "submitted", make_order("crash-2")))

    with Journal(journal_url) as journal:
        [pending] = journal.unacknowledged_intents(venue="sim")
        assert pending.client_order_id == "crash-2"
        assert pending.status is OrderStatus.SUBMITTED


def test_acknowledged_order_is_no_longer_unacknowledged(
    journal_url: str, make_order: Callable[..., Order]
) -> None:
    killed(run_child(journal_url, "accepted", make_order("crash-3")))

    with Journal(journal_url) as journal:
        assert journal.unacknowledged_intents() == []
        [open_order] = journal.orders(open_only=True)
        assert open_order.status is OrderStatus.ACCEPTED
        assert open_order.venue_order_id == "v-1"
        assert journal.order_events("crash-3")[-1].venue_status == "resting"


def test_kill_inside_an_event_transaction_leaves_no_half_written_step(
    journal_url: str, make_order: Callable[..., Order]
) -> None:
    """Killed after the event row and the order update ran but before COMMIT: neither stays."""
    order = make_order("crash-4")
    killed(run_child(journal_url, "mid_event", order))

    with Journal(journal_url) as journal:
        assert journal.order("crash-4") == order  # still exactly the intent
        assert [e.kind for e in journal.order_events("crash-4")] == [OrderEventKind.INTENT]
        assert journal.unacknowledged_intents() == [order]
        # The database is usable for writing again (no stale lock left by the dead writer).
        run_id = journal.start_run("live", [], {})
        journal.record_intent(run_id, make_order("after-crash"), strategy="s", reason=None)
        assert journal.order("after-crash") is not None


def _consistent_snapshot(journal: Journal) -> tuple[int, int]:
    """One statement (one snapshot): (orders, orders whose version == its number of events)."""
    with journal.engine.connect() as conn:
        total, matching = conn.execute(
            text(
                "SELECT count(*), coalesce(sum(CASE WHEN o.version = "
                "(SELECT count(*) FROM order_events e WHERE e.order_id = o.id) "
                "THEN 1 ELSE 0 END), 0) FROM orders o"
            )
        ).one()
    return int(total), int(matching)


@pytest.mark.slow
def test_reader_sees_consistent_snapshots_while_a_writer_writes(
    journal_url: str, make_order: Callable[..., Order]
) -> None:
    count = 20
    Journal(journal_url).close()  # migrate first, so the reader below never sees a bare file
    writer = subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            journal_url,
            "writer",
            make_order().model_dump_json(),
            str(count),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[int] = []
    with Journal(journal_url) as journal:
        deadline = time.monotonic() + 120
        while writer.poll() is None and time.monotonic() < deadline:
            total, matching = _consistent_snapshot(journal)
            assert matching == total  # never a half-applied step, never a lock error
            seen.append(total)
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr
        assert seen == sorted(seen)  # the reader moves forward with the writer
        assert len(set(seen)) > 1, "the reader never overlapped the writer"
        assert _consistent_snapshot(journal) == (count, count)
        assert all(o.status is OrderStatus.FILLED for o in journal.orders())
        assert len(journal.fills()) == count


def test_wal_checkpoints_run_off_the_request_path(
    tmp_path: Path, make_order: Callable[..., Order]
) -> None:
    """SQLite never checkpoints inside a commit (autocheckpoint off); the journal checkpoints
    every CHECKPOINT_EVERY commits, but never from an order intent, which a request waits on."""
    from sparkstacker.model import OrderEvent
    from sqlalchemy import event

    journal = Journal(f"sqlite:///{tmp_path / 'j.db'}", durability="fast")
    checkpoints: list[str] = []
    current: list[str] = [""]

    def spy(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "wal_checkpoint" in statement:
            checkpoints.append(current[0])

    event.listen(journal.engine, "before_cursor_execute", spy)
    try:
        with journal.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        run_id = journal.start_run("paper", [], {})
        for n in range(2 * Journal.CHECKPOINT_EVERY):
            order = make_order(f"o{n}")
            current[0] = "intent"
            journal.record_intent(run_id, order, strategy="s")
            current[0] = "event"
            submitted = order.transition(OrderStatus.SUBMITTED, at=order.created_at)
            journal.record_order_event(
                run_id,
                OrderEvent(
                    kind=OrderEventKind.SUBMITTED, order=submitted, timestamp=order.created_at
                ),
            )
        assert checkpoints, "the write-ahead log was never checkpointed"
        assert set(checkpoints) == {"event"}, "an intent commit ran a checkpoint"
        assert len(checkpoints) == (4 * Journal.CHECKPOINT_EVERY + 1) // Journal.CHECKPOINT_EVERY
        wal = tmp_path / "j.db-wal"
        assert wal.exists()
        assert len(journal.orders(run_id)) == 2 * Journal.CHECKPOINT_EVERY
    finally:
        journal.close()
