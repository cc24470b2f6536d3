"""Hedged positions on crafted price paths: every failure path of the hedge protocol forced.

Two simulated accounts (``sim`` and ``sim.hedge``) are fed the same bars; the hedge leg lives on
the second account because a one-way venue would net opposite legs in one account.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.lang import compile_text
from sparkstacker.model import OrderStatus

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bars_kit import T0, frame

D = Decimal
RULE = """
strategy "h" {{
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1]
    enter short when close < close[1]
    size fixed_units({size})
    leverage {leverage}
    hedge ratio {ratio}, leverage 2x, on sim account "hedge", within 10s else {policy}
    fees maker 0% taker 0%
    slippage 0 bps
    fill at next_open
    {risk}
}}
"""


def run(
    registry,
    bars,
    *,
    size="1",
    ratio="20%",
    policy="unwind",
    leverage="4x",
    risk="",  # type: ignore[no-untyped-def]
    **options,
):
    text = RULE.format(size=size, ratio=ratio, policy=policy, leverage=leverage, risk=risk)
    compiled = compile_text(text, registry)
    opts = BacktestOptions(frames={("sim", "ETH-USD", "1m"): bars}, **options)
    return run_backtest(compiled, registry, opts)


def fills_by_venue(result):  # type: ignore[no-untyped-def]
    return [
        (f.venue, f.side.value, f.size, f.price, int(f.timestamp.timestamp() * 1000))
        for f in result.fills
    ]


UP_THEN_DOWN = frame([100, 100, 102, 102, 100, 100], [100, 101, 102, 101, 100, 100])


def test_hedge_follows_the_main_leg_at_the_same_open(registry) -> None:  # type: ignore[no-untyped-def]
    result = run(registry, UP_THEN_DOWN)
    t2, t4 = T0 + 2 * 60_000, T0 + 4 * 60_000
    assert fills_by_venue(result) == [
        ("sim", "buy", D(1), D(102), t2),  # main long 1 at bar 2's open
        ("sim.hedge", "sell", D("0.2"), D(102), t2),  # 20 % hedge, same open, other account
        ("sim", "sell", D(2), D(100), t4),  # flip: one order of 2
        ("sim.hedge", "buy", D("0.4"), D(100), t4),  # the hedge flips with it
    ]
    legs = {(t.leg, t.direction) for t in result.trades}
    assert legs == {("main", "long"), ("main", "short"), ("hedge", "short"), ("hedge", "long")}
    # main lost 2 on the long; the short hedge made 0.2 × 2 = 0.4
    assert result.equity_by_leg["main"][-1] == pytest.approx(-2.0, abs=1e-9)
    assert result.equity_by_leg["hedge"][-1] == pytest.approx(0.4, abs=1e-9)


def test_hedge_rejected_by_the_venue_unwinds_the_main_leg(registry) -> None:  # type: ignore[no-untyped-def]
    # the hedge account cannot margin 0.2 ETH at 2x (needs ~10 USD): the venue rejects it
    result = run(registry, UP_THEN_DOWN, account_equity={"sim.hedge": D("5")})
    hedge_orders = [o for o in result.orders if o.venue == "sim.hedge"]
    assert hedge_orders[0].status is OrderStatus.REJECTED
    assert hedge_orders[0].reason == "Insufficient margin to place order."
    main = [o for o in result.orders if o.venue == "sim" and o.leg == "main"]
    assert main[1].reduce_only
    assert main[1].annotations["reason"].startswith("unwind: hedge order none")
    kinds = [(e["kind"], e["severity"]) for e in result.risk_events]
    assert ("hedge_failed", "critical") in kinds


def test_hedge_below_the_minimum_is_a_failure_not_a_silent_skip(registry) -> None:  # type: ignore[no-untyped-def]
    result = run(registry, UP_THEN_DOWN, ratio="5%")  # 0.05 ETH × 102 = 5.1 USD < 10 USD
    assert not [o for o in result.orders if o.venue == "sim.hedge"]
    assert any("hedge cannot be placed" in e["message"] for e in result.risk_events)
    exits = [o for o in result.orders if o.reduce_only]
    assert exits
    assert exits[0].status is OrderStatus.FILLED


def test_keep_policy_leaves_the_main_leg_with_a_risk_event(registry) -> None:  # type: ignore[no-untyped-def]
    result = run(registry, UP_THEN_DOWN, ratio="5%", policy="keep")
    assert not any(o.reduce_only for o in result.orders if o.venue == "sim")
    # one failed hedge per main position (the long, then the flipped short), never an unwind
    assert [e["severity"] for e in result.risk_events if e["kind"] == "hedge_failed"] == [
        "warning",
        "warning",
    ]


def test_partially_filled_main_sizes_the_hedge_from_the_fill(registry) -> None:  # type: ignore[no-untyped-def]
    bars = frame([100, 100, 102, 102, 102], [100, 101, 102, 102, 102], volume=6.0)
    result = run(registry, bars, size="1", volume_share=D("0.1"))  # at most 0.6 per bar
    main, hedge = result.orders[0], next(o for o in result.orders if o.venue == "sim.hedge")
    assert (main.filled_size, main.status) == (D("0.6"), OrderStatus.CANCELLED)
    assert hedge.size == D("0.12")  # 20 % of what filled, not of what was asked
    assert hedge.filled_size == D("0.12")


def test_hedge_window_elapsed_cancels_and_unwinds(registry) -> None:  # type: ignore[no-untyped-def]
    bars = frame([100] * 3 + [101] * 5, [100, 101] + [101] * 6)
    result = run(registry, bars, latency_ms=90_000)  # the hedge arrives after its 10 s window
    hedge = next(o for o in result.orders if o.venue == "sim.hedge")
    assert hedge.status is OrderStatus.CANCELLED
    assert hedge.reason == "hedge window elapsed"
    assert any(o.reduce_only and o.venue == "sim" for o in result.orders)


def test_margin_warning_closes_the_profitable_hedge(registry) -> None:  # type: ignore[no-untyped-def]
    # long 100 ETH at 100 with 1,200 USD in the main account: maintenance margin is 2 % of the
    # notional (ETH max 25x); at 95 the margin ratio is 190 / 700 = 27 % >= 25 %
    bars = frame([100, 100, 100, 97, 95, 95], [100, 101, 97, 95, 95, 95])
    result = run(
        registry,
        bars,
        size="100",
        leverage="10x",
        risk="risk margin_warning 25% close_hedge_if_profitable",
        account_equity={"sim": Decimal("1200")},
    )
    hedge_orders = [o for o in result.orders if o.venue == "sim.hedge"]
    opened, closed = hedge_orders
    assert (opened.side.value, opened.filled_size) == ("sell", Decimal(20))
    assert (closed.side.value, closed.filled_size, closed.reduce_only) == ("buy", Decimal(20), True)
    assert closed.annotations["reason"] == "margin: close profitable hedge"
    assert result.fills[-1].venue == "sim.hedge"  # nothing re-hedged after the margin action
    main_fills = [f for f in result.fills if f.venue == "sim"]
    assert [(f.side.value, f.size) for f in main_fills] == [("buy", Decimal(100))]  # still open
    warning = next(e for e in result.risk_events if e["kind"] == "margin_warning")
    assert "close_hedge_if_profitable" in warning["message"]
