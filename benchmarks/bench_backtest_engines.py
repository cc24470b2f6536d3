"""The engines the backtest benchmark knows, in the order the table shows them."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Engine:
    name: str
    title: str
    module: str  # benchmarks/<module>.py with prepare(bars) and run(prepared, **options)
    imports: str  # what must be importable for the engine to run
    distribution: str  # whose version the results record
    options: dict[str, Any] = field(default_factory=dict)
    ours: bool = False

    def missing(self) -> str | None:
        """Why the engine can't run here, or None when it can."""
        try:
            found = importlib.util.find_spec(self.imports) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            return None
        if self.ours:
            return "sparkstacker engines: not available yet (no sparkstacker.backtest.api)"
        return f"{self.imports} is not installed (pip install -e '.[bench]')"


ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        Engine("numpy", "numpy + TA-Lib (lower bound)", "peer_numpy", "talib", "numpy"),
        Engine("vectorbt", "vectorbt", "peer_vectorbt", "vectorbt", "vectorbt"),
        Engine("backtesting", "backtesting.py", "peer_backtesting", "backtesting", "backtesting"),
        Engine("backtrader", "backtrader", "peer_backtrader", "backtrader", "backtrader"),
        Engine(
            "sparkstacker-fast",
            "sparkstacker fast path",
            "peer_sparkstacker",
            "sparkstacker.backtest.api",
            "spark-stacker",
            {"fast": True},
            ours=True,
        ),
        Engine(
            "sparkstacker-event",
            "sparkstacker event engine",
            "peer_sparkstacker",
            "sparkstacker.backtest.api",
            "spark-stacker",
            {"fast": False},
            ours=True,
        ),
    )
}
REFERENCE = "numpy"
