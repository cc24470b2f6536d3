"""A real running process: /metrics scraped over HTTP, SIGTERM handled gracefully, no secret leaks.

The run holds a fake private key in its environment; afterwards every log file and the journal
database (with its WAL) are searched for it byte by byte.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from runkit import RULES, assert_consistent, run_args, spark_background
from sparkstacker.journal import Journal
from sparkstacker.model import OrderStatus

pytestmark = pytest.mark.slow

FAKE_KEY = "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"[::-1]
DASHBOARD_NAMES = (
    "spark_stacker_trades_total",
    "spark_stacker_account_balance",
    "spark_stacker_active_positions",
    "spark_stacker_strategy_signal_generated_total",
    "spark_stacker_strategy_trade_executed_total",
    "spark_stacker_strategy_position",
    "spark_stacker_order_events_total",
    "spark_stacker_fills_total",
    "spark_stacker_margin_ratio",
    "spark_stacker_order_latency_seconds_count",
    "spark_stacker_indicator_value",
    "spark_stacker_macd_value",
    "spark_stacker_run_info",
)


def wait_for(predicate, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def samples(body: str, name: str) -> list[float]:
    return [
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    ]


def test_metrics_sigterm_and_no_secret_in_logs_or_journal(
    tmp_path: Path, sample_store: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'spark_stacker.db'}"
    proc = spark_background(
        tmp_path,
        *run_args(
            sample_store, db, str(RULES / "hedged_flip.rules"), bars=20000, speed="600", quiet=False
        ),
        env={"SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY": FAKE_KEY},
    )
    try:
        state = tmp_path / "spark_stacker_state" / "run.json"

        def metrics_url() -> str | None:
            if proc.poll() is not None:
                raise AssertionError(proc.communicate()[1])
            try:
                return json.loads(state.read_text()).get("metrics_url")
            except (OSError, ValueError):
                return None

        url = wait_for(metrics_url)

        def scraped() -> str | None:
            with urllib.request.urlopen(url, timeout=2) as reply:
                body = reply.read().decode()
            trades = samples(body, "spark_stacker_trades_total")
            hedged = 'type="hedge"' in body
            return body if trades and sum(trades) >= 3 and hedged else None

        body = wait_for(scraped, timeout=120)
        for name in DASHBOARD_NAMES:
            assert samples(body, name), f"{name} has no value"
        assert sum(samples(body, "spark_stacker_order_latency_seconds_count")) > 0
        assert 'simulated="true"' in body
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopping gracefully" in stdout
    assert "Run stopped" in stdout

    with Journal(db, durability="fast") as journal:
        [run] = journal.runs(mode="paper")
        orders = journal.orders(run.id)
    assert run.status == "stopped"
    assert run.summary is not None
    assert run.summary["stop_reason"] == "signal SIGTERM"
    still_open = [o for o in orders if o.is_open]
    # Shutdown cancelled every working order except the venue-side stop / target orders.
    assert all(o.annotations.get("origin") == "protective" for o in still_open), still_open
    cancelled = [o for o in orders if o.status is OrderStatus.CANCELLED and o.reason == "shutdown"]
    venues, journal_view = assert_consistent(tmp_path / "spark_stacker_state", db)
    held = venues["hyperliquid"].positions.get("ETH-USD", Decimal(0))
    if held != 0:  # the position stays, with its protection resting on the venue
        assert {o.annotations["reason"] for o in still_open if o.venue == "hyperliquid"} == {
            "stop_loss",
            "take_profit",
        }
    status = json.loads(state.read_text())
    assert status["status"] == "stopped"
    del cancelled, journal_view

    needles = {FAKE_KEY, FAKE_KEY[2:], FAKE_KEY.upper(), FAKE_KEY[2:].upper()}
    files = list((tmp_path / "_logs").iterdir()) + list(tmp_path.glob("spark_stacker.db*"))
    files += list((tmp_path / "spark_stacker_state").rglob("*.json*"))
    assert len([f for f in files if f.name.endswith(".log")]) == 4
    for path in files:
        content = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in content, f"the private key leaked into {path}"
    assert FAKE_KEY not in stdout
    assert FAKE_KEY not in stderr
