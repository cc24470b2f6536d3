"""vectorbt: ``Portfolio.from_signals`` with signals shifted one bar and filled at the open.

vectorbt fills a signal on its own bar at ``price``; to fill a decision taken at bar ``i``'s
close at bar ``i+1``'s open, the entries are shifted forward by one bar and ``price`` is the
open series. ``upon_opposite_entry="reverse"`` makes an opposite entry one 2-unit order.
The portfolio is valued at each close, so the final value marks the open position to market.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from bench_backtest_data import Bars
from bench_backtest_strategy import FEE, INITIAL_EQUITY, UNITS, Outcome, signal_series

LIBRARY = "vectorbt"


def prepare(bars: Bars) -> pd.DataFrame:
    # tz-naive UTC: with a tz-aware index vectorbt's result wrapping iterates over Timestamp
    # objects and takes ~10 s per 1M bars in from_signals and again in final_value
    index = pd.to_datetime(bars.timestamp, unit="ms")
    return pd.DataFrame({"open": bars.open, "close": bars.close}, index=index)


def _next_bar(flags: np.ndarray) -> np.ndarray:
    shifted = np.zeros_like(flags)
    shifted[1:] = flags[:-1]
    return shifted


def run(frame: pd.DataFrame) -> Outcome:
    import vectorbt as vbt

    signals = signal_series(frame["close"].to_numpy())
    portfolio = vbt.Portfolio.from_signals(
        close=frame["close"],
        entries=_next_bar(signals > 0),
        exits=False,
        short_entries=_next_bar(signals < 0),
        short_exits=False,
        price=frame["open"],
        size=UNITS,
        size_type="amount",
        fees=FEE,
        init_cash=INITIAL_EQUITY,
        accumulate=False,
        upon_opposite_entry="reverse",
        freq="1min",
    )
    return Outcome(
        trades=int(portfolio.positions.count()), final_equity=float(portfolio.final_value())
    )
