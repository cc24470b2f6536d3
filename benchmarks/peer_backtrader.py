"""backtrader: market orders (filled at the next bar's open) via ``order_target_size``.

The crossing signal rides along as an extra data line. A flip is one order of 2 units;
backtrader splits it into a closed trade and a new one, so trades are counted from
``notify_trade`` when one ``justopened``. ``broker.getvalue()`` marks the open position to
the last close. Commission is a percentage of notional (``percabs=True``: 0.0005 = 0.05 %).
"""

from __future__ import annotations

import pandas as pd
from bench_backtest_data import Bars
from bench_backtest_strategy import FEE, INITIAL_EQUITY, UNITS, Outcome, signal_series

LIBRARY = "backtrader"


def prepare(bars: Bars) -> pd.DataFrame:
    index = pd.to_datetime(bars.timestamp, unit="ms", utc=True).tz_localize(None)
    return pd.DataFrame(
        {
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        },
        index=index,
    )


def run(frame: pd.DataFrame) -> Outcome:
    import backtrader as bt

    class SignalFeed(bt.feeds.PandasData):  # type: ignore[misc]
        lines = ("signal",)
        params = (("signal", "signal"), ("openinterest", None))

    class MacdFlip(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.opened = 0

        def notify_trade(self, trade: bt.Trade) -> None:
            if trade.justopened:
                self.opened += 1

        def next(self) -> None:
            signal = self.data.signal[0]
            if signal > 0 and self.position.size <= 0:
                self.order_target_size(target=UNITS)
            elif signal < 0 and self.position.size >= 0:
                self.order_target_size(target=-UNITS)

    data = frame.assign(signal=signal_series(frame["close"].to_numpy()))
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(SignalFeed(dataname=data))
    cerebro.addstrategy(MacdFlip)
    cerebro.broker.setcash(INITIAL_EQUITY)
    cerebro.broker.setcommission(
        commission=FEE, commtype=bt.CommInfoBase.COMM_PERC, percabs=True, stocklike=True
    )
    (strategy,) = cerebro.run()
    return Outcome(trades=strategy.opened, final_equity=float(cerebro.broker.getvalue()))
