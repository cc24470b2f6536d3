"""The governor and the kill switch in paper runs: metrics, status, and both legs flattened.

Real ``spark-stacker`` child processes replay recorded ETH candles with the hedged example:

* with a governor (``rules/governor.rules``: FLATTEN at 1 USD of drawdown): the governor gauge
  is exported from the first scrape on and follows every change the journal records; status
  shows the state; FLATTEN closes the main leg and the hedge follows it to zero;
* without one, ``spark-stacker stop --flatten`` (the kill switch) closes main and hedge legs,
  and status says FLATTEN (operator) although no governor is configured.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hedgekit import (
    EXAMPLE,
    HERE,
    STRATEGY,
    child_env,
    command,
    hedge_target,
    paper_dirs,
    run_scraped,
    series,
    spark,
)
from sparkstacker.journal import Journal

pytestmark = [pytest.mark.shared, pytest.mark.slow]

D = Decimal
MAIN, HEDGE = "hyperliquid", "hyperliquid.hedge"
GOVERNOR = HERE / "rules" / "governor.rules"


def positions(fills) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    out = {MAIN: D(0), HEDGE: D(0)}
    for fill in fills:
        out[fill.venue] += fill.signed_size
    return out


def test_governor_state_is_exported_from_the_start_and_follows_every_change(
    marketdata: Path, tmp_path: Path
) -> None:
    store, state, db = paper_dirs(marketdata, tmp_path)
    data = run_scraped(
        tmp_path,
        state,
        "run", str(EXAMPLE), str(GOVERNOR), "--data", str(store), "--db", db,
        "--from", "2023-07-14T12:00", "--bars", "300", "--speed", "max",
        "--metrics-port", "0", "--state-dir", str(state), "--quiet",
    )  # fmt: skip
    with Journal(db, durability="fast") as journal:
        [run] = journal.runs(mode="paper")
        events = journal.risk_events(run.id)
        orders = journal.orders(run.id)
        fills = journal.fills(run.id)
    moves = [
        re.match(r"governor (\w+) → (\w+):", e.message).groups()  # type: ignore[union-attr]
        for e in events
        if e.kind == "governor"
    ]
    assert moves == [("ACTIVE", "FLATTEN")]
    # FLATTEN closed the main leg with the governor's order; the hedge followed it to zero
    assert positions(fills) == {MAIN: D(0), HEDGE: D(0)}
    flatten = [o for o in orders if o.annotations.get("origin") == "governor"]
    assert flatten
    assert all(o.venue == MAIN and o.reduce_only for o in flatten)
    last_main = max((f for f in fills if f.venue == MAIN), key=lambda f: f.timestamp)
    last_hedge = max((f for f in fills if f.venue == HEDGE), key=lambda f: f.timestamp)
    assert last_hedge.timestamp >= last_main.timestamp

    # The gauge: one series in every scrape, from the first; the states in the order of the
    # journal's changes; the last scrape shows the state the run ended in.
    scrapes = data["scrapes"]
    assert scrapes, "never scraped"
    seen = []
    for scrape in scrapes:
        [labels] = series(scrape, "spark_stacker_governor_state")
        if not seen or seen[-1] != labels["state"]:
            seen.append(labels["state"])
    assert seen[0] == "ACTIVE"
    assert seen[-1] == "FLATTEN"
    assert seen == ["ACTIVE", "FLATTEN"]

    shown = spark(tmp_path, "status", "--db", db, "--state-dir", str(state), "--json")
    governor = json.loads(shown.stdout)["snapshot"]["engine"]["governor"]
    assert (governor["state"], governor["configured"]) == ("FLATTEN", True)
    human = spark(tmp_path, "status", "--db", db, "--state-dir", str(state))
    assert "governor FLATTEN: drawdown" in human.stdout


def wait_for_both_legs(state: Path, proc) -> dict:  # type: ignore[no-untyped-def, type-arg]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            snap = json.loads((state / "run.json").read_text())
        except (OSError, ValueError):
            snap = {}
        groups = (snap.get("engine") or {}).get("groups") or []
        if groups and D(groups[0]["main"]) != 0 and D(groups[0]["hedge"]) != 0:
            return snap
        time.sleep(0.05)
    raise AssertionError("no hedged position opened")


def test_kill_switch_flattens_main_and_hedge_and_status_says_flatten(
    marketdata: Path, tmp_path: Path
) -> None:
    store, state, db = paper_dirs(marketdata, tmp_path)
    args = [
        "run", str(EXAMPLE), "--data", str(store), "--db", db, "--from", "2023-07-14T12:00",
        "--bars", "5000", "--speed", "1200", "--metrics-port", "0",
        "--state-dir", str(state), "--quiet",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command(*args),
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_both_legs(state, proc)
        shown = spark(tmp_path, "status", "--db", db, "--state-dir", str(state), "--json")
        snap = json.loads(shown.stdout)["snapshot"]
        assert snap["engine"]["governor"] == {"state": "ACTIVE", "configured": False}
        [group] = snap["engine"]["groups"]
        assert group["strategy"] == STRATEGY
        assert group["hedge_venue"] == HEDGE
        legs = {row["leg"]: row for row in snap["engine"]["positions"] if D(row["size"]) != 0}
        assert D(legs["hedge"]["size"]) == hedge_target(D(legs["main"]["size"]))
        assert legs["hedge"]["liquidation_source"] == "venue"

        stopped = spark(tmp_path, "stop", "--flatten", "--state-dir", str(state), timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0

    with Journal(db, durability="fast") as journal:
        [run] = journal.runs(mode="paper")
        orders = journal.orders(run.id)
        fills = journal.fills(run.id)
        kinds = [e.kind for e in journal.risk_events(run.id)]
    assert run.status == "stopped"
    assert positions(fills) == {MAIN: D(0), HEDGE: D(0)}, "the kill switch left a leg open"
    assert not [o for o in orders if o.is_open], "an order is still working"
    operator = [o for o in orders if o.annotations.get("origin") == "operator" and o.filled_size]
    assert {o.venue for o in operator} | {
        o.venue for o in orders if o.reduce_only and o.venue == HEDGE and o.filled_size
    } == {MAIN, HEDGE}
    assert "kill_switch" in kinds
    after = spark(tmp_path, "status", "--db", db, "--state-dir", str(state), "--json")
    data = json.loads(after.stdout)
    assert data["running"] is False
    assert data["snapshot"]["engine"]["governor"] == {"state": "FLATTEN", "configured": False}
    assert not [row for row in data["snapshot"]["engine"]["positions"] if D(row["size"]) != 0]
