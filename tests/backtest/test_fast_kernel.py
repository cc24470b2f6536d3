"""The fast path's compiled kernel: its float arithmetic against the venue's Decimal code, and
its runs against the event engine and against the exact per-trade loop.

References are independent of the kernel: ``Instrument.round_price`` and the registry's sizers
(the venue's and the engine's own code) for prices and sizes, the event engine for whole runs,
and the per-trade loop (``run_fast(kernel=False)``, the reference the kernel replaces) for
generated rules, compared field for field including ids.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from sparkstacker.backtest.fast import run_fast
from sparkstacker.backtest.fast_grid import A_MIN, POW10, grid_of
from sparkstacker.backtest.fast_sizing import entry_lots
from sparkstacker.backtest.instruments import simulated_instrument
from sparkstacker.backtest.result import LazyRecords
from sparkstacker.backtest.runner import run_backtest
from sparkstacker.errors import ConfigError, PriceRuleError
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame, SizingSpec
from sparkstacker.model import OrderStatus
from sparkstacker_plugins.exchanges.sim.core import dec, dec12

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fast_kit import (
    assert_same,
    assert_same_fast,
    candles,
    frame,
    kernel_ran,
    options_for,
    run_both,
)
from fast_kit import rules as kit_rules

D = Decimal
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
rules = partial(kit_rules, name="k")

RSI_REVERSION = """
    let r = rsi(close, 9)
    enter long when r crosses above 30
    enter short when r crosses below 70
    exit long when r > 60
    exit short when r < 40
"""


# ---- prices: the kernel's grid rounding against Instrument.round_price -----------------------


def _kernel_prices(instrument, refs: np.ndarray, bps: float, up: bool) -> tuple[np.ndarray, ...]:  # type: ignore[no-untyped-def]
    from sparkstacker.backtest.fast_kernel_jit import grid_prices

    grid = grid_of(instrument)
    assert not isinstance(grid, str)
    out = np.full(len(refs), np.nan)
    bars = np.arange(len(refs), dtype=np.int64)
    undecided = grid_prices(refs, bars, up, bps / 10_000.0, A_MIN, grid.p10, grid.inc_e, POW10, out)
    return grid, out, undecided


COINS = [("ETH", 2000.0), ("BTC", 60_000.0), ("SOL", 150.0), ("DOGE", 0.12), ("PEPE", 0.00001)]


@st.composite
def priced(draw: st.DrawFn) -> tuple[str, float, list[float]]:
    coin, level = draw(st.sampled_from(COINS))
    scale = draw(st.sampled_from([0.01, 0.1, 0.5, 1.0, 5.0, 9.99, 49.9]))
    center = level * scale
    exponent = math.floor(math.log10(center))
    specials = [
        10.0**exponent,  # a power of ten
        10.0 ** (exponent + 1) * (1 - 1e-5),  # just under the next one
        round(center, max(0, 4 - exponent)),  # on a 5-significant-figure grid
        float(f"{center:.3g}"),
        np.nextafter(round(center, max(0, 4 - exponent)), math.inf),
        np.nextafter(round(center, max(0, 4 - exponent)), -math.inf),
    ]
    noise = draw(st.lists(st.floats(0.5, 2.0, allow_nan=False, allow_infinity=False), max_size=20))
    refs = [float(x) for x in [*specials, *(center * n for n in noise)]]
    return coin, draw(st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.3])), refs


@settings(max_examples=60, deadline=None)
@given(case=priced(), up=st.booleans())
def test_fill_prices_are_round_price(case, up: bool) -> None:  # type: ignore[no-untyped-def]
    """Every price the kernel decides is exactly what the venue's Decimal rounding gives."""
    coin, bps, refs = case
    instrument = simulated_instrument("sim", f"{coin}-USD", refs[0])
    array = np.array(refs, dtype=np.float64)
    grid, out, undecided = _kernel_prices(instrument, array, bps, up)
    mode = "up" if up else "down"
    skipped = set(undecided.tolist())
    to_next_decade = set()  # rounding reached the next power of ten: the increment changes
    for i, ref in enumerate(refs):
        raw = ref * (1.0 + bps / 10_000.0) if up else ref * (1.0 - bps / 10_000.0)
        try:
            expected = instrument.round_price(dec(ref) if raw == ref else dec12(raw), mode)
        except PriceRuleError:  # under the smallest price: the kernel must not decide it
            assert i in skipped
            continue
        if expected.adjusted() > dec(ref).adjusted() and expected.normalize().as_tuple()[1] == (1,):
            to_next_decade.add(i)
        if i in skipped:  # left to round_price itself
            continue
        assert out[i] == float(expected), (mode, ref, bps)
        k, a = grid.locate(out[i : i + 1])
        rebuilt = grid.price(int(k[0]), int(a[0]))
        assert rebuilt == expected
        assert str(rebuilt) == str(expected)  # written the same way, digit for digit
    if bps == 0.0:
        # no slippage: decided by exact float comparisons, except where rounding up reaches a
        # power of ten (the increment changes) or the price is under the tick
        # (a coarse tick can send many prices of a decade's top there at once: PEPE at 1e-4)
        assert len(skipped - to_next_decade) <= 3 + sum(
            r < float(instrument.tick_size) for r in refs
        )


