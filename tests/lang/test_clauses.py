"""Clauses compile into the plan's frozen data with units converted (5% → 0.05, 10 bps → 0.001)."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest
from langkit import strategy
from sparkstacker.errors import RuleError
from sparkstacker.lang.plan import GovernorLevel, MarginWarning, MoneyLimit

D = Decimal


def test_risk_clause_values(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        strategy(
            "enter long when close > open\n"
            "risk stop_loss 5%, take_profit 10%, trailing_stop 50 bps, max_position 1000 USD\n"
            "risk max_leverage 10x, max_drawdown 2%, daily_loss 100 USD, max_duration 24h\n"
            "risk margin_warning 90% close_all, margin_warning 80% reduce 50%\n"
            "risk margin_warning 70% close_hedge_if_profitable"
        )
    ).strategies[0]
    risk = plan.risk
    assert (risk.stop_loss, risk.take_profit, risk.trailing_stop) == (
        D("0.05"),
        D("0.1"),
        D("0.005"),
    )
    assert risk.max_position == MoneyLimit(amount=D(1000))
    assert risk.max_leverage == D(10)
    assert risk.max_drawdown == D("0.02")
    assert risk.daily_loss == MoneyLimit(amount=D(100))
    assert risk.max_duration == timedelta(hours=24)
    assert risk.max_duration_bars is None
    assert risk.margin_warnings == (
        MarginWarning(D("0.7"), "close_hedge_if_profitable"),
        MarginWarning(D("0.8"), "reduce", D("0.5")),
        MarginWarning(D("0.9"), "close_all"),
    )


def test_risk_block_form_bar_durations_and_percent_limits(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        strategy(
            "enter long when close > open\nrisk {\n  max_duration 1440 bars\n  daily_loss 3%\n"
            "  max_position 25%\n}"
        )
    ).strategies[0]
    assert plan.risk.max_duration_bars == 1440
    assert plan.risk.max_duration is None
    assert plan.risk.daily_loss == MoneyLimit(fraction=D("0.03"))
    assert plan.risk.max_position == MoneyLimit(fraction=D("0.25"))
    assert plan.risk.daily_loss.resolve(D(5000)) == D(150)


def test_duplicate_risk_keys_are_errors(compile_src) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleError, match="stop_loss is set twice"):
        compile_src(strategy("enter long when close > open\nrisk stop_loss 5%\nrisk stop_loss 4%"))


def test_hedge_spec(compile_src) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        strategy(
            "enter long when close > open\nleverage 10x\n"
            'hedge ratio 20%, leverage 5x, on sim market BTC-USD account "h", '
            "within 30s else retry 3"
        )
    ).strategies[0]
    hedge = plan.hedge
    assert hedge is not None
    assert (hedge.ratio, hedge.leverage, hedge.venue, hedge.symbol, hedge.account) == (
        D("0.2"),
        D(5),
        "sim",
        "BTC-USD",
        "h",
    )
    assert (hedge.within, hedge.on_timeout, hedge.retries) == (timedelta(seconds=30), "retry", 3)


def test_hedge_defaults_and_same_account_warning(compile_src) -> None:  # type: ignore[no-untyped-def]
    rules = compile_src(strategy("enter long when close > open\nleverage 4x\nhedge ratio 50%"))
    hedge = rules.strategies[0].hedge
    assert hedge is not None
    assert (hedge.leverage, hedge.venue, hedge.symbol, hedge.within, hedge.on_timeout) == (
        D(4),
        "hyperliquid",
        None,
        timedelta(seconds=10),
        "unwind",
    )
    assert any("nets against the main position" in w.message for w in rules.warnings)


def test_sizing_params_are_the_sizers_model(compile_src, lang_registry) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        strategy(
            "enter long when close > open\n"
            "size fixed_usd(100 USD, max: 1000 USD, confidence: false)"
        )
    ).strategies[0]
    assert plan.sizing is not None
    assert plan.sizing.sizer == "fixed_usd"
    model = lang_registry.sizers.get("fixed_usd").params_model
    assert isinstance(plan.sizing.params, model)
    assert plan.sizing.params.amount == D(100)
    assert plan.sizing.params.max_usd == D(1000)
    assert plan.sizing.params.scale_by_confidence is False
    plan = compile_src(
        strategy("enter long when close > open\nsize risk_based(1%, stop: 50 bps)")
    ).strategies[0]
    assert (plan.sizing.params.risk, plan.sizing.params.stop) == (D("0.01"), D("0.005"))


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        ("fixed_usd(100)", "amount must be an amount of money, like 100 USD, got 100"),
        ("percent_equity(10 USD)", "percent must be a percentage, like 5% or 50 bps, got 10 USD"),
        ("fixed_usd(100 USD, 5 USD)", "takes 1 unnamed parameter(s) (amount)"),
        ("fixed_usd(amount: 100 USD, 5 USD)", "unnamed parameters come before named ones"),
        ("fixed_usd(100 USD, mx: 1 USD)", "has no parameter 'mx'"),
        ("fixed_usd(close)", "amount must be an amount of money, like 100 USD, got close"),
        ("fixed_usd(close * 2)", "sizer parameters are written values"),
        ("fixed_usd(-5 USD)", "amount must be more than 0"),
        ("percent_equity()", "needs percent"),
    ],
)
def test_sizer_mistakes(call: str, fragment: str, compile_src) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleError) as info:
        compile_src(strategy(f"enter long when close > open\nsize {call}"))
    assert fragment in info.value.message, info.value.render()
    assert info.value.line == 5


MM = (
    'strategy "mm" uses market_maker {{\n    market BTC-USD on hyperliquid\n'
    "    params {{\n{params}\n    }}\n}}\n"
)


def test_market_maker_params_convert_units(compile_src, lang_registry) -> None:  # type: ignore[no-untyped-def]
    plan = compile_src(
        MM.format(
            params=(
                "spread 10 bps\norder_size 50 USD\nmax_inventory 500 USD\ninventory_skew 25%\n"
                "reference microprice\npost_only false\nmin_quote_interval 3 bars\nlevels 2"
            )
        )
    ).strategies[0]
    params = plan.params
    assert isinstance(params, lang_registry.strategies.get("market_maker").params_model)
    assert (params.spread, params.order_size, params.max_inventory) == (D("0.001"), D(50), D(500))
    assert (params.inventory_skew, params.reference, params.post_only) == (
        D("0.25"),
        "microprice",
        False,
    )
    assert (params.min_quote_interval, params.levels) == (3, 2)
    assert plan.uses == "market_maker"
    assert plan.timeframe == "1m"
    assert plan.prepare is not None
    assert plan.program.entries == ()


@pytest.mark.parametrize(
    ("params", "fragment", "line"),
    [
        ("spread 60%\norder_size 50 USD\nmax_inventory 500 USD", "spread must be less than 50%", 4),
        ("spread 10\norder_size 50 USD\nmax_inventory 500 USD", "spread must be a percentage", 4),
        (
            "spread 10 bps\norder_size 50 USD\nmax_inventory 500 USD\nsprd 1",
            "no parameter 'sprd'",
            7,
        ),
        ("spread 10 bps\norder_size 50 USD\nmax_inventory 5 USD", "below order_size", 3),
        ("spread 10 bps\nmax_inventory 500 USD", "needs order_size", 3),
        (
            "spread 10 bps\norder_size 50 USD\nmax_inventory 500 USD\nlevels 2 USD",
            "levels must be a plain number",
            7,
        ),
        ("spread 10 bps\norder_size 50 USD\nmax_inventory 500 USD\nreference best", "reference", 7),
    ],
)
def test_market_maker_param_errors_point_at_the_param(
    params: str, fragment: str, line: int, compile_src
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleError) as info:
        compile_src(MM.format(params=params))
    assert fragment in info.value.message, info.value.render()
    assert info.value.line == line


def test_uses_strategies_take_no_rules(compile_src) -> None:  # type: ignore[no-untyped-def]
    text = MM.format(params="spread 10 bps\norder_size 50 USD\nmax_inventory 500 USD")
    text = text.replace("    params", "    enter long when close > open\n    params")
    with pytest.raises(RuleError, match="driven by that plugin"):
        compile_src(text)


def test_costs_file_level_defaults_and_strategy_overrides(compile_src) -> None:  # type: ignore[no-untyped-def]
    text = (
        "fees maker 0.01% taker 0.035%\nslippage 2 bps\nfill at close\ninitial_equity 5000 USD\n"
        + strategy("enter long when close > open")
        + strategy(
            "enter long when close > open\nfill at next_open\n"
            "slippage volume_impact(k: 0.2, max_impact: 3%)"
        ).replace('"s"', '"t"')
    )
    first, second = compile_src(text).strategies
    assert (first.costs.maker_fee, first.costs.taker_fee) == (D("0.0001"), D("0.00035"))
    assert first.costs.slippage_model == "fixed_bps"
    assert first.costs.slippage_params == {"bps": D(2)}
    assert (first.costs.fill_at, first.costs.initial_equity) == ("close", D(5000))
    assert second.costs.fill_at == "next_open"
    assert second.costs.maker_fee == D("0.0001")
    assert second.costs.slippage_model == "volume_impact"
    assert second.costs.slippage_params == {"k": D("0.2"), "max_impact": D("0.03")}


def test_unknown_slippage_model_and_bad_params(compile_src) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleError, match="unknown slippage model 'volume_impct'"):
        compile_src(strategy("enter long when close > open\nslippage volume_impct(k: 1)"))
    with pytest.raises(RuleError, match="exponent"):
        compile_src(strategy("enter long when close > open\nslippage volume_impact(exponent: 9)"))


def test_portfolio_plan(compile_src) -> None:  # type: ignore[no-untyped-def]
    rules = compile_src(
        "portfolio {\n  max_gross_exposure 5000 USD; max_leverage 5x\n  on drawdown 8% halt\n"
        "  on drawdown 5% reduce_only; on drawdown 10% flatten\n  on daily_loss 300 USD halt\n"
        "  daily_reset 08:30 UTC\n  hysteresis 10%\n}\n"
    )
    portfolio = rules.portfolio
    assert portfolio is not None
    assert portfolio.max_gross_exposure == MoneyLimit(amount=D(5000))
    assert portfolio.max_leverage == D(5)
    assert portfolio.levels == (
        GovernorLevel("daily_loss", MoneyLimit(amount=D(300)), "halt"),
        GovernorLevel("drawdown", MoneyLimit(fraction=D("0.05")), "reduce_only"),
        GovernorLevel("drawdown", MoneyLimit(fraction=D("0.08")), "halt"),
        GovernorLevel("drawdown", MoneyLimit(fraction=D("0.1")), "flatten"),
    )
    assert portfolio.daily_reset == time(8, 30)
    assert portfolio.hysteresis == D("0.1")
    assert portfolio.source is not None
    assert portfolio.source.line == 1


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        ("on drawdown 5% halt; on drawdown 8% reduce_only", "actions must escalate"),
        ("on drawdown 5% halt; on drawdown 5% flatten", "two actions for drawdown at 5%"),
        ("on drawdown 5 halt", "needs a unit"),
        ("max_leverage 5", "max_leverage needs a unit"),
        ("daily_reset 24:00", "not a time of day"),
        ("max_leverage 5x; max_leverage 3x", "given twice"),
    ],
)
def test_portfolio_mistakes(items: str, fragment: str, compile_src) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleError) as info:
        compile_src(f"portfolio {{ {items} }}")
    assert fragment in info.value.message, info.value.render()
