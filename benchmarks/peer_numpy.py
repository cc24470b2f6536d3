"""numpy + TA-Lib lower bound: signals and vectorised PnL, no order simulation."""

from __future__ import annotations

import numpy as np
from bench_backtest_data import Bars
from bench_backtest_strategy import Outcome, run_numpy

LIBRARY = "numpy"


def prepare(bars: Bars) -> tuple[np.ndarray, np.ndarray]:
    return bars.open, bars.close


def run(prepared: tuple[np.ndarray, np.ndarray]) -> Outcome:
    open_, close = prepared
    return run_numpy(open_, close)
