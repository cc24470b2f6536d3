"""Margin-warning actions on crafted paths: ``reduce 50%`` and ``close_all``, once per crossing.

Long 100 ETH at 100 with 1,200 USD in the main account (10x), hedged 20 % on a second account.
The main account's margin ratio is maintenance over equity: 2 % of the notional at the close
(ETH's 25x maximum) over ``1200 + realised + size × (close − entry)``. Every ratio below is
worked out by hand in the comments. No fees, no slippage: orders fill at the next open.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from sparkstacker.backtest.metrics import compute_metrics
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model import to_millis

D = Decimal
T0 = 1_704_067_200_000
STEP = 60_000
RULE = """
strategy "m" {{
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1] and close > 100
    size fixed_units(100)
    leverage 10x
    hedge ratio 20%, leverage 2x, on sim account "hedge", within 10s else unwind
    fees maker 0% taker 0%
    slippage 0 bps
    fill at next_open
    risk margin_warning {level} {action}
}}
"""


def run(registry, bars: list[tuple[float, float, float]], level: str, action: str):  # type: ignore[no-untyped-def]
    o = np.array([b[0] for b in bars])
    c = np.array([b[1] for b in bars])
    frame = BarFrame(
        timeframe="1m",
        timestamp=T0 + STEP * np.arange(len(bars), dtype=np.int64),
        open=o,
        high=np.maximum(o, c),
        low=np.minimum(o, c),
        close=c,
        volume=np.array([b[2] for b in bars]),
    )
    return run_backtest(
        compile_text(RULE.format(level=level, action=action), registry),
        registry,
        BacktestOptions(
            frames={("sim", "ETH-USD", "1m"): frame},
            account_equity={"sim": D(1200)},
            volume_share=D("0.1"),
        ),
    )


def fills(result, venue: str) -> list[tuple[int, str, Decimal, Decimal]]:  # type: ignore[no-untyped-def]
    """(bar, side, size, price) of one account's fills."""
    return [
        ((to_millis(f.timestamp) - T0) // STEP, f.side.value, f.size, f.price)
        for f in result.fills
        if f.venue == venue
    ]


def warnings_at(result) -> list[int]:  # type: ignore[no-untyped-def]
    """The bars whose close raised a margin warning."""
    from datetime import datetime

    return [
        (to_millis(datetime.fromisoformat(e["timestamp"])) - T0) // STEP - 1
        for e in result.risk_events
        if e["kind"] == "margin_warning"
    ]


BIG = 1e6


def test_reduce_halves_the_main_leg_the_hedge_follows_and_it_fires_once_per_crossing(
    registry,
) -> None:  # type: ignore[no-untyped-def]
    bars = [
        (100, 100, BIG),
        (100, 101, BIG),  # 101 > 100: long 100 at the next open
        (100, 100, BIG),  # long 100 @ 100; ratio 0.02·100·100 / 1200 = 16.7 %
        (100, 90, BIG),  # equity 1200 − 1000 = 200; ratio 180 / 200 = 90 % ≥ 20 %: reduce
        (90, 90, BIG),  # sold 50 @ 90; ratio 0.02·50·90 / 200 = 45 %: still above, no action
        (90, 95, BIG),  # equity 450; ratio 95 / 450 = 21.1 %: still above, no action
        (95, 100, BIG),  # equity 700; ratio 100 / 700 = 14.3 % < 20 %: re-armed
        (100, 90, BIG),  # equity 200; ratio 90 / 200 = 45 %: crossed again, reduce
        (90, 90, BIG),  # sold 25 @ 90; ratio 0.02·25·90 / 200 = 22.5 %: above, no action
        (90, 90, BIG),
    ]
    result = run(registry, bars, "20%", "reduce 50%")
    assert fills(result, "sim") == [
        (2, "buy", D(100), D(100)),
        (4, "sell", D(50), D(90)),
        (8, "sell", D(25), D(90)),
    ]
    assert fills(result, "sim.hedge") == [  # −20 % of the main leg after each change
        (2, "sell", D(20), D(100)),
        (4, "buy", D(10), D(90)),
        (8, "buy", D(5), D(90)),
    ]
    assert warnings_at(result) == [3, 7]
    reduced = [o for o in result.orders if o.annotations.get("reason") == "margin: reduce 50%"]
    assert [o.annotations["origin"] for o in reduced] == ["monitor", "monitor"]
    assert compute_metrics(result).margin_actions == 2


def test_close_all_closes_both_legs_once_per_crossing_even_when_the_close_fills_partly(
    registry,
) -> None:  # type: ignore[no-untyped-def]
    bars = [
        (100, 100, BIG),
        (100, 101, BIG),
        (100, 100, BIG),  # long 100 @ 100, hedge −20
        (100, 91, BIG),  # equity 300; ratio 0.02·100·91 / 300 = 60.7 % ≥ 50 %: close all
        (91, 91, 100),  # volume cap 10: only 10 of 100 sell; ratio 0.02·90·91 / 300 = 54.6 %:
        # still above the level, so no second action (once per crossing)
        (91, 91, BIG),  # 54.6 %: no action
        (91, 97, BIG),  # equity 300 + 90·6 = 840; ratio 174.6 / 840 = 20.8 %: re-armed
        (97, 90, BIG),  # equity 840 − 630 = 210; ratio 162 / 210 = 77.1 %: close all again
        (90, 90, BIG),  # the remaining 90 sell @ 90; flat
        (90, 90, BIG),
    ]
    result = run(registry, bars, "50%", "close_all")
    assert fills(result, "sim") == [
        (2, "buy", D(100), D(100)),
        (4, "sell", D(10), D(91)),
        (8, "sell", D(90), D(90)),
    ]
    assert fills(result, "sim.hedge") == [
        (2, "sell", D(20), D(100)),
        (4, "buy", D(2), D(91)),
        (8, "buy", D(18), D(90)),
    ]
    assert warnings_at(result) == [3, 7]
    closes = [o for o in result.orders if o.annotations.get("reason") == "margin: close all"]
    assert [(o.size, o.filled_size) for o in closes] == [(D(100), D(10)), (D(90), D(90))]
    assert all(e["data"]["acted"] is True for e in result.risk_events)
    assert compute_metrics(result).margin_actions == 2