def test_prices_on_the_grid_stay_put_and_others_move_against_the_taker() -> None:
    instrument = simulated_instrument("sim", "ETH-USD", 2000.0)  # 0.1 apart below 10,000
    refs = np.array([2000.1, 2000.15, 1999.99, 0.30000000000000004 * 10_000])
    _, buys, _ = _kernel_prices(instrument, refs, 0.0, True)
    _, sells, _ = _kernel_prices(instrument, refs, 0.0, False)
    assert buys.tolist() == [2000.1, 2000.2, 2000.0, 3000.1]
    assert sells.tolist() == [2000.1, 2000.1, 1999.9, 3000.0]


# ---- sizes: the kernel's float sizing against the registry's sizers --------------------------


def _lane(registry, sizer: str, params: dict[str, object], closes: list[float]):  # type: ignore[no-untyped-def]
    instrument = simulated_instrument("sim", "ETH-USD", 2000.0)
    model = registry.sizers.get(sizer).params_model
    plan = SimpleNamespace(
        sizing=SizingSpec(sizer, model(**params)),
        leverage=D(3),
        risk=SimpleNamespace(stop_loss=None),
    )
    return SimpleNamespace(plan=plan, instrument=instrument, close=np.array(closes))


def _sizer_lots(registry, lane, close: float) -> int:  # type: ignore[no-untyped-def]
    from sparkstacker.sizing import SizingRequest

    request = SizingRequest(
        instrument=lane.instrument,
        direction="long",
        price=dec(close),
        equity=D(1),
        leverage=D(3),
        confidence=dec(1.0),
    )
    size = registry.sizers.get(lane.plan.sizing.sizer).size(request, lane.plan.sizing.params).size
    return int(size / lane.instrument.lot_size)


def _boundary_closes(amount: float) -> list[float]:
    """Closes at which ``amount`` buys a whole number of 0.0001 lots, and their neighbours."""
    out = []
    for lots in (5000, 5120, 4096, 6250, 3125, 8000, 50, 49, 51):
        close = amount / (lots * 0.0001)
        out += [close, math.nextafter(close, math.inf), math.nextafter(close, -math.inf)]
    return out


