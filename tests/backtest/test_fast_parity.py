"""Two speeds, one answer: the fast path against the event engine on recorded Binance data.

Every case runs the same compiled rules through both engines and requires identical trades
(times, directions, sizes and prices as exact Decimals), fills, orders, fees and funding
payments (exact), and equity curves within 1e-9 relative at every bar. The event engine is the
independent reference: it feeds every bar through the simulated venue and the live engine,
while the fast path only visits the bars where something can happen.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sparkstacker.backtest.fast import fast_refusals, run_fast
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.errors import ConfigError
from sparkstacker.lang import compile_file, compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model import to_millis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fast_kit import Pair, assert_same, candles, frame, options_for, rules, run_both

pytestmark = pytest.mark.shared

EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "examples"
D = Decimal

# What each shipped example needs that the fast path refuses (a construct named per file).
REFUSED_EXAMPLES = {
    "macd_eth_1m.rules": ["hedge", "stop_loss", "take_profit", "max_duration", "max_position"],
    "macd_eth_1m_hedged.rules": ["hedge", "stop_loss", "take_profit", "max_position"],
    "market_maker_btc.rules": ["uses market_maker"],
    "multi_timeframe.rules": [
        "portfolio",
        "hedge",
        "trailing_stop",
        "risk_based",
        "margin_warning",
    ],
    "rsi_eth_4h.rules": ["stop_loss", "trailing_stop", "max_drawdown", "daily_loss"],
}
SUPPORTED_EXAMPLES = {"macd_flip_eth_1m.rules"}

RSI_REVERSION = """
    let r = rsi(close, 9)
    let trend = ema(close, 50)
    enter long when r crosses above 30 and close > trend[20]
    enter short when r crosses below 70
    exit long when r > 60
    exit short when r < 40
