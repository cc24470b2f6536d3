"""What the fast path refuses, and that each refusal says who, what and why.

Static refusals come from the rule file and the options; run-time refusals (a margin rejection,
a liquidation) are checked against hand calculations and against the event engine, which
really does reject or liquidate at that bar.
"""

from __future__ import annotations

import sys
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import numpy as np
import pytest
from sparkstacker import hookimpl
from sparkstacker.backtest.fast import fast_refusals, run_fast
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.errors import ConfigError
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model import OrderStatus, to_millis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fast_kit import candles, frame, options_for

D = Decimal
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC

BASE = """
strategy "{name}" {{
    market ETH-USD on sim
    timeframe {timeframe}
    let r = rsi(close, 14)
    enter long when {entry}
    enter short when r crosses below 70
    {extra}
    size {size}
    leverage {leverage}
    fill at next_open
}}
"""


def text(
    extra: str = "",
    *,
    name: str = "s",
    size: str = "fixed_units(1)",
    entry: str = "r crosses above 30",
    leverage: str = "2x",
    timeframe: str = "1m",
) -> str:
    return BASE.format(
        name=name, extra=extra, size=size, entry=entry, leverage=leverage, timeframe=timeframe
    )


def synthetic(n: int = 300, step_ms: int = 60_000, *, funding: bool = False) -> BarFrame:
    close = 2000 + 50 * np.sin(np.arange(n) / 7.0)
    return BarFrame(
        timeframe={60_000: "1m", 14_400_000: "4h"}[step_ms],
        timestamp=T0 + step_ms * np.arange(n, dtype=np.int64),
        open=close,
        high=close + 1,
        low=close - 1,
        close=close,
        volume=np.full(n, 1e6),
        funding=np.full(n, 0.0001) if funding else None,
    )


def refusal(registry, rules: str, bars: BarFrame | None = None, **options) -> str:  # type: ignore[no-untyped-def]
    compiled = compile_text(rules, registry)
    frames = {("sim", "ETH-USD", p.timeframe): bars or synthetic() for p in compiled.strategies}
    with pytest.raises(ConfigError) as caught:
        run_fast(compiled, registry, BacktestOptions(frames=frames, **options))
    message = str(caught.value)
    assert message.endswith("run without --fast")
    return message


# ---- static: the rule file ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "construct"),
    [
        ("risk stop_loss 2%", "stop_loss (trigger orders along the intrabar path)"),
        ("risk take_profit 4%", "take_profit"),
        ("risk trailing_stop 1%", "trailing_stop"),
        ("risk max_duration 2h", "max_duration"),
        ("risk max_duration 30 bars", "max_duration"),
        ("risk max_drawdown 5%", "max_drawdown"),
        ("risk daily_loss 100 USD", "daily_loss"),
        ("risk max_position 5000 USD", "max_position"),
        ("risk max_leverage 3x", "max_leverage"),
        ("risk margin_warning 80% close_all", "margin_warning"),
        (
            'hedge ratio 20%, leverage 2x, on sim account "h", within 10s else unwind',
            "hedge (a second account and the hedge coordinator)",
        ),
        ("exit when bars_held > 10", "conditions that read engine state (bars_held)"),
        ("exit when position > 0 and unrealized_pnl < 0 USD", "position, unrealized_pnl"),
    ],
)
def test_risk_hedge_and_state_constructs_are_refused(registry, extra: str, construct: str) -> None:  # type: ignore[no-untyped-def]
    message = refusal(registry, text(extra))
    assert "strategy 's': fast path cannot simulate" in message
    assert construct in message


@pytest.mark.parametrize(
    ("size", "construct"),
    [
        ("risk_based(1%, stop: 4%)", "the risk_based sizer"),
        ("kelly(55%, 1.5, 25%)", "the kelly sizer"),
    ],
)
def test_other_sizers_are_refused(registry, size: str, construct: str) -> None:  # type: ignore[no-untyped-def]
    message = refusal(registry, text(size=size))
    assert construct in message
    assert "fixed_units, fixed_usd, percent_equity" in message


@pytest.mark.parametrize(
    ("entry", "construct"),
    [
        ("r crosses above 30 at limit close * (1 - 0.1%)", "limit entries"),
        ("r crosses above 30 at limit close post_only", "post-only limit entries"),
    ],
)
def test_limit_entries_are_refused(registry, entry: str, construct: str) -> None:  # type: ignore[no-untyped-def]
    assert construct in refusal(registry, text(entry=entry))


