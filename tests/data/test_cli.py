"""``spark-stacker data …`` through the real console entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sparkstacker import hookimpl
from sparkstacker.cli import main
from sparkstacker.data.store import CandleStore
from sparkstacker.exchange import ExchangePlugin
from sparkstacker.plugins import make_plugin_manager
from sparkstacker.registry import Registry

HL = "hippocritical__freqtrade_hyperliquid_download-data/user_data/data/hyperliquid/futures"
FREQTRADE = "freqtrade__freqtrade/tests/testdata"


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), out, err


def listing(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, _ = cli(["data", "list", "--json", "--data-dir", str(data_dir)], capsys)
    assert code == 0
    result: list[dict[str, Any]] = json.loads(out)
    return result


@pytest.mark.shared
def test_import_list_and_gaps_of_a_real_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_file: Callable[[str], Path]
) -> None:
    path = shared_file(f"{FREQTRADE}/UNITTEST_BTC-1m.json")
    code, out, _ = cli(
        ["data", "import", str(path), "--venue", "test", "--data-dir", str(tmp_path)], capsys
    )
    assert code == 0
    assert "inferred symbol UNITTEST-BTC (from the file name)" in out
    assert "538 gap(s)" in out
    assert "13681 added" in out
    (row,) = listing(tmp_path, capsys)
    assert (row["symbol"], row["timeframe"], row["rows"], row["gaps"], row["synthetic"]) == (
        "UNITTEST-BTC",
        "1m",
        13681,
        538,
        False,
    )
    assert row["first"] == "2017-11-04 23:02:00"
    assert row["last"] == "2017-11-14 22:59:00"
    code, out, _ = cli(
        ["data", "gaps", "--symbol", "UNITTEST-BTC", "--json", "--data-dir", str(tmp_path)], capsys
    )
    (entry,) = json.loads(out)
    assert len(entry["gaps"]) == 538
    # total missing minutes = span in minutes + 1 − rows present
    span = (pd.Timestamp("2017-11-14 22:59") - pd.Timestamp("2017-11-04 23:02")) // pd.Timedelta(
        "1min"
    ) + 1
    assert entry["missing"] == span - 13681


def test_sample_resample_and_the_synthetic_flag_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKSTACKER_DATA_DIR", str(tmp_path / "from-env"))
    code, out, _ = cli(
        ["data", "sample", "--symbol", "ETH-USD", "--days", "2", "--seed", "3"], capsys
    )
    assert code == 0
    assert "[SYNTHETIC]" in out
    data_dir = tmp_path / "from-env"  # the default store folder comes from the settings
    rows = listing(data_dir, capsys)
    assert {(r["timeframe"], r["rows"], r["synthetic"]) for r in rows} == {
        ("1m", 2880, True),
        (None, 48, True),
    }
    assert all(r["source"] == "synthetic sample data (seed 3)" for r in rows)
    code, out, _ = cli(["data", "resample", "--from", "1m", "--to", "1h"], capsys)
    assert code == 0
    assert "2880 1m bars → 48 1h bars" in out
    hourly = [r for r in listing(data_dir, capsys) if r["timeframe"] == "1h"]
    assert hourly[0]["rows"] == 48
    assert hourly[0]["synthetic"] is True
    code, out, _ = cli(["data", "list"], capsys)
    assert "SYNTHETIC" in out
    assert "generated sample data, not market data" in out
    code, out, _ = cli(["data", "sample", "--symbol", "ETH-USD"], capsys)
    assert "already stored (left alone): ETH-USD" in out


def test_user_errors_are_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "timestamp,open,high,low,close,volume\n"
        "1704067260000,1,2,0.5,1,1\n"
        "1704067320000,1,0.9,0.5,1,1\n"
    )
    code, _, err = cli(
        ["data", "import", str(bad), "--venue", "v", "--symbol", "S", "--data-dir", str(tmp_path)],
        capsys,
    )
    assert code == 2
    assert "error:" in err
    assert "row 2 (2024-01-01 00:02:00): high 0.9 is below max(open, close)" in err
    code, _, err = cli(
        ["data", "resample", "--to", "7m", "--from", "5m", "--data-dir", str(tmp_path)], capsys
    )
    assert code == 2
    assert "whole multiple" in err
    code, _, err = cli(["data", "gaps", "--data-dir", str(tmp_path)], capsys)
    assert code == 2
    assert "no candles datasets match" in err


class ReplayPlugin:
    """Registers a ``replay`` exchange whose instances replay a recorded Hyperliquid file."""

    def __init__(self, replay_cls: type, candles: pd.DataFrame, shift_ms: int) -> None:
        self.replay_cls = replay_cls
        self.candles = candles
        self.shift_ms = shift_ms

    @hookimpl
    def register_exchanges(self) -> list[ExchangePlugin]:
        def create(name: str, options: Any) -> Any:
            assert options == {"testnet": "false"}  # --option values reach the factory
            return self.replay_cls(self.candles, "5m", None, shift_ms=self.shift_ms)

        def no_history(name: str, options: Any) -> Any:
            return type("Plain", (), {"name": name})()

        return [
            ExchangePlugin(name="replay", summary="recorded Hyperliquid 5m", create=create),
            ExchangePlugin(name="plain", summary="no market history", create=no_history),
        ]


@pytest.mark.shared
def test_download_through_a_registered_exchange_plugin(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    shared_file: Callable[[str], Path],
    load_recorded: Callable[[Path], pd.DataFrame],
    replay_cls: type,
) -> None:
    """The command runs on the wall clock, so the recording is replayed shifted by whole days
    to end in the present: the venue then holds the latest 5000 bars, one of them forming."""
    day = 86_400_000
    recording = load_recorded(shared_file(f"{HL}/ETH_USDC_USDC-5m-futures.feather"))
    wall = int(time.time() * 1000)
    shift = (wall - int(pd.Timestamp("2025-06-01", tz="UTC").value // 1_000_000)) // day * day
    plugin = ReplayPlugin(replay_cls, recording, shift)
    monkeypatch.setattr(
        Registry,
        "load",
        classmethod(lambda cls, **_: cls(make_plugin_manager(autoload=False, plugins=[plugin]))),
    )
    args = ["data", "download", "-e", "replay", "-s", "ETH-USD", "-t", "5m", "-o", "testnet=false"]
    args += ["--no-funding", "--venue", "hyperliquid", "--data-dir", str(tmp_path)]
    code, out, err = cli(args, capsys)
    assert code == 0, err
    assert "1 unclosed bar(s) skipped" in out
    (row,) = listing(tmp_path, capsys)
    assert (row["venue"], row["rows"], row["gaps"]) == ("hyperliquid", 4999, 0)
    stored = CandleStore(tmp_path).read_candles("hyperliquid", "ETH-USD", "5m")
    naive = (
        stored["timestamp"].dt.tz_localize(None).to_numpy().astype("datetime64[ms]").astype("int64")
    )
    last_closed = (wall // 300_000 - 1) * 300_000  # the clock may tick into the next bar meanwhile
    assert naive[-1] in (last_closed, last_closed + 300_000)
    want = recording.set_index("ts").loc[naive - shift]
    assert stored["close"].tolist() == want["close"].tolist()
    code, _, err = cli(
        ["data", "download", "-e", "plain", "-s", "ETH-USD", "--data-dir", str(tmp_path)], capsys
    )
    assert code == 2
    assert "exchange 'plain' does not serve market history" in err
    code, _, err = cli(
        ["data", "download", "-e", "nope", "-s", "ETH-USD", "--data-dir", str(tmp_path)], capsys
    )
    assert code == 2
    assert "unknown exchange 'nope'" in err


def test_delete_and_the_installed_console_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(
        ["data", "sample", "--symbol", "SOL-USD", "--days", "1", "--data-dir", str(tmp_path)],
        capsys,
    )
    script = Path(sys.executable).with_name("spark-stacker")
    result = subprocess.run(
        [str(script), "data", "list", "--json", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {r["symbol"] for r in json.loads(result.stdout)} == {"SOL-USD"}
    code, out, _ = cli(
        [
            "data",
            "delete",
            "--venue",
            "hyperliquid",
            "--symbol",
            "SOL-USD",
            "--yes",
            "--data-dir",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 0
    assert out.count("removed") == 2
    assert listing(tmp_path, capsys) == []
