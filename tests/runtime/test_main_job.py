"""The README's main job: ``spark-stacker run`` with no arguments on a fresh folder, no network.

It must start a paper run of the example rules on replayed sample data, trade, write the
journal and all four logs, serve Prometheus metrics while it runs, and end cleanly.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from runkit import HERE, child_env, command
from sparkstacker.journal import Journal

pytestmark = pytest.mark.slow


def _isolation() -> list[str]:
    """``unshare`` into a network namespace with only loopback, when the system allows it."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare is None or ip is None:
        return []
    probe = subprocess.run(
        [unshare, "-rn", ip, "link", "set", "lo", "up"], capture_output=True, timeout=30
    )
    return (
        [unshare, "-rn", "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh"]
        if (probe.returncode == 0)
        else []
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _value(scrape: str, metric: str, **labels: str) -> float:
    total = 0.0
    found = False
    for line in scrape.splitlines():
        if not line.startswith(metric + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    assert found, f"{metric} {labels} not exported"
    return total


def test_main_job_trades_offline_and_writes_journal_logs_and_metrics(tmp_path: Path) -> None:
    isolation = _isolation()
    port = 9000 if isolation else _free_port()
    env = child_env({"SPARKSTACKER_METRICS_PORT": str(port)})
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            *isolation,
            sys.executable,
            str(HERE / "main_job_child.py"),
            str(report),
            str(port),
            "--",
            *command("run"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["returncode"] == 0, data["stderr"][-3000:]
    if isolation:
        assert data["network"] is False  # it really ran without a network
    out = data["stdout"]
    print(f"main job wall time {data['wall_seconds']:.1f} s, isolated={bool(isolation)}")
    # The start-up summary names the default rules and says why macd_eth_1m is not among them.
    assert "examples:macd_flip_eth_1m.rules (default example)" in out
    assert re.search(r"macd_eth_1m\.rules .*never trades.*10 USD minimum", out)
    assert "synthetic sample data" in out
    assert "Run completed" in out

    with Journal(f"sqlite:///{tmp_path / 'spark_stacker.db'}", durability="fast") as journal:
        [run] = journal.runs(mode="paper")
        fills = journal.fills(run.id)
        orders = journal.orders(run.id)
        balances = journal.export_csv("balances", tmp_path / "balances.csv", run.id)
    assert run.status == "completed"
    assert run.ended_at is not None
    assert len(fills) >= 20, "the example should trade tens of times in a day of 1m bars"
    assert {o.strategy for o in orders} == {"macd_flip_eth_1m"}
    assert balances >= 2
    assert run.summary is not None
    assert run.summary["simulated"] is True

    logs = tmp_path / "_logs"
    for name in ("spark_stacker.log", "orders.log", "balance.log", "markets.log"):
        assert (logs / name).stat().st_size > 0, name
    lines = [json.loads(line) for line in (logs / "orders.log").read_text().splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert sum(1 for line in lines if line["kind"] == "fill") == len(fills)
    balance = [json.loads(line) for line in (logs / "balance.log").read_text().splitlines()]
    assert all(b["simulated"] is True for b in balance)

    scrape = data["last_scrape"]
    assert data["scrapes"] > 0, "the metrics endpoint never answered while the run went"
    assert _value(scrape, "spark_stacker_account_balance", simulated="true") > 0
    assert _value(scrape, "spark_stacker_trades_total", strategy="macd_flip_eth_1m") > 0
    assert _value(scrape, "spark_stacker_fills_total") > 0
    # run_info is 1 while the run goes and 0 once it ended; a scrape may land after shutdown,
    # so check the whole sequence: it was seen at 1, and once 0 it never went back to 1.
    seen = [
        _value("\n".join(lines), "spark_stacker_run_info", mode="paper")
        for lines in data["run_info"]
        if lines
    ]
    assert 1 in seen, f"run_info never read 1 while the run went: {seen}"
    assert set(seen) <= {0.0, 1.0}
    assert seen == sorted(seen, reverse=True), f"run_info went back up after the run ended: {seen}"
