"""The event engine on crafted bars: flips, fees, leverage, rounding, vetoes — checked by hand."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sparkstacker import hookimpl
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.errors import ConfigError, OrderVetoed
from sparkstacker.lang import compile_text
from sparkstacker.model import OrderStatus

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bars_kit import frame

D = Decimal
RULE = """
strategy "t" {{
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1]
    enter short when close < close[1]
    size {size}
    leverage {leverage}
    fees maker 0% taker 0.1%
    slippage 0 bps
    fill at next_open
}}
"""


PATH = frame([100, 100, 102, 102, 100, 100], [100, 101, 102, 101, 100, 100])


def run(registry, size: str = "fixed_units(1)", leverage: str = "2x", plugins=(), bars=PATH):  # type: ignore[no-untyped-def]
    compiled = compile_text(RULE.format(size=size, leverage=leverage), registry)
    options = BacktestOptions(frames={("sim", "ETH-USD", "1m"): bars}, plugins=plugins)
    return run_backtest(compiled, registry, options)


def test_flip_fees_and_equity_by_hand(registry) -> None:  # type: ignore[no-untyped-def]
    result = run(registry)
    fills = [(f.side.value, f.size, f.price, f.fee) for f in result.fills]
    # long 1 at bar 2's open; the flip at bar 3's close is ONE order of 2 at bar 4's open
    assert fills == [("buy", D(1), D(102), D("0.102")), ("sell", D(2), D(100), D("0.2"))]
    long_trip, short_trip = result.trades
    assert (long_trip.direction, long_trip.pnl, long_trip.is_open) == ("long", D(-2), False)
    assert (short_trip.direction, short_trip.entry_price, short_trip.is_open) == (
        "short",
        D(100),
        True,
    )
    assert result.final_equity == pytest.approx(10_000 - 2 - 0.102 - 0.2, abs=1e-9)
    assert all(o.status is OrderStatus.FILLED for o in result.orders)


def test_leverage_is_applied_and_read_back(registry) -> None:  # type: ignore[no-untyped-def]
    result = run(registry, leverage="3x")
    assert result.assumptions["leverage"].startswith("applied with set_leverage")
    assert all(o.leverage == D(3) for o in result.orders)


def test_leverage_above_the_venue_maximum_stops_at_start(registry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"leverage 30x exceeds the maximum 25x for ETH-USD"):
        run(registry, leverage="30x")


def test_a_size_that_rounds_to_zero_is_never_sent(registry) -> None:  # type: ignore[no-untyped-def]
    result = run(registry, size="fixed_units(0.00001)")
    assert result.orders == []
    assert result.fills == []
    assert result.final_equity == pytest.approx(10_000)


def test_a_submit_order_wrapper_can_veto(registry) -> None:  # type: ignore[no-untyped-def]
    class NoShorts:
        @hookimpl(wrapper=True)
        def submit_order(self, submission):  # type: ignore[no-untyped-def]
            if submission.order.side.value == "sell":
                raise OrderVetoed("no shorts today", check="no-shorts")
            return (yield)

    result = run(registry, plugins=[NoShorts()])
    statuses = [(o.side.value, o.status, o.reason) for o in result.orders]
    assert statuses[0][:2] == ("buy", OrderStatus.FILLED)
    assert statuses[1] == (
        "sell",
        OrderStatus.REJECTED,
        "order vetoed by no-shorts: no shorts today",
    )
    assert [f.side.value for f in result.fills] == ["buy"]


def test_strategy_series_are_freed_before_the_result_is_built(registry, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The whole-frame series (tens of MB at a million bars) must not add to the result's peak."""
    import sparkstacker.backtest.runner as runner

    held: list[object] = []
    original = runner.collect_result

    def checking(**kwargs):  # type: ignore[no-untyped-def]
        held.extend(slot.runtime.prepared for slot in kwargs["engine"].slots)
        return original(**kwargs)

    monkeypatch.setattr(runner, "collect_result", checking)
    result = run(registry)
    assert held == [None]
    assert len(result.fills) == 2  # and the run itself was complete
