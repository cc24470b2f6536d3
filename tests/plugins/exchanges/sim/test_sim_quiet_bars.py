"""Quiet bars taken at once (``on_bar_quiet``, ``on_quiet_bars``) leave the venue exactly as
``on_bar_open`` + ``on_bar_close`` bar by bar would, and are refused whenever a bar could
touch something (an order, a liquidation price, a funding boundary) or the data is odd."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from simkit import MIN, SYMBOL, T0, flat_bar, make_sim, market, order
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
from sparkstacker_plugins.exchanges.sim.quiet import BarSeries

D = Decimal
FIELDS = ("ts", "tf", "open", "high", "low", "close", "volume", "last", "busy", "bar_seq")


def walk(n: int, seed: int, start: float = 2000.0, spread: float = 0.001) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    close = np.round(start * np.exp(np.cumsum(rng.normal(0, spread, n))), 1)
    open_ = np.concatenate([[start], close[:-1]])
    return {
        "ts": T0 + MIN * np.arange(1, n + 1, dtype=np.int64),
        "open": open_,
        "high": np.maximum(open_, close) + 0.5,
        "low": np.minimum(open_, close) - 0.5,
        "close": close,
        "volume": np.full(n, 1_000.0),
    }


def series(bars: dict[str, Any]) -> BarSeries:
    return BarSeries.of(
        MIN, bars["ts"], bars["open"], bars["high"], bars["low"], bars["close"], bars["volume"]
    )


def one_by_one(sim: SimExchange, bars: dict[str, Any], start: int, stop: int) -> list[Any]:
    events: list[Any] = []
    for i in range(start, stop):
        row = [float(bars[k][i]) for k in ("open", "high", "low", "close", "volume")]
        events += sim.on_bar_open(SYMBOL, int(bars["ts"][i]), *row)
        events += sim.on_bar_close(SYMBOL)
    return events


def state(sim: SimExchange) -> tuple[Any, ...]:
    m = sim._markets[SYMBOL]
    return (*(getattr(m, f) for f in FIELDS), sim.account_state().model_dump(exclude={"timestamp"}))


def pair(**options: Any) -> tuple[SimExchange, SimExchange]:
    a, b = (
        make_sim(bps=0, volume_share=None, **options),
        make_sim(bps=0, volume_share=None, **options),
    )
    for sim in (a, b):
        flat_bar(sim, 0, 2000.0)
    return a, b


def test_a_flat_account_takes_any_run_of_bars() -> None:
    bars = walk(500, seed=1)
    bulk, single = pair()
    assert bulk.on_quiet_bars(SYMBOL, series(bars), 0, 500) == 500
    assert one_by_one(single, bars, 0, 500) == []
    assert state(bulk) == state(single)


def test_a_held_position_stops_the_run_before_the_funding_boundary() -> None:
    bars = walk(200, seed=2, spread=0.0002)
    bulk, single = pair(funding_rate=D("0.0001"))
    for sim in (bulk, single):
        sim.submit_order(market("buy", "1", cid="long"))
        sim.on_bar(SYMBOL, T0 + MIN, 2000.0, 2000.5, 1999.5, 2000.0, 1_000.0)
    bars = {k: v[1:] for k, v in bars.items()}  # bar 0 of the walk was fed above
    taken = bulk.on_quiet_bars(SYMBOL, series(bars), 0, len(bars["ts"]))
    # bars open at T0 + 2 min on; the first funding boundary after T0 is T0 + 60 min
    assert taken == 58
    one_by_one(single, bars, 0, taken)
    assert state(bulk) == state(single)
    assert bulk.on_quiet_bars(SYMBOL, series(bars), taken, len(bars["ts"])) == 0
    # the boundary bar pays funding, bar by bar, identically on both
    paid_bulk = one_by_one(bulk, bars, taken, taken + 1)
    paid_single = one_by_one(single, bars, taken, taken + 1)
    assert [e.kind for e in paid_bulk] == [e.kind for e in paid_single] == ["funding"]
    assert state(bulk) == state(single)


def test_runs_are_refused_when_a_bar_could_touch_something() -> None:
    bars = walk(50, seed=3)
    sim, _ = pair()
    sim.submit_order(market("buy", "1"))
    assert sim.on_quiet_bars(SYMBOL, series(bars), 0, 50) == 0  # an order waits for the open
    sim2, _ = pair()
    limit = round(float(min(bars["low"][1:])) + 0.1, 1)  # a later bar reaches it
    assert limit < bars["low"][0]  # the first bar does not
    sim2.submit_order(order("buy", "1", price=f"{limit:.1f}"))
    one_by_one(sim2, bars, 0, 1)  # the limit rests after the first bar
    assert sim2._markets[SYMBOL].resting
    assert sim2.on_quiet_bars(SYMBOL, series(bars), 1, 50) == 0  # bar 10 reaches the limit
    gap = dict(bars)
    gap["ts"] = bars["ts"].copy()
    gap["ts"][5:] += MIN  # a missing bar
    sim3, _ = pair()
    assert sim3.on_quiet_bars(SYMBOL, series(gap), 0, 50) == 0
    holes = dict(bars)
    holes["high"] = bars["high"].copy()
    holes["high"][7] = np.nan
    sim4, _ = pair()
    assert sim4.on_quiet_bars(SYMBOL, series(holes), 0, 50) == 0


def test_on_bar_quiet_refuses_without_changing_anything() -> None:
    sim, twin = pair()
    sim.submit_order(market("buy", "1", cid="x"))
    twin.submit_order(market("buy", "1", cid="x"))
    before = state(sim)
    assert not sim.on_bar_quiet(SYMBOL, T0 + MIN, 2001.0, 2002.0, 2000.0, 2001.0, 1_000.0)
    assert state(sim) == before
    assert not sim.on_bar_quiet(SYMBOL, T0, 2001.0, 2002.0, 2000.0, 2001.0, 1_000.0)  # not after


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    side=st.sampled_from(["buy", "sell", None]),
    leverage=st.sampled_from([D(1), D(20), D(50)]),
    chunk=st.integers(1, 40),
)
def test_bulk_and_bar_by_bar_agree(
    seed: int, side: str | None, leverage: Decimal, chunk: int
) -> None:
    """Whatever the position and leverage (a 50x position may be liquidated on the way),
    feeding runs where the venue accepts them and single bars elsewhere ends identically."""
    bars = walk(300, seed=seed, spread=0.004)
    bulk, single = pair(funding_rate=D("0.00005"))
    for sim in (bulk, single):
        sim.apply_leverage(SYMBOL, leverage, sim._core.settings[SYMBOL].margin_mode)
        if side is not None:
            sim.submit_order(market(side, "1", cid="pos"))
    s = series(bars)
    kinds_bulk: list[str] = []
    i = 0
    while i < 300:
        taken = bulk.on_quiet_bars(SYMBOL, s, i, min(300, i + chunk))
        if taken:
            i += taken
            continue
        kinds_bulk += [e.kind for e in one_by_one(bulk, bars, i, i + 1)]
        i += 1
    kinds_single = [e.kind for e in one_by_one(single, bars, 0, 300)]
    assert kinds_bulk == kinds_single
    assert state(bulk) == state(single)
