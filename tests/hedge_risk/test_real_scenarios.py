"""Failure scenarios on recorded candles, with expectations computed from the candles.

The segment: Binance ETHUSDT 1m, 2023-07-14 15:28 UTC onwards — ETH tops at 2005.75 and falls
5.3 % to 1899.38 within five hours (a real drawdown, not a crafted path).

* a hedge the venue rejects unwinds the main leg, every time, at the same bar's open;
* a margin warning that reduces a leveraged long keeps it from the liquidation the same position
  suffers without the warning (the "liquidation avoided" is shown by running both);
* the governor steps through its levels as the drawdown deepens, with hysteresis, and flattens.

Fees and slippage are zero where an expected price or equity is computed, so the arithmetic in
the test is exactly the venue's.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path

import numpy as np
import pytest
from hedgekit import EXAMPLE, eth_frame, hedge_target
from sparkstacker.backtest.metrics import compute_metrics
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.lang import compile_file, compile_text
from sparkstacker.model import OrderStatus, from_millis, to_millis

pytestmark = pytest.mark.shared

D = Decimal
PEAK_ROW, PEAK_BARS = 15_362, 330
MMR = 0.02  # Hyperliquid ETH: half the initial margin at its 25x maximum
STEP = 60_000


def fill_price(price: float, *, buy: bool) -> float:
    """A market order's fill at ``price`` with zero slippage: Hyperliquid prices have five
    significant figures (one decimal for ETH between 1,000 and 10,000), and the venue rounds
    against the taker — buys up, sells down."""
    return float(D(repr(float(price))).quantize(D("0.1"), rounding=ROUND_UP if buy else ROUND_DOWN))


def bar_of(frame, ms: int) -> int:  # type: ignore[no-untyped-def]
    index = int(np.searchsorted(frame.timestamp, ms))
    assert frame.timestamp[index] == ms, "a fill off the bar grid"
    return index


def test_rejected_hedge_unwinds_the_main_leg_on_real_candles(registry, marketdata: Path) -> None:  # type: ignore[no-untyped-def]
    """The hedge account holds 2 USD: a 20 USD hedge at 5x needs 4 USD of margin, so the venue
    rejects every hedge and the ``else unwind`` rule closes the main leg right away."""
    frame = eth_frame(marketdata, 15_100, 300)
    result = run_backtest(
        compile_file(EXAMPLE, registry),
        registry,
        BacktestOptions(
            frames={("hyperliquid", "ETH-USD", "1m"): frame},
            account_equity={"hyperliquid.hedge": D(2)},
        ),
    )
    hedges = [o for o in result.orders if o.venue == "hyperliquid.hedge"]
    entries = [
        o
        for o in result.orders
        if o.venue == "hyperliquid"
        and o.annotations.get("origin") == "strategy"
        and not o.reduce_only
    ]
    unwinds = [o for o in result.orders if o.annotations.get("reason", "").startswith("unwind:")]
    assert len(entries) >= 5
    assert not [f for f in result.fills if f.venue == "hyperliquid.hedge"]
    assert all(o.status is OrderStatus.REJECTED for o in hedges)
    assert all(o.reason == "Insufficient margin to place order." for o in hedges)
    # one hedge attempt, one critical risk event and one unwind per filled entry
    filled = [o for o in entries if o.filled_size > 0]
    assert len(hedges) == len(unwinds) == len(filled)
    failed = [e for e in result.risk_events if e["kind"] == "hedge_failed"]
    assert [e["severity"] for e in failed] == ["critical"] * len(filled)
    for entry, unwind in zip(filled, unwinds, strict=True):
        assert unwind.reduce_only
        assert unwind.side is not entry.side
        assert unwind.filled_size == entry.filled_size
        assert "Insufficient margin" in unwind.annotations["reason"]
    # the main leg never outlives its bar: entry and unwind fill at the same recorded open
    by_order = {}
    for fill in result.fills:
        by_order.setdefault(fill.client_order_id, []).append(fill)
    for entry, unwind in zip(filled, unwinds, strict=True):
        [opened], [closed] = by_order[entry.client_order_id], by_order[unwind.client_order_id]
        assert opened.timestamp == closed.timestamp
        i = bar_of(frame, to_millis(opened.timestamp))
        for fill in (opened, closed):  # at the open, moved only by the venue's slippage
            assert abs(float(fill.price) / frame.open[i] - 1) < 0.001
    assert "hedge" not in result.equity_by_leg  # the hedge leg never held anything


MARGIN_RULE = """
strategy "levered" {{
    market ETH-USD on sim
    timeframe 1m
    enter long when close > 0
    size fixed_units(10)
    leverage 15x
    hedge ratio 20%, leverage 2x, on sim account "hedge", within 10s else unwind
    fees maker 0% taker 0%
    slippage 0 bps
    fill at next_open
    {risk}
}}
"""


def margin_run(registry, frame, risk: str):  # type: ignore[no-untyped-def]
    return run_backtest(
        compile_text(MARGIN_RULE.format(risk=risk), registry),
        registry,
        BacktestOptions(
            frames={("sim", "ETH-USD", "1m"): frame},
            account_equity={"sim": D(1400)},
        ),
    )


def expected_margin_actions(frame, equity: float, level: float, fraction: float):  # type: ignore[no-untyped-def]
    """Replay the rule by hand: long 10 from bar 1's open; at each close the margin ratio is
    maintenance (2 % of the notional at the close) over equity (cash + unrealised); crossing
    ``level`` reduces by ``fraction`` at the next open; the warning re-arms below the level.
    Returns the actions [(bar decided, size sold)] and the final (size, cash)."""
    entry = fill_price(frame.open[1], buy=True)
    size, cash, armed, pending = 10.0, equity, True, None
    actions = []
    for i in range(1, len(frame)):
        if pending is not None:  # sold at this bar's open
            cash += pending * (fill_price(frame.open[i], buy=False) - entry)
            size -= pending
            pending = None
        close = float(frame.close[i])
        ratio = MMR * size * close / (cash + size * (close - entry))
        if ratio < level:
            armed = True
        elif armed:
            armed = False
            sold = float(D(repr(size * fraction)).quantize(D("0.0001"), rounding=ROUND_DOWN))
            actions.append((i, sold))
            pending = sold
    return actions, size, cash, entry


def test_margin_warning_reduces_and_avoids_the_liquidation_on_real_candles(
    registry, marketdata: Path
) -> None:  # type: ignore[no-untyped-def]
    frame = eth_frame(marketdata, PEAK_ROW, PEAK_BARS)
    entry = fill_price(frame.open[1], buy=True)
    # Without the warning: 10 ETH on 1,400 USD is liquidated where equity meets maintenance,
    # p = (10·entry − 1400) / (10 − 0.02·10); the recorded lows go below it.
    liquidation = (10 * entry - 1400) / (10 * (1 - MMR))
    assert frame.low.min() < liquidation
    bare = margin_run(registry, frame, "")
    assert bare.liquidations == 1
    first_below = int(np.argmax(frame.low < liquidation))
    [liquidated] = [f for f in bare.fills if f.is_liquidation]
    assert bar_of(frame, to_millis(liquidated.timestamp) // STEP * STEP) == first_below

    # With "margin_warning 50% reduce 50%": the actions the candles call for, and no liquidation.
    expected, size, cash, _ = expected_margin_actions(frame, 1400.0, 0.5, 0.5)
    assert expected, "the segment never crosses the level: pick another"
    warned = margin_run(registry, frame, "risk margin_warning 50% reduce 50%")
    assert warned.liquidations == 0
    sells = [o for o in warned.orders if o.venue == "sim" and o.reduce_only and o.filled_size]
    decided = [(bar_of(frame, to_millis(o.created_at) - STEP), float(o.filled_size)) for o in sells]
    assert decided == expected
    for order, (i, _) in zip(sells, expected, strict=True):
        assert order.annotations["reason"] == "margin: reduce 50%"
        assert order.avg_fill_price == D(repr(fill_price(frame.open[i + 1], buy=False)))
    # a reduced position's liquidation price is below every later low: it survived
    after = (size * entry - cash) / (size * (1 - MMR))
    assert frame.low[expected[-1][0] + 1 :].min() > after
    # the hedge followed the main leg down to 20 % of what was left
    main = sum((f.signed_size for f in warned.fills if f.venue == "sim"), D(0))
    hedge = sum((f.signed_size for f in warned.fills if f.venue == "sim.hedge"), D(0))
    assert main == D(repr(size))
    assert hedge == hedge_target(main)
    # the report counts the actions taken (one per crossing) and lists each warning
    warnings = [e for e in warned.risk_events if e["kind"] == "margin_warning"]
    assert len(warnings) == len(expected)
    assert all(e["data"]["acted"] is True for e in warnings)
    assert compute_metrics(warned).margin_actions == len(expected)
    assert compute_metrics(bare).margin_actions == 0


GOVERNOR_RULE = """
portfolio {
    on drawdown 0.9% reduce_only
    on drawdown 3.5% halt
    on drawdown 8% flatten
}
strategy "long" {
    market ETH-USD on sim
    timeframe 1m
    enter long when close > 0
    size fixed_units(10)
    leverage 3x
    fees maker 0% taker 0%
    slippage 0 bps
    fill at next_open
}
"""
LEVELS = ((0.009, "REDUCE_ONLY"), (0.035, "HALTED"), (0.08, "FLATTEN"))
RANK = {"ACTIVE": 0, "REDUCE_ONLY": 1, "HALTED": 2, "FLATTEN": 3}


def expected_governor(frame, equity: float, hysteresis: float = 0.2):  # type: ignore[no-untyped-def]
    """The governor as documented, from the candles: drawdown from the running peak of equity
    at each bar close; a level holds from its threshold until the drawdown is back under
    threshold × (1 − hysteresis); the state is the highest level held. FLATTEN closes the long
    at the next open, after which equity stays put."""
    entry = fill_price(frame.open[1], buy=True)
    peak, state, held = equity, "ACTIVE", set()
    size, cash = 0.0, equity
    changes = []
    flatten_at = None
    for i in range(len(frame)):
        if i == 1:
            size = 10.0
        if flatten_at is not None and i == flatten_at + 1:
            cash += size * (fill_price(frame.open[i], buy=False) - entry)
            size = 0.0
        value = cash + size * (float(frame.close[i]) - entry)
        peak = max(peak, value)
        drawdown = (peak - value) / peak
        for threshold, name in LEVELS:
            if drawdown >= threshold:
                held.add(name)
            elif drawdown < threshold * (1 - hysteresis):
                held.discard(name)
        target = max(held, key=RANK.__getitem__, default="ACTIVE")
        if target != state:
            changes.append((i, state, target))
            state = target
            if target == "FLATTEN" and flatten_at is None:
                flatten_at = i
    return changes, flatten_at


def test_governor_steps_through_its_levels_on_a_real_drawdown(registry, marketdata: Path) -> None:  # type: ignore[no-untyped-def]
    frame = eth_frame(marketdata, PEAK_ROW, PEAK_BARS)
    result = run_backtest(
        compile_text(GOVERNOR_RULE, registry),
        registry,
        BacktestOptions(frames={("sim", "ETH-USD", "1m"): frame}, initial_equity=D(10_000)),
    )
    expected, flatten_at = expected_governor(frame, 10_000.0)
    names = [(a, b) for _, a, b in expected]
    assert {b for _, b in names} >= {"REDUCE_ONLY", "HALTED", "FLATTEN"}
    assert any(RANK[b] < RANK[a] for a, b in names), "no step down: hysteresis untested"
    got = [(a["from"], a["to"]) for a in result.governor_actions]
    assert got == names
    # each change at the close of the bar whose equity caused it
    closes = [from_millis(int(frame.timestamp[i]) + STEP).isoformat() for i, _, _ in expected]
    assert [a["timestamp"] for a in result.governor_actions] == closes
    # FLATTEN closed the long with the governor's own order at the next open, once
    [flat] = [o for o in result.orders if o.reduce_only]
    assert flat.annotations["origin"] == "governor"
    sold = fill_price(frame.open[flatten_at + 1], buy=False)
    assert flat.avg_fill_price == D(repr(sold))
    bought = fill_price(frame.open[1], buy=True)
    assert result.final_equity == pytest.approx(10_000 + 10 * (sold - bought), abs=1e-9)