"""


# ---- the shipped examples ---------------------------------------------------------------------


def test_examples_split_into_supported_and_refused(registry) -> None:  # type: ignore[no-untyped-def]
    files = sorted(p.name for p in EXAMPLES.glob("*.rules"))
    assert set(files) == set(REFUSED_EXAMPLES) | SUPPORTED_EXAMPLES
    supported = set()
    for name in files:
        found = fast_refusals(compile_file(EXAMPLES / name, registry))
        text = "; ".join(str(r) for r in found)
        if not found:
            supported.add(name)
        for construct in REFUSED_EXAMPLES.get(name, []):
            assert construct in text, (name, construct, text)
    assert supported == SUPPORTED_EXAMPLES


@pytest.mark.parametrize("name", sorted(REFUSED_EXAMPLES))
def test_refused_examples_raise_before_running(registry, name: str) -> None:  # type: ignore[no-untyped-def]
    compiled = compile_file(EXAMPLES / name, registry)
    with pytest.raises(ConfigError) as caught:
        run_fast(compiled, registry, BacktestOptions())  # refused before any data is loaded
    message = str(caught.value)
    assert "run without --fast" in message
    for construct in REFUSED_EXAMPLES[name]:
        assert construct in message
    assert any(f"strategy {plan.name!r}" in message for plan in compiled.strategies)


def test_macd_flip_example_matches_the_event_engine(registry, marketdata) -> None:  # type: ignore[no-untyped-def]
    compiled = compile_file(EXAMPLES / "macd_flip_eth_1m.rules", registry)
    bars = frame(marketdata, "ETH", start=5_000, bars=12_000, funding="recorded")
    pair = run_both(registry, compiled, {"ETH-USD": bars})
    assert len(pair.event.trades) > 300  # a flip every ~30 bars: the comparison has substance
    assert any(t.exit_reason and t.exit_reason.startswith("exit") for t in pair.event.trades)
    assert pair.event.funding  # the recorded 8h prints were paid
    assert_same(pair)


# ---- chosen cases: each setting the fast path supports ----------------------------------------


@pytest.mark.parametrize(
    ("fill_at", "volume_share", "funding"),
    [
        ("next_open", D("0.1"), None),
        ("close", D("0.1"), "recorded"),
        ("next_open", None, "hourly"),
        ("close", None, "hourly"),
        ("next_open", D("0.0005"), "hourly"),  # caps most fills: IOC remainders, partial exits
        ("close", D("0.0005"), None),
    ],
)
def test_fill_timing_volume_cap_and_funding(  # type: ignore[no-untyped-def]
    registry, marketdata, fill_at, volume_share, funding
) -> None:
    bars = frame(marketdata, "ETH", start=20_000, bars=6_000, funding=funding)
    text = rules(RSI_REVERSION, size="fixed_units(1.5)", fill_at=fill_at, leverage=5)
    pair = run_both(registry, text, {"ETH-USD": bars}, volume_share=volume_share)
    assert pair.event.trades
    if volume_share == D("0.0005"):
        assert any(o.reason == "IOC remainder cancelled" for o in pair.event.orders)
    if funding == "hourly":
        assert {p.payment > 0 for p in pair.event.funding} == {True, False}
    assert_same(pair)


@pytest.mark.parametrize(
    "size",
    [
        "fixed_units(0.37)",
        "fixed_usd(750 USD)",
        "fixed_usd(5 USD)",  # under the $10 minimum: every entry is a no-trade
        "fixed_usd(5 USD, min: 25 USD)",  # lifted over it by the min clamp
        "percent_equity(40%)",
        "percent_equity(150%, max: 9000 USD)",
    ],
)
def test_sizers(registry, marketdata, size: str) -> None:  # type: ignore[no-untyped-def]
    bars = frame(marketdata, "ETH", start=40_000, bars=4_000, funding="hourly")
    pair = run_both(registry, rules(size=size, leverage=4), {"ETH-USD": bars})
    if size == "fixed_usd(5 USD)":
        assert not pair.event.trades
    else:
        assert len(pair.event.trades) > 50
    assert_same(pair)


def test_higher_timeframe_bars_and_slippage_models(registry, marketdata) -> None:  # type: ignore[no-untyped-def]
    bars = frame(marketdata, "ETH", "15m", bars=3_000, funding="recorded")
    text = rules(RSI_REVERSION, timeframe="15m", size="percent_equity(25%)", leverage=2)
    for model, params in (("fixed_bps", {"bps": 3.5}), ("volume_impact", {"k": 0.05})):
        pair = run_both(registry, text, {"ETH-USD": bars}, slippage=model, slippage_params=params)
        assert pair.event.trades
        assert_same(pair)


def test_a_gap_in_the_bars(registry, marketdata) -> None:  # type: ignore[no-untyped-def]
    """Funding boundaries inside a 95-minute hole are settled at the first bar after it."""
    whole = frame(marketdata, "ETH", start=12_000, bars=5_000, funding="hourly")
    keep = np.r_[0:2_000, 2_095:5_000]
    bars = BarFrame(
        "1m",
        whole.timestamp[keep],
        whole.open[keep],
        whole.high[keep],
        whole.low[keep],
        whole.close[keep],
        whole.volume[keep],
        np.where(np.isnan(whole.funding[keep]), 0.0002, whole.funding[keep]),
    )
    for fill_at in ("next_open", "close"):
        pair = run_both(registry, rules(fill_at=fill_at, leverage=2), {"ETH-USD": bars})
        paid = {to_millis(p.timestamp) for p in pair.event.funding}
        hole = range(int(bars.timestamp[1_999]) + 60_000, int(bars.timestamp[2_000]) + 1)
        assert any(t in hole for t in paid)  # a MACD flip is always in the market by then
        assert_same(pair)


def test_confidence_scales_the_size(registry, marketdata) -> None:  # type: ignore[no-untyped-def]
    body = """
    let r = rsi(close, 14)
    enter long when r crosses above 35 confidence r / 100
    enter short when r crosses below 65 confidence 60%
    exit when r > 48 and r < 52
"""
    bars = frame(marketdata, "ETH", start=9_000, bars=5_000)
    pair = run_both(registry, rules(body, size="fixed_usd(2000 USD)"), {"ETH-USD": bars})
    sizes = {t.size for t in pair.event.trades}
    assert len(sizes) > 3  # the size follows the confidence
    assert_same(pair)


@pytest.mark.parametrize("btc_timeframe", ["1m", "5m"])
def test_several_markets_share_one_account(registry, marketdata, btc_timeframe: str) -> None:  # type: ignore[no-untyped-def]
    """Coupled through one account: equity for sizing, free margin, the engine's clock."""
    eth, btc = candles(marketdata, "ETH"), candles(marketdata, "BTC")
    start = int(eth["timestamp"].searchsorted(btc["timestamp"].iloc[0]))  # align the files
    text = rules(name="eth", size="percent_equity(30%)") + rules(
        RSI_REVERSION,
        name="btc",
        symbol="BTC-USD",
        timeframe=btc_timeframe,
        size="percent_equity(50%)",
        fill_at="close",
    )
    btc_bars = 5_000 if btc_timeframe == "1m" else 1_000
    frames = {
        "ETH-USD": frame(marketdata, "ETH", start=start, bars=5_000, funding="hourly"),
        "BTC-USD": frame(marketdata, "BTC", btc_timeframe, bars=btc_bars, funding="recorded"),
    }
    # fill_at is per account: the second strategy's "close" loses to the first's "next_open"
    pair = run_both(registry, text, frames)
    assert {t.strategy for t in pair.event.trades} == {"eth", "btc"}
    assert_same(pair)


