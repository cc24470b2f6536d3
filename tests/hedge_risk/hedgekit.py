"""Helpers for the hedge/risk tests: real ETH candles, the hedged example, child processes and
Prometheus scrapes.

The candles are Binance USDⓈ-M ETHUSDT perp 1m bars recorded in ``../shared/marketdata``
(read in place, never copied into the repo).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import ROUND_DOWN, Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from sparkstacker.lang.plan import BarFrame

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLE = REPO / "rules" / "examples" / "macd_eth_1m_hedged.rules"
STRATEGY = "macd_eth_1m_hedged"
SCRIPT = Path(sys.executable).with_name("spark-stacker")
SOURCES = {
    "alpergulsen": "Alpergulsen__freqtrade/user_data/data/binance/futures",
    "typhonun": "typhonun__DcaTpStrategy/user_data/data/binance/futures",
}
ETH_FILE = "ETH_USDT_USDT-1m-futures.feather"
ETH_LOT = Decimal("0.0001")  # Hyperliquid ETH: szDecimals 4


def eth_file(marketdata: Path, source: str = "alpergulsen") -> Path:
    return marketdata / SOURCES[source] / ETH_FILE


@cache
def eth_candles(path: Path) -> pd.DataFrame:
    raw = pd.read_feather(path)
    return pd.DataFrame(
        {
            "ts": raw["date"].astype("datetime64[ms, UTC]").astype("int64").to_numpy(),
            "open": raw["open"].to_numpy(dtype=np.float64),
            "high": raw["high"].to_numpy(dtype=np.float64),
            "low": raw["low"].to_numpy(dtype=np.float64),
            "close": raw["close"].to_numpy(dtype=np.float64),
            "volume": raw["volume"].to_numpy(dtype=np.float64),
        }
    )


def eth_frame(marketdata: Path, start: int, bars: int, source: str = "alpergulsen") -> BarFrame:
    """``bars`` recorded 1m bars from row ``start`` of the recording."""
    data = eth_candles(eth_file(marketdata, source)).iloc[start : start + bars]
    assert len(data) == bars, "the recording is shorter than asked"
    return BarFrame(
        timeframe="1m",
        timestamp=data["ts"].to_numpy(dtype=np.int64),
        open=data["open"].to_numpy(),
        high=data["high"].to_numpy(),
        low=data["low"].to_numpy(),
        close=data["close"].to_numpy(),
        volume=data["volume"].to_numpy(),
    )


def hedge_target(main: Decimal, ratio: Decimal = Decimal("0.2"), lot: Decimal = ETH_LOT) -> Decimal:
    """``-ratio × main``, rounded down to the lot (the rule the hedge leg follows)."""
    raw = abs(main) * ratio
    size = (raw / lot).to_integral_value(rounding=ROUND_DOWN) * lot
    return -size if main > 0 else size


# ---- child processes ------------------------------------------------------------------------


def command(*args: str) -> list[str]:
    if SCRIPT.exists():
        return [str(SCRIPT), *args]
    return [sys.executable, "-c", "from sparkstacker.cli import main; main()", *args]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULT_")}
    env["SPARKSTACKER_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(extra or {})
    return env


def spark(cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=timeout
    )


def run_scraped(cwd: Path, state_dir: Path, *args: str, timeout: float = 240) -> dict:  # type: ignore[type-arg]
    """Run ``spark-stacker ARGS`` while ``scrape_child.py`` scrapes its /metrics."""
    out = cwd / "scrapes.json"
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / "scrape_child.py"),
            str(out),
            str(state_dir),
            "--",
            *command(*args),
        ],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    data: dict = json.loads(out.read_text())  # type: ignore[type-arg]
    assert data["returncode"] == 0, data["stderr"][-3000:]
    return data


def samples(scrape: str, metric: str, **labels: str) -> list[float]:
    """Values of every series of ``metric`` whose labels include ``labels``."""
    found = []
    for line in scrape.splitlines():
        if not line.startswith(metric + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            found.append(float(line.rsplit(" ", 1)[1]))
    return found


def series(scrape: str, metric: str) -> list[dict[str, str]]:
    """The label sets of every series of ``metric`` in a scrape."""
    out = []
    for line in scrape.splitlines():
        if line.startswith(metric + "{"):
            body = line[len(metric) + 1 : line.index("}")]
            out.append(dict(part.split("=", 1) for part in body.split(",")) | {})
    return [{k: v.strip('"') for k, v in s.items()} for s in out]


def import_eth(marketdata: Path, store: Path, source: str = "alpergulsen") -> None:
    """The recorded ETH 1m candles into a data store, as Hyperliquid's ETH-USD."""
    from sparkstacker.data.importers import import_file
    from sparkstacker.data.store import CandleStore

    import_file(
        CandleStore(store),
        eth_file(marketdata, source),
        venue="hyperliquid",
        symbol="ETH-USD",
        timeframe="1m",
    )


def paper_dirs(marketdata: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """For a paper run under ``tmp_path``: a store holding the recorded ETH candles, a state
    folder and a SQLite journal URL."""
    store, state = tmp_path / "store", tmp_path / "state"
    import_eth(marketdata, store)
    return store, state, f"sqlite:///{tmp_path / 'spark_stacker.db'}"