@pytest.mark.parametrize(
    ("sizer", "params"),
    [
        ("fixed_usd", {"amount": D(1000)}),
        ("fixed_usd", {"amount": D("10.0005")}),  # near the $10 minimum value
        ("fixed_usd", {"amount": D(5), "min_usd": D(25)}),
        ("fixed_units", {"units": D("0.37")}),
        ("fixed_units", {"units": D("0.005")}),  # $10 at 2000: the minimum value exactly
        ("fixed_units", {"units": D(2), "max_usd": D(1000)}),
        ("fixed_units", {"units": D("0.001"), "min_usd": D(12)}),
    ],
)
def test_entry_sizes_are_the_sizers(registry, sizer: str, params: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    closes = _boundary_closes(1000.0) + _boundary_closes(10.0005) + [1999.9, 2000.0, 2000.1]
    closes += np.random.default_rng(3).uniform(100, 5000, 200).tolist()
    lane = _lane(registry, sizer, params, closes)
    got = entry_lots(lane, registry, np.arange(len(closes)))
    assert not isinstance(got, str)
    expected = [_sizer_lots(registry, lane, c) for c in closes]
    assert got.tolist() == expected
    assert any(expected)


# ---- whole runs: kernel against the event engine ------------------------------------------


def boundary_frame(n: int = 2_500, *, funding: bool = False) -> BarFrame:
    """A MACD-flipping market whose closes sit on fixed_usd(1000 USD) lot boundaries (exactly,
    or one float step away) and whose opens are off the 0.1 price grid."""
    levels = np.array(_boundary_closes(1000.0)[:18])  # 1250 … 3200 and neighbours
    levels = levels[(levels > 1000) & (levels < 4000)]
    wave = (np.sin(np.arange(n) / 9.0) + 1) / 2 * (len(levels) - 1)
    close = np.sort(levels)[np.rint(wave).astype(int)]
    opens = np.r_[close[0], close[:-1]] + 0.03
    return BarFrame(
        timeframe="1m",
        timestamp=T0 + 60_000 * np.arange(n, dtype=np.int64),
        open=opens,
        high=np.maximum(opens, close) + 0.5,
        low=np.minimum(opens, close) - 0.5,
        close=close,
        volume=np.full(n, 50.0),
        funding=np.where(np.arange(n) % 60 == 0, 0.0001, np.nan) if funding else None,
    )


@pytest.mark.parametrize("fill_at", ["next_open", "close"])
@pytest.mark.parametrize("size", ["fixed_usd(1000 USD)", "fixed_usd(10.0005 USD)"])
def test_fixed_usd_at_lot_boundaries_matches_the_event_engine(
    registry, fill_at: str, size: str
) -> None:  # type: ignore[no-untyped-def]
    bars = boundary_frame(funding=fill_at == "close")
    pair = run_both(registry, rules(size=size, fill_at=fill_at), {"ETH-USD": bars})
    assert kernel_ran(pair.fast)
    assert len(pair.event.trades) > 20
    if size.startswith("fixed_usd(10.0005"):
        # some flips cannot size the new side (under $10): they only close
        assert any(
            "no size for the new side" in (o.annotations.get("reason") or "")
            for o in pair.event.orders
        )
    assert_same(pair)


@pytest.mark.parametrize("fill_at", ["next_open", "close"])
def test_bars_without_volume_reject_orders_as_the_venue_does(registry, fill_at: str) -> None:  # type: ignore[no-untyped-def]
    base = boundary_frame(2_000, funding=True)
    volume = np.where(np.arange(2_000) % 3 == 0, 0.0, 0.02)  # no volume, or 0.002 ETH a bar
    bars = BarFrame(
        "1m", base.timestamp, base.open, base.high, base.low, base.close, volume, base.funding
    )
    text = rules(RSI_REVERSION, size="fixed_units(0.005)", fill_at=fill_at)
    pair = run_both(registry, text, {"ETH-USD": bars})
    assert kernel_ran(pair.fast)
    reasons = {o.reason for o in pair.event.orders}
    assert "No liquidity available for market order." in reasons  # the volume-0 bars
    assert "IOC remainder cancelled" in reasons  # 0.002 of a 0.005 order
    assert_same(pair)


@pytest.mark.shared
@pytest.mark.parametrize(
    ("fill_at", "volume_share", "funding", "slippage"),
    [
        ("next_open", D("0.0005"), "hourly", "0 bps"),  # partial flips and exits
        ("close", D("0.0005"), "recorded", "2.5 bps"),
        ("next_open", None, "recorded", "2.5 bps"),
        ("close", D("0.1"), "hourly", "1 bps"),
    ],
)
def test_partial_fills_funding_and_slippage_match_the_event_engine(  # type: ignore[no-untyped-def]
    registry, marketdata, fill_at, volume_share, funding, slippage
) -> None:
    bars = frame(marketdata, "ETH", start=31_000, bars=5_000, funding=funding)
    text = rules(RSI_REVERSION, size="fixed_units(1.5)", fill_at=fill_at, slippage=slippage)
    pair = run_both(registry, text, {"ETH-USD": bars}, volume_share=volume_share)
    assert kernel_ran(pair.fast)
    assert pair.event.funding
    if volume_share == D("0.0005"):
        partial_flips = [
            o
            for o in pair.event.orders
            if "-fl-" in o.client_order_id and o.reason == "IOC remainder cancelled"
        ]
        assert partial_flips
    assert_same(pair)


@pytest.mark.shared
def test_two_markets_on_two_venues_match_the_event_engine(registry, marketdata) -> None:  # type: ignore[no-untyped-def]
    """Both lanes on the kernel: the run-wide order numbers and the engine's clock across them."""
    text = rules(name="eth", size="fixed_usd(900 USD)") + rules(
        RSI_REVERSION,
        name="btc",
        symbol="BTC-USD",
        venue="hyperliquid",
        timeframe="5m",
        size="fixed_units(0.02)",
        fill_at="close",
    )
    eth, btc = candles(marketdata, "ETH"), candles(marketdata, "BTC")
    start = int(eth["timestamp"].searchsorted(btc["timestamp"].iloc[0]))  # align the files
    frames = {
        "ETH-USD": frame(marketdata, "ETH", start=start + 7, bars=4_000, funding="hourly"),
        "BTC-USD": frame(marketdata, "BTC", "5m", bars=800, funding="recorded"),
    }
    pair = run_both(registry, text, frames)
    assert kernel_ran(pair.fast)
    assert {t.strategy for t in pair.event.trades} == {"eth", "btc"}
    assert_same(pair)
    # orders are stamped with the engine's clock, the latest bar close of any market: a 1m
    # decision made while a 5m bar is open is stamped after the 1m fill it leads to
    eth_orders = [o for o in pair.event.orders if o.strategy == "eth"]
    assert any(o.updated_at is not None and o.created_at > o.updated_at for o in eth_orders)
    compiled = compile_text(text, registry)
    loop = run_fast(compiled, registry, options_for(compiled, frames), kernel=False)
    assert_same_fast(pair.fast, loop)


def test_a_margin_check_too_close_to_call_goes_to_the_exact_loop(registry) -> None:  # type: ignore[no-untyped-def]
    """Equity exactly the margin the first order needs: the venue accepts it; floats cannot
    tell, so the kernel hands the run to the per-trade loop, which matches the event engine."""
    close = 2000 + 50 * np.sin(np.arange(400) / 7.0)
    close = np.round(close, 1)
    bars = BarFrame(
        "1m",
        T0 + 60_000 * np.arange(400, dtype=np.int64),
        close,
        close + 1,
        close - 1,
        close,
        np.full(400, 1e6),
    )
    text = f"""
strategy "edge" {{
    market ETH-USD on sim
    timeframe 1m
    enter long when close > 0
    size fixed_units(1)
    leverage 1x
    fees maker 0% taker 0.05%
    slippage 0 bps
    fill at next_open
    initial_equity {dec(float(close[0]))} USD
}}
"""
    pair = run_both(registry, text, {"ETH-USD": bars})
    assert pair.event.orders[0].status is OrderStatus.FILLED  # accepted with nothing to spare
    assert pair.fast.assumptions["fast path"].startswith("exact per-trade loop")
    assert "margin" in pair.fast.assumptions["fast path"]
    assert_same(pair)
    compiled = compile_text(text, registry)
    with pytest.raises(ConfigError, match=r"kernel cannot run this.*margin"):
        run_fast(compiled, registry, options_for(compiled, {"ETH-USD": bars}), kernel=True)


def test_strategies_outside_the_kernel_say_why(registry) -> None:  # type: ignore[no-untyped-def]
    bars = boundary_frame(300)
    text = rules(size="percent_equity(20%)")
    compiled = compile_text(text, registry)
    options = options_for(compiled, {"ETH-USD": bars})
    result = run_fast(compiled, registry, options)
    assert result.assumptions["fast path"] == (
        "exact per-trade loop: strategy 'k': the percent_equity sizer (the kernel sizes with "
        "fixed_units, fixed_usd)"
    )
    with pytest.raises(ConfigError, match="percent_equity sizer"):
        run_fast(compiled, registry, options, kernel=True)


# ---- the equity curve: compiled against collect's numpy builder ---------------------------


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    markets=st.integers(1, 3),
    fills=st.integers(0, 60),
    payments=st.integers(0, 20),
)
def test_compiled_equity_is_collects_curve_bit_for_bit(
    seed: int, markets: int, fills: int, payments: int
) -> None:
    """Same float operations in the same order: the very same numbers, not merely close."""
    from sparkstacker.backtest.collect import FlowArrays, equity_curve
    from sparkstacker.backtest.fast_equity import equity_path

    rng = np.random.default_rng(seed)
    closes = {}
    for m in range(markets):  # markets on their own (sometimes coarser) bar grids
        step = 60_000 * int(rng.choice([1, 5]))
        times = T0 + step * np.arange(1, 1 + 400 // (step // 60_000), dtype=np.int64)
        closes[f"C{m}-USD"] = (times, 2000 + rng.normal(0, 20, len(times)).cumsum())
    timeline = np.unique(np.concatenate([c[0] for c in closes.values()]))
    symbols = tuple(closes)
    stamps = T0 + rng.integers(0, 420 * 60_000, fills)  # some past the last close
    flows = FlowArrays(
        stamps=stamps,  # not sorted: the compiled path must keep input order per point
        market=rng.integers(0, markets, fills),
        symbols=symbols,
        signed=rng.choice([-1, 1], fills) * rng.integers(1, 30_000, fills) / 10_000,
        price=np.round(2000 + rng.normal(0, 30, fills), 1),
        fee=rng.random(fills),
    )
    pay_stamps = T0 + rng.integers(0, 420 * 60_000, payments)
    amounts = rng.normal(0, 0.3, payments)
    used = tuple(dict.fromkeys(symbols[i] for i in flows.market.tolist()))
    codes = np.array([used.index(symbols[i]) for i in flows.market.tolist()], dtype=np.int64)
    as_event = FlowArrays(stamps, codes, used, flows.signed, flows.price, flows.fee)
    for start in (0.0, 10_000.0):
        expected = equity_curve(timeline, closes, as_event, pay_stamps, amounts, start)
        got = equity_path(timeline, closes, as_event, pay_stamps, amounts, start)
        assert np.array_equal(got, expected)


# ---- lazy records ---------------------------------------------------------------------------


def test_records_are_counted_without_being_built(registry) -> None:  # type: ignore[no-untyped-def]
    bars = boundary_frame(3_000, funding=True)
    compiled = compile_text(rules(RSI_REVERSION, size="fixed_units(0.4)"), registry)
    result = run_fast(compiled, registry, options_for(compiled, {"ETH-USD": bars}))
    assert kernel_ran(result)
    sequences = [result.trades, result.fills, result.orders, result.funding]
    assert all(isinstance(s, LazyRecords) for s in sequences)
    counts = [len(s) for s in sequences]
    assert all(counts)
    assert not any(s.built for s in sequences)  # type: ignore[attr-defined]
    assert result.fills[0].size == D("0.4")
    assert result.fills.built  # type: ignore[attr-defined]
    assert [len(list(s)) for s in sequences] == counts
    # one round trip per position opened, and each closed trip's exit is a fill
    assert counts[0] == sum(1 for t in result.trades) == len({t.entry_time for t in result.trades})
    assert result.orders == list(result.orders)
    assert result.funding != []


# ---- generated rules: kernel against the per-trade loop --------------------------------------

INDICATORS = ["ema(close, {a})", "sma(close, {b})", "close", "highest(high, {a})[1]"]


@st.composite
def generated(draw: st.DrawFn) -> tuple[str, dict[str, object], dict[str, object]]:
    a, b = draw(st.integers(3, 30)), draw(st.integers(5, 60))
    if draw(st.booleans()):
        fast, slow = draw(
            st.lists(st.sampled_from(INDICATORS), min_size=2, max_size=2, unique=True)
        )
        left, right = fast.format(a=a, b=b), slow.format(a=a, b=b)
        body = f"\n    enter long when {left} crosses above {right}\n"
        body += f"    enter short when {left} crosses below {right}\n"
    else:
        body = f"\n    let r = rsi(close, {a})\n    enter long when r crosses above 30\n"
        body += "    enter short when r crosses below 70\n"
    if draw(st.booleans()):
        body += f"    exit long when rsi(close, 14) > {draw(st.integers(55, 85))}\n"
        body += f"    exit short when rsi(close, 14) < {draw(st.integers(15, 45))}\n"
    size = draw(
        st.sampled_from(
            [
                "fixed_units(0.3)",
                "fixed_units(3, max: 2500 USD)",
                "fixed_usd(900 USD)",
                "fixed_usd(10.05 USD)",
                "fixed_units(40)",  # too big for low leverage: margin stops and liquidations
            ]
        )
    )
    text = rules(
        body,
        size=size,
        leverage=draw(st.integers(1, 25)),
        taker=f"{draw(st.integers(0, 8)) * 0.01:.2f}%",
        slippage=f"{draw(st.sampled_from([0, 1, 2.5, 13]))} bps",
        fill_at=draw(st.sampled_from(["next_open", "close"])),
    )
    data = {
        "start": draw(st.integers(0, 55_000)),
        "funding": draw(st.sampled_from([None, "recorded", "hourly"])),
        "hourly_rate": draw(st.sampled_from([0.0001, -0.0003])),
    }
    options = {"volume_share": draw(st.sampled_from([D("0.1"), None, D("0.001")]))}
    return text, data, options


@pytest.mark.shared
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=generated())
def test_generated_rules_kernel_equals_the_per_trade_loop(registry, marketdata, case) -> None:  # type: ignore[no-untyped-def]
    text, data, options = case
    bars = frame(marketdata, "ETH", bars=3_000, **data)  # type: ignore[arg-type]
    compiled = compile_text(text, registry)
    opts = options_for(compiled, {"ETH-USD": bars}, **options)
    refused = None
    try:
        loop = run_fast(compiled, registry, opts, kernel=False)
    except ConfigError as exc:
        refused = str(exc)
    if refused is not None:  # the kernel must stop and the loop refuse with the same words
        event("refused by the venue's rules")
        with pytest.raises(ConfigError) as caught:
            run_fast(compiled, registry, opts)
        assert str(caught.value) == refused
        return
    fast = run_fast(compiled, registry, opts)
    assume(kernel_ran(fast))  # a stop hands the run to the loop: nothing to compare
    event(f"compared ({'some' if len(loop.trades) else 'no'} trades)")
    assert_same_fast(fast, loop)


def test_the_kernel_is_not_imported_for_the_command_line() -> None:
    """numba loads only when a fast backtest runs (``spark-stacker --help`` stays quick)."""
    import subprocess

    code = "import sys, sparkstacker.cli, sparkstacker.backtest.fast; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_event_engine_and_fast_lane_refusals_still_apply(registry) -> None:  # type: ignore[no-untyped-def]
    """A run the venue rejects for margin: the kernel stops, the loop refuses, as before."""
    bars = boundary_frame(300)
    text = rules(size="fixed_units(20)", leverage=1)
    compiled = compile_text(text, registry)
    options = options_for(compiled, {"ETH-USD": bars})
    with pytest.raises(ConfigError, match="insufficient margin"):
        run_fast(compiled, registry, options)
    event = run_backtest(compiled, registry, options)
    assert any((o.reason or "").startswith("Insufficient margin") for o in event.orders)
