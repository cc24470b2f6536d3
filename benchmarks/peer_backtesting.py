"""backtesting.py: market orders at the next open, ``exclusive_orders`` flips, no finalising.

``trade_on_close=False`` fills an order placed in ``next()`` at the following bar's open;
``exclusive_orders=True`` closes the open trade when the opposite order fills (close + open,
so the fee is paid on both units). ``finalize_trades=False`` leaves the last trade open and
the final equity marks it to the last close, like every other engine here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from bench_backtest_data import Bars
from bench_backtest_strategy import FEE, INITIAL_EQUITY, UNITS, Outcome, signal_series

LIBRARY = "backtesting"


def prepare(bars: Bars) -> pd.DataFrame:
    index = pd.to_datetime(bars.timestamp, unit="ms", utc=True).tz_localize(None)
    return pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=index,
    )


def _strategy() -> type:
    from backtesting import Strategy

    class MacdFlip(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            close = np.asarray(self.data.Close, dtype=np.float64)
            self.signal = self.I(signal_series, close, name="macd_cross", plot=False)

        def next(self) -> None:
            signal = self.signal[-1]
            if signal > 0 and not self.position.is_long:
                self.buy(size=UNITS)
            elif signal < 0 and not self.position.is_short:
                self.sell(size=UNITS)

    return MacdFlip


def run(frame: pd.DataFrame) -> Outcome:
    from backtesting import Backtest

    backtest = Backtest(
        frame,
        _strategy(),
        cash=INITIAL_EQUITY,
        commission=FEE,
        margin=1.0,
        trade_on_close=False,
        hedging=False,
        exclusive_orders=True,
        finalize_trades=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": intended, see module doc
        stats = backtest.run()
    strategy = stats["_strategy"]
    opened = len(strategy.closed_trades) + len(strategy.trades)
    return Outcome(trades=opened, final_equity=float(stats["Equity Final [$]"]))
