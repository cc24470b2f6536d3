"""The shipped example files and every ```rules block of docs/rules.md compile."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from langkit import EXAMPLES, REPO
from sparkstacker.lang import compile_file, compile_text

if TYPE_CHECKING:
    from sparkstacker.sizing import SizingRequest

DOC = REPO / "docs" / "rules.md"
BLOCKS = re.findall(r"```rules\n(.*?)```", DOC.read_text(), re.S)


def test_the_reference_has_full_rule_file_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_rules_block_in_the_reference_compiles(index: int, lang_registry) -> None:  # type: ignore[no-untyped-def]
    rules = compile_text(BLOCKS[index], lang_registry, filename=f"docs/rules.md#{index}")
    assert rules.strategies or rules.portfolio is not None
    assert rules.warnings == (), [w.render() for w in rules.warnings]


def test_the_reference_documents_every_construct() -> None:
    text = DOC.read_text()
    for word in (
        "strategy",
        "uses",
        "import",
        "market",
        "timeframe",
        "let",
        "crosses above",
        "bars_since",
        "highest",
        "change",
        "confidence",
        "at limit",
        "post_only",
        "hedge",
        "within",
        "margin_warning",
        "max_duration",
        "portfolio",
        "reduce_only",
        "daily_reset",
        "fees",
        "slippage",
        "fill at",
        "initial_equity",
        "close@4h",
        "funding_rate",
        "mark_price",
        "Flip",
        "NaN",
        "look-ahead",
    ):
        assert word in text, word


def test_examples_compile_with_what_they_promise(lang_registry) -> None:  # type: ignore[no-untyped-def]
    names = sorted(p.name for p in EXAMPLES.glob("*.rules"))
    assert names == [
        "macd_eth_1m.rules",
        "macd_eth_1m_hedged.rules",
        "macd_flip_eth_1m.rules",
        "market_maker_btc.rules",
        "multi_timeframe.rules",
        "rsi_eth_4h.rules",
    ]
    macd = compile_file(EXAMPLES / "macd_eth_1m.rules", lang_registry).strategy("macd_eth_1m")
    assert (macd.symbol, macd.venue, macd.timeframe, macd.leverage) == (
        "ETH-USD",
        "hyperliquid",
        "1m",
        Decimal(10),
    )
    assert macd.hedge is not None
    assert (macd.hedge.ratio, macd.hedge.leverage) == (Decimal("0.2"), macd.leverage / 2)
    assert macd.risk.stop_loss == Decimal("0.05")
    assert macd.risk.take_profit == Decimal("0.1")
    assert macd.risk.max_position is not None
    assert macd.risk.max_position.amount == Decimal(1)
    assert macd.risk.max_duration is not None
    assert macd.risk.max_duration.total_seconds() == 86400

    multi = compile_file(EXAMPLES / "multi_timeframe.rules", lang_registry)
    assert [s.name for s in multi.strategies] == [
        "btc_conservative",
        "eth_aggressive",
        "sol_risk_based",
    ]
    btc, eth, sol = multi.strategies
    assert (btc.timeframe, btc.sizing.sizer, btc.sizing.params.amount) == (  # type: ignore[union-attr]
        "1d",
        "fixed_usd",
        Decimal(200),
    )
    assert (eth.timeframe, eth.extra_timeframes, eth.sizing.sizer) == (  # type: ignore[union-attr]
        "1h",
        ("4h",),
        "percent_equity",
    )
    assert eth.sizing.params.percent == Decimal("0.1")  # type: ignore[union-attr]
    assert (sol.timeframe, sol.sizing.sizer) == ("4h", "risk_based")  # type: ignore[union-attr]
    assert multi.portfolio is not None
    assert len(multi.portfolio.levels) == 4
    assert multi.files[1].endswith("portfolio.rules")
    for plan in multi.strategies:  # file-level settings reach every strategy
        assert plan.costs.taker_fee == Decimal("0.00045")
        assert plan.costs.fill_at == "next_open"

    mm = compile_file(EXAMPLES / "market_maker_btc.rules", lang_registry).strategies[0]
    assert mm.uses == "market_maker"
    assert mm.params.spread == Decimal("0.001")


def eth_long_at_2500(leverage: Decimal) -> SizingRequest:
    """A long entry on Hyperliquid's ETH-USD (10 USD minimum order) at 2500, 10 000 USD equity."""
    from sparkstacker.model import Direction, Instrument
    from sparkstacker.sizing import SizingRequest

    eth = Instrument(
        venue="hyperliquid",
        symbol="ETH-USD",
        base="ETH",
        quote="USD",
        tick_size=Decimal("0.1"),
        lot_size=Decimal("0.0001"),
        min_notional=Decimal(10),
        max_leverage=Decimal(25),
    )
    return SizingRequest(
        instrument=eth,
        direction=Direction.LONG,
        price=Decimal(2500),
        equity=Decimal(10_000),
        leverage=leverage,
    )


