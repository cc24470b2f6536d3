"""Hot reload against a real running process: broken edits are refused, good ones swap in."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from runkit import RULES, assert_consistent, run_args, spark_background
from sparkstacker.journal import Journal

pytestmark = pytest.mark.slow


def wait_until(check: Callable[[], Any], proc: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_edits_while_running(tmp_path: Path, sample_store: Path) -> None:
    rules = tmp_path / "mine.rules"
    original = (RULES / "hedged_flip.rules").read_text()
    rules.write_text(original)
    db = f"sqlite:///{tmp_path / 'spark_stacker.db'}"
    log = tmp_path / "_logs" / "spark_stacker.log"
    state = tmp_path / "spark_stacker_state" / "run.json"
    proc = spark_background(
        tmp_path, *run_args(sample_store, db, str(rules), bars=20000, speed="600")
    )

    def snapshot() -> dict[str, Any]:
        try:
            return dict(json.loads(state.read_text()))
        except (OSError, ValueError):
            return {}

    def main_orders() -> list[Any]:
        with Journal(db, durability="fast") as journal:
            run = journal.runs(mode="paper")[0]
            return [
                o
                for o in journal.orders(run.id)
                if o.leg == "main" and o.annotations.get("origin") == "strategy"
            ]

    try:
        wait_until(lambda: snapshot().get("bars", 0) > 20 and main_orders(), proc)
        assert max(o.size for o in main_orders()) < Decimal("0.45")  # 500 USD, flips 2x

        # 1. A typo: refused with the located error, and the old rules keep trading.
        broken = original.replace("macd(close, 12, 26, 9)", "macdd(close, 12, 26, 9)")
        rules.write_text(broken)
        line = next(n for n, t in enumerate(broken.splitlines(), 1) if "macdd" in t)
        column = broken.splitlines()[line - 1].index("macdd") + 1
        text = wait_until(lambda: "does not compile" in log.read_text() and log.read_text(), proc)
        assert re.search(rf"mine\.rules:{line}:{column}: .*macdd", text), text[-1500:]
        assert "^" in text.split("does not compile", 1)[1]
        assert "did you mean" in text.split("does not compile", 1)[1]
        bars = snapshot()["bars"]
        wait_until(lambda: snapshot().get("bars", 0) > bars + 20, proc)
        assert snapshot()["reload"]["refused"] == 1
        assert snapshot()["reload"]["reloads"] == 0

        # 2. A leverage change needs a restart: refused, explained.
        rules.write_text(original.replace("leverage 5x", "leverage 3x"))
        wait_until(lambda: snapshot().get("reload", {}).get("refused") == 2, proc)
        assert "leverage" in snapshot()["reload"]["last_error"]

        # 3. A good edit swaps in at a bar boundary: new sizes from then on.
        rules.write_text(original.replace("fixed_usd(500 USD)", "fixed_usd(900 USD)"))
        wait_until(lambda: snapshot().get("reload", {}).get("reloads") == 1, proc)
        assert "rules reloaded" in log.read_text()
        wait_until(lambda: max(o.size for o in main_orders()) > Decimal("0.45"), proc)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert_consistent(tmp_path / "spark_stacker_state", db)