def test_plugin_strategies_are_refused(registry) -> None:  # type: ignore[no-untyped-def]
    rules = """
strategy "mm" uses market_maker {
    market ETH-USD on sim
    timeframe 1m
    params {
        spread 10 bps
        order_size 50 USD
        max_inventory 500 USD
    }
}
"""
    message = refusal(registry, rules)
    assert "strategy 'mm'" in message
    assert "uses market_maker" in message


def test_two_strategies_on_one_market_are_refused(registry) -> None:  # type: ignore[no-untyped-def]
    message = refusal(registry, text(name="a") + text(name="b"))
    assert "strategy 'b'" in message
    assert "several strategies on ETH-USD on sim (a, b)" in message


def test_a_portfolio_governor_is_refused(registry) -> None:  # type: ignore[no-untyped-def]
    rules = "portfolio {\n    on drawdown 5% halt\n}\n" + text()
    assert "the portfolio block" in refusal(registry, rules)


def test_every_reason_is_listed_at_once(registry) -> None:  # type: ignore[no-untyped-def]
    message = refusal(registry, text("risk stop_loss 2%, daily_loss 50 USD", size="kelly(60%, 2)"))
    for construct in ("stop_loss", "daily_loss", "kelly"):
        assert construct in message
    assert fast_refusals(compile_text(text("risk stop_loss 2%"), registry))[0].strategy == "s"


# ---- static: options, plugins and data --------------------------------------------------------


def test_latency_journal_and_unknown_slippage_are_refused(registry) -> None:  # type: ignore[no-untyped-def]
    assert "latency 50 ms" in refusal(registry, text(), latency_ms=50)
    assert "the made_up slippage model" in refusal(registry, text(), slippage="made_up")
    assert "journaling" in refusal(registry, text(), journal=object())


def test_a_plugin_that_can_veto_orders_is_refused(registry) -> None:  # type: ignore[no-untyped-def]
    class Veto:
        @hookimpl(wrapper=True)
        def submit_order(self, submission):  # type: ignore[no-untyped-def]
            return (yield)

    assert "a submit_order plugin hook" in refusal(registry, text(), plugins=[Veto()])


def test_funding_inside_bars_is_refused_but_not_without_rates(registry) -> None:  # type: ignore[no-untyped-def]
    four_hours = text(timeframe="4h")
    message = refusal(registry, four_hours, synthetic(step_ms=14_400_000, funding=True))
    assert "funding boundaries inside 4h bars" in message
    assert "strategy 's'" in message
    # Without a rate no boundary pays anything: the same bars run.
    compiled = compile_text(four_hours, registry)
    bars = synthetic(step_ms=14_400_000)
    result = run_fast(compiled, registry, BacktestOptions(frames={("sim", "ETH-USD", "4h"): bars}))
    assert result.engine == "fast"
    assert result.trades


def test_irregular_bars_are_refused(registry) -> None:  # type: ignore[no-untyped-def]
    bars = synthetic()
    stamps = bars.timestamp.copy()
    stamps[100:] -= 30_000  # bar 100 starts 30 s after bar 99
    squeezed = BarFrame("1m", stamps, bars.open, bars.high, bars.low, bars.close, bars.volume)
    assert "bar 100 of ETH-USD starts less than one 1m" in refusal(registry, text(), squeezed)


def test_excessive_leverage_is_refused(registry) -> None:  # type: ignore[no-untyped-def]
    compiled = compile_text(text(leverage="30x"), registry)
    options = BacktestOptions(frames={("sim", "ETH-USD", "1m"): synthetic()})
    with pytest.raises(ConfigError, match="exceeds the maximum 25x"):
        run_fast(compiled, registry, options)


# ---- at run time: margin and liquidation --------------------------------------------------------

ALWAYS_LONG = """
strategy "{name}" {{
    market {symbol} on sim
    timeframe 1m
    enter long when close > 0
    size {size}
    leverage {leverage}x
    fees maker 0% taker 0.05%
    slippage 0 bps
    fill at next_open
    initial_equity {equity} USD
}}
"""


def test_insufficient_margin_is_refused_where_the_venue_rejects(registry, marketdata) -> None:  # type: ignore[no-untyped-def]
    bars = frame(marketdata, "ETH", start=1_000, bars=500)
    rules = ALWAYS_LONG.format(
        name="big", symbol="ETH-USD", size="fixed_units(1)", leverage=1, equity=1000
    )
    compiled = compile_text(rules, registry)
    options = options_for(compiled, {"ETH-USD": bars})
    # By hand: 1 ETH at ~1950 USD and 1x needs ~1950 USD of margin; the account has 1000.
    assert float(bars.close[0]) > 1000
    with pytest.raises(ConfigError) as caught:
        run_fast(compiled, registry, options)
    assert "strategy 'big'" in str(caught.value)
    assert "order of bar 0" in str(caught.value)
    assert "insufficient margin" in str(caught.value)
    event = run_backtest(compiled, registry, options)
    first = event.orders[0]
    assert first.status is OrderStatus.REJECTED
    assert first.reason is not None
    assert first.reason.startswith("Insufficient margin")
    assert to_millis(first.created_at) == int(bars.timestamp[0]) + 60_000  # bar 0's close


