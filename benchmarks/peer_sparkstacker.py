"""Spark Stacker's own engines (fast path and event engine) on the benchmark rule text.

Both run ``bench_backtest_strategy.RULES`` through ``sparkstacker.backtest.api.run_backtest``.
``result.trades`` holds one round trip per position opened (still-open ones included) and
``result.final_equity`` is equity at the last bar close, so both compare directly with the
peers' outcome.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bench_backtest_data import Bars
from bench_backtest_strategy import INITIAL_EQUITY, RULES, Outcome

LIBRARY = "sparkstacker.backtest.api"


def prepare(bars: Bars) -> Any:
    from sparkstacker.lang.plan import BarFrame

    return BarFrame(
        timeframe="1m",
        timestamp=bars.timestamp,
        open=bars.open,
        high=bars.high,
        low=bars.low,
        close=bars.close,
        volume=bars.volume,
    )


def run(frame: Any, *, fast: bool) -> Outcome:
    from sparkstacker.backtest.api import run_backtest

    result = run_backtest(
        RULES,
        frame,
        fast=fast,
        initial_equity=Decimal(repr(INITIAL_EQUITY)),
        volume_share=None,  # no cap on an order's share of bar volume: no peer has one
    )
    return Outcome(trades=len(result.trades), final_equity=float(result.final_equity))
