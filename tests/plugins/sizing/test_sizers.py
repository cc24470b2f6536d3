"""The built-in sizers: formulas by hand (Decimal, exact), edge cases with reasons, clamps."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sparkstacker.errors import PluginError
from sparkstacker.model import Direction, Instrument
from sparkstacker.registry import Registry
from sparkstacker.sizing import SizeDecision, Sizer, SizerParams, SizingRequest
from sparkstacker_plugins.sizing.basic import FixedUsdParams
from sparkstacker_plugins.sizing.kelly import kelly_fraction

D = Decimal
ETH = Instrument(
    symbol="ETH-USD",
    venue="sim",
    base="ETH",
    quote="USD",
    tick_size=D("0.01"),
    lot_size=D("0.001"),
    min_notional=D("10"),
    max_leverage=D("25"),
)


@pytest.fixture(scope="module")
def sizers() -> dict[str, Sizer]:
    registry = Registry.load(autoload=False)
    return {name: registry.sizers.get(name) for name in registry.sizers.names()}


def request(**fields: Any) -> SizingRequest:
    values: dict[str, Any] = {
        "instrument": ETH,
        "direction": Direction.LONG,
        "price": D("2500"),
        "equity": D("10000"),
    }
    values.update(fields)
    return SizingRequest(**values)


def decide(sizers: dict[str, Sizer], name: str, req: SizingRequest, **params: Any) -> SizeDecision:
    sizer = sizers[name]
    return sizer.size(req, sizer.params_model.model_validate(params))


# ---- the contract ----------------------------------------------------------------------------


def test_builtin_sizers_implement_the_protocol(sizers: dict[str, Sizer]) -> None:
    assert set(sizers) == {"fixed_usd", "fixed_units", "percent_equity", "risk_based", "kelly"}
    for name, sizer in sizers.items():
        assert isinstance(sizer, Sizer)
        assert sizer.name == name
        assert sizer.summary
        assert issubclass(sizer.params_model, SizerParams)
        assert set(sizer.positional) <= set(sizer.params_model.model_fields), name


@pytest.mark.parametrize(
    ("sizer", "units"),
    [
        ("fixed_usd", {"amount": "USD"}),
        ("fixed_units", {"units": "ratio"}),
        ("percent_equity", {"percent": "fraction"}),
        ("risk_based", {"risk": "fraction", "stop": "fraction"}),
        ("kelly", {"win_rate": "fraction", "payoff": "ratio", "fraction": "fraction"}),
    ],
)
def test_every_parameter_declares_its_unit(
    sizers: dict[str, Sizer], sizer: str, units: dict[str, str]
) -> None:
    fields = sizers[sizer].params_model.model_fields
    own = {n: f for n, f in fields.items() if n not in SizerParams.model_fields}
    declared = {n: f.json_schema_extra["unit"] for n, f in own.items()}  # type: ignore[index]
    assert declared == units
    assert sizers[sizer].positional[0] == next(iter(units))


def test_shared_clamps_keep_their_rule_names() -> None:
    params = FixedUsdParams.model_validate({"amount": "100", "max": "1000", "confidence": False})
    assert params.max_usd == D("1000")
    assert params.scale_by_confidence is False


@pytest.mark.parametrize(
    ("sizer", "params"),
    [
        ("fixed_usd", {"amount": 0}),
        ("fixed_usd", {"amount": 100, "leverage": 5}),  # unknown name
        ("percent_equity", {"percent": "-0.1"}),
        ("risk_based", {"risk": 1}),
        ("risk_based", {"risk": "0.01", "stop": 0}),
        ("kelly", {"win_rate": "1.1"}),
        ("kelly", {"payoff": 0}),
        ("kelly", {"fraction": "1.5"}),
    ],
)
def test_invalid_parameters_fail_validation(
    sizers: dict[str, Sizer], sizer: str, params: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        sizers[sizer].params_model.model_validate(params)


def test_params_of_another_sizer_are_a_plugin_error(sizers: dict[str, Sizer]) -> None:
    with pytest.raises(PluginError, match="sizer kelly expects KellyParams, got FixedUsdParams"):
        sizers["kelly"].size(request(), FixedUsdParams(amount=D("100")))


# ---- formulas ----------------------------------------------------------------------------


def test_fixed_usd(sizers: dict[str, Sizer]) -> None:
    decision = decide(sizers, "fixed_usd", request(), amount="100")
    assert (decision.size, decision.notional, decision.reason) == (D("0.040"), D("100"), None)
    # 100 / 3000 = 0.0333… ETH, rounded down to the 0.001 lot: 0.033 ETH = 99 USD.
    decision = decide(sizers, "fixed_usd", request(price=D("3000")), amount="100")
    assert (decision.size, decision.notional) == (D("0.033"), D("99"))


def test_percent_equity_ignores_leverage(sizers: dict[str, Sizer]) -> None:
    # 10 % of 10,000 = 1,000 USD = 0.4 ETH at 2,500, whatever the leverage.
    for leverage in ("1", "5", "20"):
        decision = decide(sizers, "percent_equity", request(leverage=D(leverage)), percent="0.10")
        assert (decision.size, decision.notional) == (D("0.4"), D("1000"))


def test_risk_based_loses_the_risk_at_the_stop(sizers: dict[str, Sizer]) -> None:
    # 10,000 × 1 % / 5 % = 2,000 USD = 0.8 ETH; a 5 % stop then loses 100 USD = 1 % of equity.
    decision = decide(sizers, "risk_based", request(stop_distance=D("0.05")), risk="0.01")
    assert (decision.size, decision.notional) == (D("0.8"), D("2000"))
    assert decision.notional * D("0.05") == D("10000") * D("0.01")


def test_risk_based_stop_comes_from_the_strategy_first(sizers: dict[str, Sizer]) -> None:
    # No strategy stop: the sizer's own 2 % → 10,000 × 1 % / 2 % = 5,000 USD = 2 ETH.
    fallback = decide(sizers, "risk_based", request(), risk="0.01", stop="0.02")
    assert fallback.size == D("2")
    # The strategy's 5 % stop is the loss that will really happen, so it wins.
    real = decide(sizers, "risk_based", request(stop_distance=D("0.05")), risk="0.01", stop="0.02")
    assert real.size == D("0.8")


def test_kelly_formula() -> None:
    # p = 0.55, b = 1.5: f* = 0.55 − 0.45 / 1.5 = 0.25.
    assert kelly_fraction(D("0.55"), D("1.5")) == D("0.25")
    assert kelly_fraction(D("0.5"), D("1")) == 0


def test_kelly_from_params_and_from_the_record(sizers: dict[str, Sizer]) -> None:
    # f* 0.25 × half Kelly × 10,000 = 1,250 USD = 0.5 ETH.
    pinned = decide(sizers, "kelly", request(), win_rate="0.55", payoff="1.5")
    assert (pinned.size, pinned.notional) == (D("0.5"), D("1250"))
    # From the record: p 0.6, b 2 → f* = 0.6 − 0.4 / 2 = 0.4; × 0.25 → 1,000 USD = 0.4 ETH.
    record = request(win_rate=D("0.6"), payoff_ratio=D("2"))
    measured = decide(sizers, "kelly", record, fraction="0.25")
    assert (measured.size, measured.notional) == (D("0.4"), D("1000"))
    # Pinned parameters win over the record.
    mixed = decide(sizers, "kelly", record, win_rate="0.55", payoff="1.5")
    assert mixed.size == D("0.5")


# ---- shared steps ------------------------------------------------------------------------


def test_confidence_scales_the_size(sizers: dict[str, Sizer]) -> None:
    half = decide(sizers, "fixed_usd", request(confidence=D("0.5")), amount="100")
    assert half.size == D("0.020")
    unscaled = decide(
        sizers, "fixed_usd", request(confidence=D("0.5")), amount="100", confidence=False
    )
    assert unscaled.size == D("0.040")
    none = decide(sizers, "fixed_usd", request(confidence=D("0")), amount="100")
    assert (none.size, none.reason) == (D("0"), "confidence is 0")


def test_max_and_min_clamps(sizers: dict[str, Sizer]) -> None:
    capped = decide(sizers, "percent_equity", request(), percent="0.5", max="1000")
    assert (capped.notional, capped.clamped) == (D("1000"), "max 1000 USD")
    raised = decide(sizers, "fixed_usd", request(), amount="20", min="50")
    assert (raised.size, raised.clamped) == (D("0.020"), "min 50 USD")
    crossed = decide(sizers, "fixed_usd", request(), amount="20", min="500", max="100")
    assert crossed.size == 0
    assert crossed.reason == "min 500 USD is above max 100 USD"


# ---- edge cases: zero size with a reason, never an exception ----------------------------


@pytest.mark.parametrize("equity", ["0", "-250.5"])
@pytest.mark.parametrize(
    ("sizer", "params"),
    [
        ("fixed_usd", {"amount": "100"}),
        ("percent_equity", {"percent": "0.1"}),
        ("risk_based", {"risk": "0.01", "stop": "0.05"}),
        ("kelly", {"win_rate": "0.6", "payoff": "2"}),
    ],
)
def test_no_equity_means_no_trade(
    sizers: dict[str, Sizer], sizer: str, params: dict[str, str], equity: str
) -> None:
    decision = decide(sizers, sizer, request(equity=D(equity)), **params)
    assert (decision.size, decision.notional, decision.is_trade) == (0, 0, False)
    assert decision.reason == (
        f"equity {equity} USD is not positive; nothing to size a position from"
    )


def test_risk_based_without_a_stop(sizers: dict[str, Sizer]) -> None:
    decision = decide(sizers, "risk_based", request(), risk="0.01")
    assert decision.size == 0
    assert decision.reason is not None
    assert decision.reason.startswith("risk_based needs a stop distance")


@pytest.mark.parametrize("stop", ["0", "-0.02"])
def test_risk_based_with_a_non_positive_stop(sizers: dict[str, Sizer], stop: str) -> None:
    decision = decide(sizers, "risk_based", request(stop_distance=D(stop)), risk="0.01")
    assert decision.size == 0
    assert decision.reason == f"stop distance {stop} is not positive; risk per trade is undefined"


@pytest.mark.parametrize(
    ("win_rate", "payoff", "edge"), [("0.4", "1", "-0.2000"), ("0.5", "1", "0.0000")]
)
def test_kelly_without_an_edge(
    sizers: dict[str, Sizer], win_rate: str, payoff: str, edge: str
) -> None:
    decision = decide(sizers, "kelly", request(), win_rate=win_rate, payoff=payoff)
    assert decision.size == 0
    assert decision.reason == (
        f"no edge: Kelly f* = {edge} for win rate {win_rate} and payoff {payoff}"
    )


def test_kelly_without_statistics(sizers: dict[str, Sizer]) -> None:
    decision = decide(sizers, "kelly", request(), payoff="2")
    assert decision.size == 0
    assert decision.reason is not None
    assert decision.reason.startswith("kelly needs win_rate:")
    neither = decide(sizers, "kelly", request())
    assert neither.reason is not None
    assert neither.reason.startswith("kelly needs win_rate and payoff:")


def test_a_size_under_one_lot_is_no_trade(sizers: dict[str, Sizer]) -> None:
    # 1 USD / 2,500 = 0.0004 ETH, under the 0.001 lot.
    decision = decide(sizers, "fixed_usd", request(), amount="1")
    assert decision.size == 0
    assert decision.reason is not None
    assert "rounds to 0 at lot size 0.001" in decision.reason


def test_a_size_under_the_minimum_notional_is_no_trade(sizers: dict[str, Sizer]) -> None:
    # 5 USD = 0.002 ETH: a valid lot, but under the venue's 10 USD minimum.
    decision = decide(sizers, "fixed_usd", request(), amount="5")
    assert decision.size == 0
    assert decision.reason is not None
    assert "under the minimum 10 USD" in decision.reason


def test_fixed_units_keeps_the_size_and_rounds_down_to_the_lot(sizers: dict[str, Sizer]) -> None:
    assert decide(sizers, "fixed_units", request(), units="1.5").size == D("1.5")
    assert decide(sizers, "fixed_units", request(), units="0.0129").size == D("0.012")
    halved = decide(sizers, "fixed_units", request(confidence=D("0.5")), units="2")
    assert halved.size == D("1")
    tiny = decide(sizers, "fixed_units", request(), units="0.0001")
    assert tiny.size == 0
    assert "rounds to 0" in (tiny.reason or "")
