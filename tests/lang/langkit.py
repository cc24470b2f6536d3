"""Helpers for the rule-language tests: sources, small frames, real candles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sparkstacker.lang.plan import BarFrame

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "rules" / "examples"
HL = "hippocritical__freqtrade_hyperliquid_download-data/user_data/data/hyperliquid/futures"
HOUR_MS = 3_600_000

HEADER = 'strategy "s" {\n    market ETH-USD on hyperliquid\n    timeframe 1h\n'


def strategy(body: str, *, timeframe: str = "1h") -> str:
    """A minimal rule strategy around ``body`` (statements, one per line)."""
    head = HEADER.replace("timeframe 1h", f"timeframe {timeframe}")
    return head + "".join(f"    {line}\n" for line in body.strip().splitlines()) + "}\n"


def hourly_frame(close: list[float], *, start_ms: int = 0, timeframe: str = "1h") -> BarFrame:
    """Bars whose open/high/low equal the close (easy to reason about by hand)."""
    values = np.asarray(close, dtype=float)
    step = {"1m": 60_000, "1h": HOUR_MS, "4h": 4 * HOUR_MS}[timeframe]
    stamps = start_ms + step * np.arange(len(values), dtype=np.int64)
    return BarFrame(timeframe, stamps, values, values, values, values, np.ones(len(values)))


def feather_frame(path: Path, timeframe: str, rows: slice | None = None) -> BarFrame:
    import pandas as pd

    table = pd.read_feather(path)
    if rows is not None:
        table = table.iloc[rows].reset_index(drop=True)
    stamps = np.asarray([int(t.timestamp() * 1000) for t in table["date"]], dtype=np.int64)
    return BarFrame(
        timeframe,
        stamps,
        *(table[c].to_numpy(float) for c in ("open", "high", "low", "close", "volume")),
    )


def bar_at(frame: BarFrame, index: int) -> dict[str, float]:
    bar = {n: float(frame.field(n)[index]) for n in ("open", "high", "low", "close", "volume")}
    bar["timestamp"] = float(frame.timestamp[index])
    return bar


def cut(frame: BarFrame, stop: int) -> BarFrame:
    """The first ``stop`` bars of a frame."""
    return BarFrame(
        frame.timeframe,
        frame.timestamp[:stop],
        *(frame.field(n)[:stop] for n in ("open", "high", "low", "close", "volume")),
    )
