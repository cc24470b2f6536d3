"""The governor runs unchanged inside a backtest: drawdown levels change state and orders."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.lang import compile_text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bars_kit import frame

RULE = """
portfolio {
    on drawdown 5% reduce_only
    on drawdown 8% halt
    on drawdown 10% flatten
}
strategy "g" {
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1]
    size fixed_units(100)
    leverage 2x
    fees maker 0% taker 0%
    slippage 0 bps
}
"""


def test_drawdown_walks_the_states_and_flatten_closes_the_position(registry) -> None:  # type: ignore[no-untyped-def]
    opens = [100, 100, 100, 99, 95, 92, 90, 90]
    closes = [100, 100.5, 99, 95, 92, 90, 90, 90]
    bars = frame(opens, closes)
    result = run_backtest(
        compile_text(RULE, registry),
        registry,
        BacktestOptions(frames={("sim", "ETH-USD", "1m"): bars}),
    )
    assert [(a["from"], a["to"]) for a in result.governor_actions] == [
        ("ACTIVE", "REDUCE_ONLY"),
        ("REDUCE_ONLY", "HALTED"),
        ("HALTED", "FLATTEN"),
    ]
    buy, sell = result.fills
    assert (buy.side.value, buy.size, buy.price) == ("buy", Decimal(100), Decimal(100))
    assert (sell.side.value, sell.size, sell.price) == ("sell", Decimal(100), Decimal(90))
    flatten = [o for o in result.orders if o.reduce_only]
    assert flatten[0].annotations["origin"] == "governor"
    assert result.final_equity == pytest.approx(10_000 - 100 * 10)
    assert any(e["kind"] == "governor" and e["severity"] == "critical" for e in result.risk_events)
