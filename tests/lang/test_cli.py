"""``spark-stacker check | fmt | explain`` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sparkstacker.cli.rules_cmds  # noqa: F401  (registers the commands)
from langkit import EXAMPLES, strategy
from sparkstacker.cli import app
from typer.testing import CliRunner

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_check_passes_the_examples() -> None:
    result = run("check", *map(str, sorted(EXAMPLES.glob("*.rules"))))
    assert result.exit_code == 0, result.output
    assert "ok: 0 error(s), 0 warning(s) in 6 file(s)" in result.output


def test_check_reports_all_errors_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rules"
    bad.write_text(strategy("enter long when rsii(close) < 30\nleverage 10\nlet unused = close"))
    result = run("check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:4:21: unknown indicator or function 'rsii'" in result.output
    assert f"{bad}:5:14: leverage needs a unit" in result.output
    assert "warning: let unused is never used" in result.output
    assert "failed: 2 error(s), 1 warning(s) in 1 file(s)" in result.output


def test_check_json_for_editors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rules"
    bad.write_text(strategy("enter long when close = open"))
    result = run("check", "--json", str(bad))
    assert result.exit_code == 1
    findings = json.loads(result.stdout)
    assert findings == [
        {
            "file": str(bad),
            "line": 4,
            "column": 27,
            "end_column": 28,
            "message": "a condition compares with ==, not =",
            "hint": "write `close == open`; `=` only binds a name in `let`",
            "severity": "error",
        }
    ]


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "w.rules"
    path.write_text(strategy("let unused = close\nenter long when close > open"))
    assert run("check", str(path)).exit_code == 0


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "messy.rules"
    path.write_text(
        'strategy "s"{market ETH-USD on hyperliquid timeframe 1h\nenter long when close>open}'
    )
    result = run("fmt", "--check", str(path))
    assert result.exit_code == 1
    assert f"would reformat {path}" in result.output
    assert run("fmt", str(path)).exit_code == 0
    assert path.read_text() == (
        'strategy "s" {\n    market ETH-USD on hyperliquid\n    timeframe 1h\n'
        "    enter long when close > open\n}\n"
    )
    assert run("fmt", "--check", str(path)).exit_code == 0


def test_fmt_refuses_a_file_that_does_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "broken.rules"
    original = 'strategy "s" { enter long when close = open }'
    path.write_text(original)
    result = run("fmt", str(path))
    assert result.exit_code == 1
    assert path.read_text() == original


def test_explain_shows_the_plan() -> None:
    result = run("explain", str(EXAMPLES / "multi_timeframe.rules"), "--strategy", "eth_aggressive")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "timeframe  1h (+ closed 4h bars)" in out
    assert "warm-up    63 bars" in out
    assert "rsi(close@4h, 14)" in out
    assert "shared by" in out
    assert "sizer     percent_equity" in out
    assert "spark-stacker" in out
    assert '"percent": "10%"' in out
    described = json.loads(run("explain", "--json", str(EXAMPLES / "macd_eth_1m.rules")).stdout)
    plan = described["strategies"][0]
    assert plan["hedge"]["ratio"] == "20%"
    assert plan["hedge"]["leverage"] == "5x"
    macd_nodes = [n for n in plan["dag"] if n["op"] == "ind" and n["expr"].startswith("macd")]
    assert len(macd_nodes) == 1  # macd used by four rules, computed once


@pytest.mark.shared
def test_explain_at_a_bar_with_real_data(tmp_path: Path, eth_1h) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd
    import talib

    rules = tmp_path / "r.rules"
    rules.write_text(strategy("let r = rsi(close, 14)\nenter long when r < 70 and close > open"))
    data = tmp_path / "eth.csv"
    pd.DataFrame(
        {
            "timestamp": eth_1h.timestamp,
            "open": eth_1h.open,
            "high": eth_1h.high,
            "low": eth_1h.low,
            "close": eth_1h.close,
            "volume": eth_1h.volume,
        }
    ).to_csv(data, index=False)
    index = 500
    at = pd.Timestamp(int(eth_1h.timestamp[index]), unit="ms").isoformat()
    result = run("explain", str(rules), "--at", at, "--data", str(data))
    assert result.exit_code == 0, result.output
    expected_rsi = talib.RSI(np.asarray(eth_1h.close, dtype=float), 14)[index]
    verdict = "✔" if expected_rsi < 70 else "✘"
    assert f"{verdict} r < 70  ({expected_rsi:.6g} vs 70)" in result.output
    opened, closed = eth_1h.open[index], eth_1h.close[index]
    verdict = "✔" if closed > opened else "✘"
    assert f"{verdict} close > open  ({closed:.6g} vs {opened:.6g})" in result.output
    assert f"at bar {index}" in result.output