def test_a_liquidation_is_refused_at_the_bar_the_venue_liquidates(registry, marketdata) -> None:  # type: ignore[no-untyped-def]
    bars = frame(marketdata, "ETH", start=len(candles(marketdata, "ETH")) - 3_000)
    equity, leverage, percent = D(10_000), 25, D(22)
    rules = ALWAYS_LONG.format(
        name="yolo",
        symbol="ETH-USD",
        size="percent_equity(2200%)",
        leverage=leverage,
        equity=equity,
    )
    # By hand: bought at bar 1's open on the 5-significant-figure grid (a buy rounds up),
    # size = equity x 22 / close[0] rounded down to 0.0001 ETH, 0.05 % taker fee.
    close0, open1 = D(repr(float(bars.close[0]))), D(repr(float(bars.open[1])))
    size = (equity * percent / close0).quantize(D("0.0001"), rounding=ROUND_FLOOR)
    price = (open1 / D("0.1")).to_integral_value(rounding=ROUND_CEILING) * D("0.1")
    cash = equity - price * size * D("0.0005")
    mmr = D(1) / (2 * leverage)  # half the initial margin at the maximum leverage
    liquidation = float((size * price - cash) / (size - mmr * size))
    below = np.flatnonzero(bars.low[1:] < liquidation)
    assert below.size, "the recorded drop must reach the liquidation price"
    bar = int(below[0]) + 1

    compiled = compile_text(rules, registry)
    options = options_for(compiled, {"ETH-USD": bars}, volume_share=None)  # one whole fill
    with pytest.raises(ConfigError) as caught:
        run_fast(compiled, registry, options)
    message = str(caught.value)
    assert "strategy 'yolo'" in message
    assert f"liquidate the long ETH-USD position on bar {bar} " in message
    assert f"{liquidation:.8g}" in message
    event = run_backtest(compiled, registry, options)
    assert event.liquidations == 1
    (liquidated,) = [f for f in event.fills if f.is_liquidation]
    opened = int(bars.timestamp[bar])
    assert opened <= to_millis(liquidated.timestamp) < opened + 60_000


def test_a_shared_account_at_risk_is_refused_conservatively(registry, marketdata) -> None:  # type: ignore[no-untyped-def]
    eth, btc = candles(marketdata, "ETH"), candles(marketdata, "BTC")
    start = int(eth["timestamp"].searchsorted(btc["timestamp"].iloc[-1])) - 2_999
    rules = "".join(
        ALWAYS_LONG.format(
            name=coin.lower(),
            symbol=f"{coin}-USD",
            size="percent_equity(1100%)",
            leverage=25,
            equity=10_000,
        )
        for coin in ("ETH", "BTC")
    )
    compiled = compile_text(rules, registry)
    frames = {
        "ETH-USD": frame(marketdata, "ETH", start=start, bars=3_000),
        "BTC-USD": frame(marketdata, "BTC", start=len(btc) - 3_000, bars=3_000),
    }
    with pytest.raises(ConfigError) as caught:
        run_fast(compiled, registry, options_for(compiled, frames, volume_share=None))
    message = str(caught.value)
    assert "account 'sim' holds several positions at once" in message
    assert "'eth'" in message
    assert "'btc'" in message
    assert "conservatively" in message
    event = run_backtest(compiled, registry, options_for(compiled, frames, volume_share=None))
    assert event.liquidations >= 1  # here the venue really does liquidate


def test_a_supported_run_says_it_is_the_fast_path(registry) -> None:  # type: ignore[no-untyped-def]
    compiled = compile_text(text(), registry)
    result = run_fast(
        compiled, registry, BacktestOptions(frames={("sim", "ETH-USD", "1m"): synthetic()})
    )
    assert result.engine == "fast"
    assert result.assumptions["engine"].startswith("fast path")
    assert result.trades
    assert result.liquidations == 0


def test_no_strategy_is_an_error(registry) -> None:  # type: ignore[no-untyped-def]
    compiled = compile_text("portfolio {\n    on drawdown 5% halt\n}\n", registry)
    with pytest.raises(ConfigError, match="no strategy"):
        run_fast(compiled, registry, BacktestOptions())
