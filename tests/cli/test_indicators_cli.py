"""``spark-stacker indicators``: the installed console script lists the built-in indicators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "spark-stacker"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.fail(f"console script {SCRIPT} is missing; run pip install -e .")
    env = {**os.environ, "SPARKSTACKER_DISABLE_PLUGIN_AUTOLOAD": "1", "COLUMNS": "250"}
    return subprocess.run(
        [str(SCRIPT), "indicators", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_json_lists_every_indicator_with_its_contract() -> None:
    result = run_cli("--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert len(rows) >= 150
    macd = rows["macd"]
    assert macd["inputs"] == [{"name": "real", "default": "close"}]
    assert macd["params"] == [
        {"name": "fastperiod", "kind": "int", "default": 12},
        {"name": "slowperiod", "kind": "int", "default": 26},
        {"name": "signalperiod", "kind": "int", "default": 9},
    ]
    assert macd["outputs"] == ["macd", "signal", "hist"]
    assert macd["plugin"] == "indicators.talib"
    funding = rows["funding_zscore"]
    assert funding["inputs"] == [{"name": "funding", "default": None}]
    assert funding["plugin"] == "indicators.custom"
    assert {"microprice", "book_imbalance", "realized_vol", "vwap"} <= set(rows)


def test_search_narrows_the_table() -> None:
    result = run_cli("--search", "macd")
    assert result.returncode == 0, result.stderr
    assert "3 indicators" in result.stdout  # macd, macdext, macdfix
    for name in ("macdext", "macdfix", "signal, hist", "real=close"):
        assert name in result.stdout
    assert "bbands" not in result.stdout
