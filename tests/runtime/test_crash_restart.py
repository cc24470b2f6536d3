"""Crash/restart: a real ``spark-stacker run`` killed at named points, restarted, then checked.

Each test starts the paper runtime in a child process with the fault plugin armed at one point
(``os._exit``: no cleanup runs), restarts it without the fault, and compares the journal (the
engine's write-ahead record) with the paper venue's own input log (what the venue received):
no client order id sent twice, every venue order backed by a journaled intent, no fill lost
or doubled, positions equal. Each runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from runkit import RULES, assert_consistent, journal_view, run_args, spark, venue_views
from sparkstacker.journal import Journal
from sparkstacker.model import OrderStatus
from sparkstacker.runtime.recovery import NEVER_REACHED

pytestmark = pytest.mark.slow

HEDGED = str(RULES / "hedged_flip.rules")
CRASHED = 77


def crash_then_restart(
    tmp_path: Path, store: Path, db: str, point: str, after: int
) -> tuple[object, object, object]:
    """Run until the fault kills the process; return journal + venues at the crash, then restart."""
    crashed = spark(
        tmp_path,
        *run_args(store, db, HEDGED, "--plugin", "fault_plugin"),
        env={"FAULT_POINT": point, "FAULT_AFTER": str(after)},
    )
    assert crashed.returncode == CRASHED, crashed.stderr[-2000:]
    at_crash_journal = journal_view(db)
    at_crash_venues = venue_views(tmp_path / "spark_stacker_state")
    restarted = spark(tmp_path, *run_args(store, db, HEDGED, bars=40))
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    return at_crash_journal, at_crash_venues, restarted


def test_crash_after_intent_journaled_marks_it_never_reached(
    tmp_path: Path, sample_store: Path, db_url: str
) -> None:
    before, venues_before, _ = crash_then_restart(tmp_path, sample_store, db_url, "after_intent", 3)
    # Orders sent earlier in the same bar (a protective stop, say) may be unacknowledged too:
    # their steps after the intent wait for the bar's end. Exactly one never left the engine.
    [pending] = [
        o
        for o in before.unacknowledged  # type: ignore[attr-defined]
        if all(o.client_order_id not in v.submissions for v in venues_before.values())  # type: ignore[attr-defined]
    ]
    assert pending.status is OrderStatus.NEW

    venues, journal = assert_consistent(tmp_path / "spark_stacker_state", db_url)
    after = journal.orders[pending.client_order_id]
    assert after.status is OrderStatus.REJECTED
    assert after.reason == NEVER_REACHED
    assert all(pending.client_order_id not in v.submissions for v in venues.values())


def test_crash_after_venue_accepted_adopts_the_order_and_its_fill(
    tmp_path: Path, sample_store: Path, db_url: str
) -> None:
    before, venues_before, _ = crash_then_restart(tmp_path, sample_store, db_url, "after_accept", 2)
    [pending] = before.unacknowledged  # type: ignore[attr-defined]
    # only the intent is written ahead; the "submitted" step is journaled with the venue's answer,
    # which this process never read
    assert pending.status is OrderStatus.NEW
    main = venues_before["hyperliquid"]  # type: ignore[index]
    assert main.submissions[pending.client_order_id] == 1
    assert main.orders[pending.client_order_id].status is OrderStatus.ACCEPTED

    venues, journal = assert_consistent(tmp_path / "spark_stacker_state", db_url)
    adopted = journal.orders[pending.client_order_id]
    assert adopted.status is OrderStatus.FILLED
    assert venues["hyperliquid"].submissions[pending.client_order_id] == 1
    assert [f.client_order_id for f in journal.fills].count(pending.client_order_id) >= 1


def _missed_fills(before: Any, venues_before: dict[str, Any]) -> set[str]:
    """Fill ids the venues hold that the journal did not have when the process died."""
    journaled = {f.fill_id for f in before.fills}
    return {f.fill_id for v in venues_before.values() for f in v.fills} - journaled


def test_crash_after_fill_records_the_missed_fill_once(
    tmp_path: Path, sample_store: Path, db_url: str
) -> None:
    before, venues_before, _ = crash_then_restart(tmp_path, sample_store, db_url, "after_fill", 3)
    missed = _missed_fills(before, venues_before)
    assert missed, "the crash should leave a venue fill the journal does not have"

    _, journal = assert_consistent(tmp_path / "spark_stacker_state", db_url)
    recorded = [f.fill_id for f in journal.fills]
    for fill_id in missed:
        assert recorded.count(fill_id) == 1


def test_crash_with_journal_appends_still_queued_loses_no_fill_and_resends_nothing(
    tmp_path: Path, sample_store: Path, db_url: str
) -> None:
    """The bar's requests left, its fill appends were still queued: the venue fills them in."""
    before, venues_before, _ = crash_then_restart(tmp_path, sample_store, db_url, "before_flush", 2)
    missed = _missed_fills(before, venues_before)
    assert missed, "the crash should leave a venue fill the journal does not have"
    # the request of that bar left (its intent written ahead), its "submitted" step did not
    sent_blind = [
        o
        for o in before.unacknowledged  # type: ignore[attr-defined]
        if any(o.client_order_id in v.submissions for v in venues_before.values())  # type: ignore[attr-defined]
    ]
    assert sent_blind, "the crash should leave a request that reached the venue unacknowledged"

    venues, journal = assert_consistent(tmp_path / "spark_stacker_state", db_url)
    recorded = [f.fill_id for f in journal.fills]
    for fill_id in missed:
        assert recorded.count(fill_id) == 1
    for order in sent_blind:
        assert sum(v.submissions[order.client_order_id] for v in venues.values()) == 1
        assert journal.orders[order.client_order_id].status is not OrderStatus.NEW