def test_separate_venues_are_separate_accounts(registry, marketdata) -> None:  # type: ignore[no-untyped-def]
    text = rules(name="a", venue="sim", size="percent_equity(20%)") + rules(
        RSI_REVERSION, name="b", symbol="BTC-USD", venue="hyperliquid", fill_at="close"
    )
    frames = {
        "ETH-USD": frame(marketdata, "ETH", start=30_000, bars=3_000),
        "BTC-USD": frame(marketdata, "BTC", start=8_000, bars=3_000, funding="hourly"),
    }
    pair = run_both(registry, text, frames)
    assert {f.venue for f in pair.event.fills} == {"sim", "hyperliquid"}
    assert pair.fast.initial_equity == 2 * D(10_000)
    assert_same(pair)


# ---- generated rules --------------------------------------------------------------------------

INDICATORS = [
    "ema(close, {a})",
    "sma(close, {b})",
    "wma(close, {a})",
    "kama(close, {b})",
    "close",
    "highest(high, {a})[1]",
    "lowest(low, {b})[1]",
]
OSCILLATORS = ["rsi(close, {a})", "cci(high, low, close, {b})", "willr(high, low, close, {a})"]
LEVELS = {"rsi": (30, 70), "cci": (-100, 100), "willr": (-80, -20)}


@st.composite
def generated(draw: st.DrawFn) -> tuple[str, dict[str, object], dict[str, object]]:
    a, b = draw(st.integers(3, 30)), draw(st.integers(5, 60))
    kind = draw(st.sampled_from(["cross", "threshold", "macd"]))
    if kind == "cross":
        fast, slow = draw(
            st.lists(st.sampled_from(INDICATORS), min_size=2, max_size=2, unique=True)
        )
        left, right = fast.format(a=a, b=b), slow.format(a=a, b=b)
        body = f"\n    enter long when {left} crosses above {right}\n"
        body += f"    enter short when {left} crosses below {right}\n"
    elif kind == "threshold":
        osc = draw(st.sampled_from(OSCILLATORS)).format(a=a, b=b)
        low, high = LEVELS[osc.split("(")[0]]
        body = f"\n    let o = {osc}\n    enter long when o crosses above {low}\n"
        body += f"    enter short when o crosses below {high}\n"
    else:
        body = f"\n    let m = macd(close, {min(a, b)}, {max(a, b) + 1}, 9)\n"
        body += "    enter long when m.hist crosses above 0\n    enter short when m.hist < 0\n"
    if draw(st.booleans()):
        body += f"    exit long when rsi(close, 14) > {draw(st.integers(60, 85))}\n"
        body += f"    exit short when rsi(close, 14) < {draw(st.integers(15, 40))}\n"
    if draw(st.booleans()):
        body += "    exit when close@1h < ema(close@1h, 10) and close > close[1]\n"
    # The last two are too big for some leverages: margin rejections and liquidations happen.
    size = draw(
        st.sampled_from(
            [
                "fixed_units(0.3)",
                "fixed_units(2)",
                "fixed_usd(900 USD)",
                "percent_equity(35%)",
                "fixed_units(60)",
                "percent_equity(2200%)",
            ]
        )
    )
    text = rules(
        body,
        size=size,
        leverage=draw(st.integers(1, 25)),
        taker=f"{draw(st.integers(0, 8)) * 0.01:.2f}%",
        slippage=f"{draw(st.sampled_from([0, 1, 2.5]))} bps",
        fill_at=draw(st.sampled_from(["next_open", "close"])),
    )
    data = {
        "start": draw(st.integers(0, 55_000)),
        "funding": draw(st.sampled_from([None, "recorded", "hourly"])),
        "hourly_rate": draw(st.sampled_from([0.0001, -0.0003, 0.00002])),
    }
    options = {"volume_share": draw(st.sampled_from([D("0.1"), None, D("0.002")]))}
    return text, data, options


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=generated())
def test_generated_rules(registry, marketdata, case) -> None:  # type: ignore[no-untyped-def]
    """Random state-free rules: identical answers, or a refusal the event engine confirms."""
    text, data, options = case
    bars = frame(marketdata, "ETH", bars=2_500, **data)  # type: ignore[arg-type]
    compiled = compile_text(text, registry)
    assert not fast_refusals(compiled)
    opts = options_for(compiled, {"ETH-USD": bars}, **options)
    event = run_backtest(compiled, registry, opts)
    margin = [o for o in event.orders if (o.reason or "").startswith("Insufficient margin")]
    try:
        fast = run_fast(compiled, registry, opts)
    except ConfigError as exc:
        # Refused at run time: only because the venue really rejected or liquidated.
        message = str(exc)
        if "insufficient margin" in message:
            assert margin
        else:
            assert "liquidate" in message
            assert event.liquidations > 0
        return
    assert not margin
    assert event.liquidations == 0
    assert_same(Pair(event, fast))
