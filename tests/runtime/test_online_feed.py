"""Paper fed by live candles (``--feed hyperliquid``), against Hyperliquid's wire format locally.

The real adapter, the real runtime and a real child process; only the far end is a local
server speaking the venue's public-data protocol (see ``hl_local``). Also: without a network
the run refuses at once with a clear message and creates no paper account.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hl_local import MINUTE, LocalHyperliquid
from runkit import child_env, command, spark_background
from sparkstacker.journal import Journal
from sparkstacker.runtime.paper_venue import read_venue_log

pytestmark = pytest.mark.slow

EVERY_BAR = """
strategy "every_bar" {
    market ETH-USD on hyperliquid
    timeframe 1m
    let fast = ema(close, 3)
    enter long when position <= 0 and fast > 0
    enter short when position > 0
    size fixed_units(0.01)
    leverage 5x
}
"""


def test_paper_run_trades_on_live_candles(tmp_path: Path) -> None:
    rules = tmp_path / "every_bar.rules"
    rules.write_text(EVERY_BAR)
    now = int(time.time() * 1000)
    venue = LocalHyperliquid(now - now % MINUTE)
    db = f"sqlite:///{tmp_path / 'spark_stacker.db'}"
    with venue.running():
        proc = spark_background(
            tmp_path,
            "run",
            str(rules),
            "--feed",
            "hyperliquid",
            "--db",
            db,
            "--metrics-port",
            "0",
            env=venue.env,
        )
        try:
            deadline = time.monotonic() + 90
            fills = 0
            while time.monotonic() < deadline and fills < 4:
                assert proc.poll() is None, proc.communicate()[1][-3000:]
                try:
                    snap = json.loads((tmp_path / "spark_stacker_state" / "run.json").read_text())
                    fills = (snap.get("engine") or {}).get("orders", {}).get("fills", 0)
                except (OSError, ValueError):
                    pass
                time.sleep(0.2)
            assert fills >= 4, "no trades on the live-fed candles"
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    assert "live hyperliquid candles" in stdout
    assert {"type": "candle", "coin": "ETH", "interval": "1m"} in venue.subscriptions
    assert any(r.get("type") == "candleSnapshot" for r in venue.info_requests)  # warm-up history

    header, records = read_venue_log(
        tmp_path / "spark_stacker_state" / "paper" / "hyperliquid.jsonl"
    )
    [market] = [r for r in records if r["k"] == "market"]
    # The instrument is the venue's (meta: ETH szDecimals 4, maxLeverage 25), not a guess.
    assert market["instrument"]["lot_size"] == "0.0001"
    assert market["instrument"]["max_leverage"] == "25"
    fed = [r for r in records if r["k"] == "o"]
    pushed = {row["t"]: row for row in venue.pushed}
    assert len(fed) >= 4
    for bar in fed:  # every bar fed to the simulated venue is a closed candle the venue pushed
        row = pushed[bar["t"]]
        assert bar["b"][:4] == [float(row["o"]), float(row["h"]), float(row["l"]), float(row["c"])]
        assert bar["t"] + MINUTE <= max(pushed)  # closed: a newer candle had started
    with Journal(db, durability="fast") as journal:
        [run] = journal.runs(mode="paper")
        fills_journaled = journal.fills(run.id)
    assert run.status == "stopped"
    assert run.config["feed"] == "hyperliquid"
    assert len(fills_journaled) >= 4
    assert all(f.size == Decimal("0.01") or f.size == Decimal("0.02") for f in fills_journaled)
    del header


def test_without_a_network_the_live_feed_refuses_clearly(tmp_path: Path) -> None:
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    env = child_env()
    if (
        unshare
        and ip
        and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0
    ):
        prefix = [unshare, "-rn"]
    else:  # no namespaces here: point the adapter at a closed local port instead
        prefix = []
        env.update(
            SPARKSTACKER_HYPERLIQUID_API_URL="http://127.0.0.1:9",
            SPARKSTACKER_HYPERLIQUID_WS_URL="ws://127.0.0.1:9/ws",
        )
    result = subprocess.run(
        [*prefix, *command("run", "--feed", "hyperliquid", "--metrics-port", "0")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 2
    assert "--feed hyperliquid: cannot reach the venue" in result.stderr
    assert "leave out --feed" in result.stderr
    assert not (tmp_path / "spark_stacker_state" / "paper").exists()
    assert not (tmp_path / "spark_stacker.db").exists()
