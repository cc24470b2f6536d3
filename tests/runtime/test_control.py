"""``status``, ``stop`` and the kill switch (``stop --flatten``) against a real running process."""

from __future__ import annotations

import json
import signal
import time
from decimal import Decimal
from pathlib import Path

import pytest
from runkit import RULES, assert_consistent, run_args, spark, spark_background
from sparkstacker.journal import Journal

pytestmark = pytest.mark.slow


def start(tmp_path: Path, store: Path, db: str):  # type: ignore[no-untyped-def]
    return spark_background(
        tmp_path, *run_args(store, db, str(RULES / "hedged_flip.rules"), bars=20000, speed="600")
    )


def wait_for_position(tmp_path: Path, proc) -> dict:  # type: ignore[no-untyped-def]
    state = tmp_path / "spark_stacker_state" / "run.json"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            snap = json.loads(state.read_text())
        except (OSError, ValueError):
            snap = {}
        legs = (snap.get("engine") or {}).get("positions", [])
        if {p["leg"] for p in legs if Decimal(p["size"]) != 0} == {"main", "hedge"}:
            return snap
        time.sleep(0.1)
    raise AssertionError("no hedged position opened")


def test_status_then_kill_switch_flattens_everything_and_stops(
    tmp_path: Path, sample_store: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'spark_stacker.db'}"
    proc = start(tmp_path, sample_store, db)
    try:
        wait_for_position(tmp_path, proc)
        shown = spark(tmp_path, "status", "--db", db, "--json")
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)
        assert status["running"] is True
        assert status["pid"] == proc.pid
        snap = status["snapshot"]
        assert snap["mode"] == "paper"
        assert {row["venue"]: row["simulated"] for row in snap["equity"]} == {
            "hyperliquid": True,
            "hyperliquid.hedge": True,
        }
        roles = {o["role"] for o in snap["engine"]["open_orders"]}
        assert {"stop_loss", "take_profit"} <= roles
        human = spark(tmp_path, "status", "--db", db)
        assert "running" in human.stdout
        assert "hedged_flip" in human.stdout

        stopped = spark(tmp_path, "stop", "--flatten", timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    venues, journal = assert_consistent(tmp_path / "spark_stacker_state", db)
    assert all(not v.positions for v in venues.values()), "the kill switch left a position"
    assert all(not o.is_open for o in journal.orders.values()), "an order is still working"
    with Journal(db, durability="fast") as j:
        [run] = j.runs(mode="paper")
        kinds = [e.kind for e in j.risk_events(run.id)]
    assert run.status == "stopped"
    assert run.summary is not None
    assert "--flatten" in run.summary["stop_reason"]
    assert "kill_switch" in kinds
    after = spark(tmp_path, "status", "--db", db, "--json")
    assert json.loads(after.stdout)["running"] is False


def test_stop_leaves_positions_and_their_protection(tmp_path: Path, sample_store: Path) -> None:
    db = f"sqlite:///{tmp_path / 'spark_stacker.db'}"
    proc = start(tmp_path, sample_store, db)
    try:
        wait_for_position(tmp_path, proc)
        stopped = spark(tmp_path, "stop", timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    venues, journal = assert_consistent(tmp_path / "spark_stacker_state", db)
    assert venues["hyperliquid"].positions.get("ETH-USD", Decimal(0)) != 0
    assert venues["hyperliquid.hedge"].positions.get("ETH-USD", Decimal(0)) != 0
    working = [o for o in journal.orders.values() if o.is_open]
    assert {o.annotations.get("reason") for o in working} == {"stop_loss", "take_profit"}
    assert all(o.annotations.get("origin") == "protective" for o in working)


def test_stop_without_a_running_process_says_so(tmp_path: Path) -> None:
    result = spark(tmp_path, "stop")
    assert result.returncode == 2
    assert "no run is going" in result.stderr


def test_flatten_on_stop_closes_everything_on_sigterm(tmp_path: Path, sample_store: Path) -> None:
    db = f"sqlite:///{tmp_path / 'spark_stacker.db'}"
    hedged = str(RULES / "hedged_flip.rules")
    proc = spark_background(
        tmp_path,
        *run_args(sample_store, db, hedged, "--flatten-on-stop", bars=20000, speed="600"),
    )
    try:
        wait_for_position(tmp_path, proc)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    venues, journal = assert_consistent(tmp_path / "spark_stacker_state", db)
    assert all(not v.positions for v in venues.values())
    assert all(not o.is_open for o in journal.orders.values())