def _hedge_target(main: Decimal) -> Decimal:
    """50% of the main leg, lot (0.0001 ETH) rounded towards zero, opposite side."""
    size = (abs(main) * Decimal("0.5")).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    return -size if main > 0 else size


@pytest.mark.parametrize("point", ["mid_hedge", "hedge_intent"])
def test_crash_mid_hedge_protocol_hedges_after_restart(
    tmp_path: Path, sample_store: Path, db_url: str, point: str
) -> None:
    _, venues_before, _ = crash_then_restart(tmp_path, sample_store, db_url, point, 2)
    main_before = venues_before["hyperliquid"].positions.get("ETH-USD", Decimal(0))  # type: ignore[index]
    hedge_before = venues_before["hyperliquid.hedge"].positions.get("ETH-USD", Decimal(0))  # type: ignore[index]
    assert hedge_before != _hedge_target(main_before), "the crash should leave the pair unhedged"

    venues, journal = assert_consistent(tmp_path / "spark_stacker_state", db_url)
    main = venues["hyperliquid"].positions.get("ETH-USD", Decimal(0))
    hedge = venues["hyperliquid.hedge"].positions.get("ETH-USD", Decimal(0))
    assert hedge == _hedge_target(main)
    hedges = [o for o in journal.orders.values() if o.leg == "hedge"]
    assert hedges, "hedge orders were journaled"
    for order in hedges:
        assert venues["hyperliquid.hedge"].submissions[order.client_order_id] <= 1
    # Recovery itself restores the pair: the restarted run's first order is the missing hedge,
    # sent before any new bar (not merely at the strategy's next trade).
    with Journal(db_url, durability="fast") as j:
        restart = j.runs(mode="paper")[0]
        first = j.orders(restart.id)[0]
    assert first.leg == "hedge"
    assert first.size == abs(_hedge_target(main_before) - hedge_before)


def test_resume_after_a_kill_restarts_the_same_run_and_recovers(
    tmp_path: Path, sample_store: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'spark_stacker.db'}"
    crashed = spark(
        tmp_path,
        *run_args(sample_store, db, HEDGED, "--plugin", "fault_plugin"),
        env={"FAULT_POINT": "after_fill", "FAULT_AFTER": "2"},
    )
    assert crashed.returncode == CRASHED
    resumed = spark(tmp_path, "resume", "--db", db, "--speed", "max", "--bars", "30", "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming paper run" in resumed.stdout
    _, journal = assert_consistent(tmp_path / "spark_stacker_state", db)
    runs = sorted(journal.runs, key=lambda r: r.started_at)
    assert [r.status for r in runs] == ["running", "completed"]  # the killed one never ended
    assert runs[1].config["rules"] == runs[0].config["rules"] == [str(Path(HEDGED).resolve())]
    assert runs[1].summary is not None
    assert runs[1].summary["recovery"]["missed_fills"]
