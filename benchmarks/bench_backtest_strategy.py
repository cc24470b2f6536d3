"""The reference strategy every engine runs, defined once, and the numpy + TA-Lib lower bound.

MACD(12, 26, 9) crossover flip, 1 unit, 0.05 % fee per side on notional, fill at next open:

* ``macd, signal = talib.MACD(close, 12, 26, 9)`` (TA-Lib for every engine).
* bar ``i`` crosses above when ``macd[i] > signal[i]`` and ``macd[i-1] <= signal[i-1]``; below
  when ``macd[i] < signal[i]`` and ``macd[i-1] >= signal[i-1]``. A comparison with NaN is
  false, so nothing crosses during the warm-up or on the first valid bar.
* at the close of a bar that crosses above the target position becomes +1, below: -1,
  otherwise it stays; before the first cross it is 0 (flat).
* the order that reaches the target fills at the **next** bar's open (a flip is one order of
  2 units, or close + open; same fees either way). A cross on the last bar never fills.
* fee = 0.0005 × |units| × fill price on every fill; no slippage, no funding.
* at the end the open position is **marked to market** at the last close (not closed, no exit
  fee): ``final equity = cash + position × close[-1]``.
* trades = positions opened (the first entry and every flip), counting the one still open at
  the end. For this always-in-the-market strategy that also equals the number of fills.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAST, SLOW, SIGNAL = 12, 26, 9
FEE = 0.0005
UNITS = 1.0
INITIAL_EQUITY = 1_000_000.0  # ~80k flips of 2 units at ~2000 pay ~160k in fees per 1M bars

RULES = """\
strategy "bench_macd" {
    market ETH-USD on sim
    timeframe 1m
    let m = macd(close, 12, 26, 9)
    enter long  when m.macd crosses above m.signal
    enter short when m.macd crosses below m.signal
    size fixed_units(1)
    leverage 1x
    fees maker 0.05% taker 0.05%
    slippage 0 bps
    fill at next_open
}
"""


@dataclass(frozen=True)
class Outcome:
    """What every engine must agree on."""

    trades: int
    final_equity: float


def crossings(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(crosses_above, crosses_below) boolean arrays of MACD over its signal line."""
    import talib

    macd, signal, _ = talib.MACD(close, FAST, SLOW, SIGNAL)
    now_above, now_below = macd[1:] > signal[1:], macd[1:] < signal[1:]
    was_at_or_below, was_at_or_above = macd[:-1] <= signal[:-1], macd[:-1] >= signal[:-1]
    above = np.zeros(len(close), dtype=bool)
    below = np.zeros(len(close), dtype=bool)
    above[1:] = now_above & was_at_or_below
    below[1:] = now_below & was_at_or_above
    return above, below


def signal_series(close: np.ndarray) -> np.ndarray:
    """+1 at bars that cross above, -1 at bars that cross below, 0 elsewhere (float64)."""
    above, below = crossings(close)
    return above.astype(np.float64) - below.astype(np.float64)


def target_positions(signals: np.ndarray) -> np.ndarray:
    """The wanted position after each bar's close: the last non-zero signal so far, else 0."""
    marks = np.where(signals != 0, np.arange(len(signals)), 0)
    np.maximum.accumulate(marks, out=marks)
    return signals[marks]  # before any signal marks is 0 and signals[0] is that 0 (or the signal)


def run_numpy(
    open_: np.ndarray,
    close: np.ndarray,
    *,
    fee: float = FEE,
    units: float = UNITS,
    initial_equity: float = INITIAL_EQUITY,
) -> Outcome:
    """Signals plus vectorised PnL with no order simulation: the lower bound on time."""
    target = target_positions(signal_series(close)) * units
    held = np.empty_like(target)  # position during bar j (filled at its open)
    held[0] = 0.0
    held[1:] = target[:-1]
    traded = np.diff(held, prepend=0.0)
    notional = traded * open_
    fees = fee * np.abs(notional).sum()
    cash = initial_equity - notional.sum() - fees
    opened = int(np.count_nonzero((traded != 0) & (held != 0)))
    return Outcome(trades=opened, final_equity=float(cash + held[-1] * close[-1]))