def test_the_1_usd_cap_is_below_the_hyperliquid_minimum(lang_registry) -> None:  # type: ignore[no-untyped-def]
    """What the macd example's comment promises: its sizer clamps every order to 1 USD, which
    the instrument's 10 USD minimum notional refuses, so no order is ever sent."""
    plan = compile_file(EXAMPLES / "macd_eth_1m.rules", lang_registry).strategies[0]
    assert plan.sizing is not None
    sizer = lang_registry.sizers.get(plan.sizing.sizer)
    request = eth_long_at_2500(plan.leverage)
    decision = sizer.size(request, plan.sizing.params)
    assert not decision.is_trade
    assert decision.reason is not None
    assert "minimum" in decision.reason


def test_the_hedged_macd_example_trades_on_hyperliquid(lang_registry) -> None:  # type: ignore[no-untyped-def]
    """The trading twin of macd_eth_1m: the same signals, 100 USD entries whose 20 % hedge
    (20 USD) clears Hyperliquid's 10 USD minimum order, at half the main leg's leverage."""
    hedged = compile_file(EXAMPLES / "macd_eth_1m_hedged.rules", lang_registry).strategies[0]
    plain = compile_file(EXAMPLES / "macd_eth_1m.rules", lang_registry).strategies[0]
    assert hedged.name == "macd_eth_1m_hedged"
    assert (hedged.symbol, hedged.venue, hedged.timeframe) == (
        plain.symbol,
        plain.venue,
        plain.timeframe,
    )

    def signals(name: str) -> list[str]:
        lines = (EXAMPLES / name).read_text().splitlines()
        return [x.strip() for x in lines if x.strip().startswith(("let ", "enter ", "exit "))]

    assert signals("macd_eth_1m_hedged.rules") == signals("macd_eth_1m.rules")
    assert len(signals("macd_eth_1m.rules")) == 6
    assert hedged.hedge is not None
    assert (hedged.hedge.ratio, hedged.hedge.leverage) == (Decimal("0.2"), hedged.leverage / 2)
    assert (hedged.hedge.venue, hedged.hedge.account) == ("hyperliquid", "hedge")
    assert hedged.risk.max_position is not None
    assert hedged.risk.max_position.amount == Decimal(100)
    assert hedged.risk.max_duration is not None
    assert (hedged.risk.stop_loss, hedged.risk.take_profit) == (Decimal("0.05"), Decimal("0.1"))
    assert hedged.sizing is not None
    request = eth_long_at_2500(hedged.leverage)
    decision = lang_registry.sizers.get(hedged.sizing.sizer).size(request, hedged.sizing.params)
    assert decision.is_trade
    assert decision.size * Decimal(2500) <= Decimal(100)
    assert decision.size * hedged.hedge.ratio * Decimal(2500) >= request.instrument.min_notional


def test_shipped_rule_files_are_registered_as_a_bundle(lang_registry) -> None:  # type: ignore[no-untyped-def]
    refs = set(lang_registry.rule_files.names())
    if not refs:
        pytest.skip("the package data is not installed (editable install without .rules data)")
    assert "examples:macd_eth_1m.rules" in refs


def test_no_file_in_examples_is_unformatted() -> None:
    from sparkstacker.lang import format_text

    for path in [*EXAMPLES.glob("*.rules"), Path(REPO / "rules" / "portfolio.rules")]:
        assert format_text(path.read_text()) == path.read_text(), path.name
