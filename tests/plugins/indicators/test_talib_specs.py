"""The TA-Lib indicators: every function registered, named, typed and validated as documented."""

from __future__ import annotations

import numpy as np
import pytest
import talib
from sparkstacker.indicators import BAR_FIELDS, IndicatorSpec
from sparkstacker.registry import Registry
from sparkstacker_plugins.indicators.talib_meta import output_names

TALIB_PLUGIN = "indicators.talib"


@pytest.fixture(scope="module")
def indicators() -> Registry:
    return Registry.load(autoload=False)


def spec(registry: Registry, name: str) -> IndicatorSpec:
    return registry.indicators.get(name)


def test_every_talib_function_is_registered_under_its_lower_case_name(
    indicators: Registry,
) -> None:
    names = set(talib.get_functions())
    assert len(names) >= 158  # TA-Lib 0.4 already had 158; newer releases add more
    from_talib = {
        e.name for e in indicators.indicators.entries() if e.origin.plugin == TALIB_PLUGIN
    }
    assert from_talib == {n.lower() for n in names} - {"vwap"}
    # TA-Lib's VWAP is superseded by the custom one (checked equal in test_custom_indicators).
    assert indicators.indicators.origin("vwap").plugin == "indicators.custom"
    assert len(indicators.indicators) >= 150


def test_macd_is_described_from_talib_metadata(indicators: Registry) -> None:
    macd = spec(indicators, "macd")
    assert [(i.name, i.default) for i in macd.inputs] == [("real", "close")]
    # TA-Lib's documented MACD defaults: 12 / 26 / 9.
    assert [(p.name, p.kind, p.default) for p in macd.params] == [
        ("fastperiod", "int", 12),
        ("slowperiod", "int", 26),
        ("signalperiod", "int", 9),
    ]
    assert macd.outputs == ("macd", "signal", "hist")
    assert macd.group == "Momentum Indicators"
    assert macd.summary == "Moving Average Convergence/Divergence"


@pytest.mark.parametrize(
    ("name", "outputs"),
    [
        ("macdext", ("macd", "signal", "hist")),
        ("macdfix", ("macd", "signal", "hist")),
        ("aroon", ("down", "up")),
        ("bbands", ("upperband", "middleband", "lowerband")),
        ("stoch", ("slowk", "slowd")),
        ("smi", ("smi", "signal")),
        ("ha", ("open", "high", "low", "close")),
        ("minmax", ("min", "max")),
        ("mama", ("mama", "fama")),
        ("rsi", ("real",)),
        ("cdlengulfing", ("integer",)),
    ],
)
def test_output_names_follow_the_prefix_rule(
    indicators: Registry, name: str, outputs: tuple[str, ...]
) -> None:
    assert spec(indicators, name).outputs == outputs


def test_output_name_rule_on_its_own() -> None:
    assert output_names("MACD", ["macd", "macdsignal", "macdhist"]) == ("macd", "signal", "hist")
    assert output_names("AROON", ["aroondown", "aroonup"]) == ("down", "up")
    assert output_names("STOCH", ["slowk", "slowd"]) == ("slowk", "slowd")
    assert output_names("X", ["real"]) == ("real",)


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        ("rsi", [("real", "close")]),
        ("beta", [("real0", "high"), ("real1", "low")]),
        ("correl", [("real0", "high"), ("real1", "low")]),
        ("obv", [("real", "close"), ("volume", "volume")]),
        ("atr", [("high", "high"), ("low", "low"), ("close", "close")]),
        ("cdlengulfing", [(f, f) for f in ("open", "high", "low", "close")]),
        ("mavp", [("real", "close"), ("periods", None)]),
    ],
)
def test_inputs_are_named_like_talibs_function_api(
    indicators: Registry, name: str, inputs: list[tuple[str, str | None]]
) -> None:
    assert [(i.name, i.default) for i in spec(indicators, name).inputs] == inputs


def test_every_spec_is_consistent(indicators: Registry) -> None:
    for name in indicators.indicators.names():
        item = spec(indicators, name)
        assert name == name.lower()
        assert len(set(item.outputs)) == len(item.outputs), name
        assert len({i.name for i in item.inputs}) == len(item.inputs), name
        names = [p.name for p in item.params] + [a for p in item.params for a in p.aliases]
        assert len(set(names)) == len(names), name
        assert all(i.default is None or i.default in BAR_FIELDS for i in item.inputs), name
        defaults = item.resolve_params()
        lookback = item.lookback(defaults)
        assert lookback >= 0, name
        assert item.window(defaults) in (None, lookback + 1), name


def test_lookback_is_talibs_own(indicators: Registry) -> None:
    # Hand-derived from TA-Lib's definitions: RSI needs `period` price changes; SMA(n) n-1
    # bars; MACD (slow-1) + (signal-1); BBANDS(20) 19; ATR(14) 14 (true range needs a prior
    # close).
    assert spec(indicators, "rsi").lookback({"timeperiod": 14}) == 14
    assert spec(indicators, "sma").lookback({"timeperiod": 30}) == 29
    macd = spec(indicators, "macd")
    assert macd.lookback(macd.resolve_params()) == 25 + 8
    assert macd.lookback(macd.resolve_params((), {"slowperiod": 40, "signalperiod": 5})) == 43
    bbands = spec(indicators, "bbands")
    assert bbands.lookback(bbands.resolve_params()) == 19
    assert bbands.lookback({"timeperiod": 20, "matype": 1}) == 19
    assert bbands.lookback({"timeperiod": 20}) == 19  # omitted values are defaults, not leftovers
    assert spec(indicators, "atr").lookback({"timeperiod": 14}) == 14


def test_window_is_finite_only_for_pure_window_functions(indicators: Registry) -> None:
    def window(name: str, **params: float) -> int | None:
        item = spec(indicators, name)
        return item.window(item.resolve_params((), params))

    assert window("sma", timeperiod=10) == 10
    assert window("max", timeperiod=5) == 5
    assert window("cdlengulfing") == spec(indicators, "cdlengulfing").lookback({}) + 1
    for unbounded in ("ema", "rsi", "atr", "macd", "adx", "kama", "t3", "obv", "ad", "adosc"):
        assert window(unbounded) is None, unbounded
    # The moving-average type decides: BBANDS over an SMA is a window, over an EMA it is not.
    assert window("bbands") == 20
    assert window("bbands", matype=1) is None
    assert window("apo") is None  # TA-Lib's APO defaults to an EMA
    assert (
        window("apo", matype=0)
        == spec(indicators, "apo").lookback(
            spec(indicators, "apo").resolve_params((), {"matype": 0})
        )
        + 1
    )


def test_values_are_talibs(indicators: Registry) -> None:
    closes = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    sma = spec(indicators, "sma").run({"real": closes}, {"timeperiod": 3})["real"]
    np.testing.assert_array_equal(sma, [np.nan, np.nan, 2.0, 3.0, 13 / 3])
    prices = np.linspace(100.0, 140.0, 60) + np.sin(np.arange(60))
    out = spec(indicators, "macd").run({"real": prices})
    fast, slow, signal = 12, 26, 9
    line, sig, hist = talib.MACD(prices, fast, slow, signal)
    np.testing.assert_array_equal(out["macd"], line)
    np.testing.assert_array_equal(out["signal"], sig)
    np.testing.assert_array_equal(out["hist"], hist)


@pytest.mark.shared
def test_integer_outputs_are_float_with_nan_warm_up(
    indicators: Registry, eth_candles: dict[str, np.ndarray]
) -> None:
    engulfing = spec(indicators, "cdlengulfing")
    bars = {k: eth_candles[k][:2000] for k in ("open", "high", "low", "close")}
    values = engulfing.run(bars)["integer"]
    lookback = engulfing.lookback({})
    assert values.dtype == np.float64
    assert np.isnan(values[:lookback]).all()
    # TA-Lib >= 0.6 scores a non-strict engulfing (equal open/close edges) as ±80.
    assert set(np.unique(values[lookback:])) <= {-100.0, -80.0, 0.0, 80.0, 100.0}
    assert (values[lookback:] != 0).sum() > 10  # real 1m candles do engulf now and then


def test_integer_warm_up_starts_after_leading_nans(indicators: Registry) -> None:
    maxindex = spec(indicators, "maxindex")
    values = np.array([np.nan, np.nan, 1.0, 5.0, 2.0, 3.0])
    out = maxindex.run({"real": values}, {"timeperiod": 3})["integer"]
    assert np.isnan(out[:4]).all()  # two leading NaNs + lookback 2
    assert out[4:].tolist() == [1.0, 2.0]


def test_index_functions_report_bars_ago(indicators: Registry) -> None:
    values = np.array([1.0, 5.0, 2.0, 3.0, 4.0, 0.0])
    out = spec(indicators, "maxindex").run({"real": values}, {"timeperiod": 3})["integer"]
    # Windows [1,5,2] → max 1 bar ago; [5,2,3] → 2 ago; [2,3,4] → 0; [3,4,0] → 1.
    np.testing.assert_array_equal(out, [np.nan, np.nan, 1, 2, 0, 1])
    both = spec(indicators, "minmaxindex").run({"real": values}, {"timeperiod": 3})
    np.testing.assert_array_equal(both["minidx"], [np.nan, np.nan, 2, 1, 2, 0])
    assert "bars ago" in spec(indicators, "minindex").summary


def test_empty_input_gives_empty_outputs(indicators: Registry) -> None:
    out = spec(indicators, "bbands").run({"real": np.array([])})
    assert all(len(v) == 0 for v in out.values())


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("rsi", {"timeperiod": 1}, "parameter timeperiod must be >= 2, got 1"),
        ("rsi", {"timeperiod": 100_001}, "timeperiod must be <= 100000"),
        ("rsi", {"timeperiod": 14.5}, "timeperiod must be a whole number"),
        ("rsi", {"timeperiod": "x"}, "timeperiod must be a number"),
        ("bbands", {"matype": 14}, "parameter matype must be <= 13"),
        ("bbands", {"matype": -1}, "parameter matype must be >= 0"),
        ("t3", {"vfactor": 1.5}, "parameter vfactor must be <= 1"),
        ("mama", {"fastlimit": 0.005}, "parameter fastlimit must be >= 0.01"),
        ("sar", {"acceleration": -0.1}, "parameter acceleration must be >= 0"),
        ("rsi", {"length": 14}, "rsi has no parameter 'length'; valid: timeperiod"),
    ],
)
def test_bad_parameters_are_value_errors_naming_the_parameter(
    indicators: Registry, name: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        spec(indicators, name).resolve_params((), params)


def test_sma_accepts_period_one_where_talib_does(indicators: Registry) -> None:
    sma = spec(indicators, "sma")
    closes = np.array([3.0, 1.0, 2.0])
    np.testing.assert_array_equal(sma.run({"real": closes}, {"timeperiod": 1})["real"], closes)


def test_a_rejected_combination_is_reported_before_talib_runs(indicators: Registry) -> None:
    mavp = spec(indicators, "mavp")
    bad = mavp.resolve_params((), {"minperiod": 40})  # above the default maxperiod 30
    with pytest.raises(ValueError, match="mavp: TA-Lib does not accept parameter minperiod=40"):
        mavp.lookback(bad)
    with pytest.raises(ValueError, match="minperiod=40"):
        mavp.run({"real": np.ones(50), "periods": np.full(50, 5.0)}, bad)
    both = mavp.resolve_params((), {"minperiod": 20, "maxperiod": 10})
    with pytest.raises(ValueError, match=r"combination of parameters: .*maxperiod=10"):
        mavp.lookback(both)
    fine = mavp.resolve_params((), {"minperiod": 40, "maxperiod": 50})
    assert mavp.lookback(fine) == 49


def test_period_parameters_answer_to_short_names(indicators: Registry) -> None:
    macd = spec(indicators, "macd")
    assert macd.resolve_params((), {"fast": 8, "slow": 21, "signal": 5}) == {
        "fastperiod": 8,
        "slowperiod": 21,
        "signalperiod": 5,
    }
    assert spec(indicators, "rsi").resolve_params((), {"period": 7}) == {"timeperiod": 7}
    assert spec(indicators, "stoch").resolve_params((), {"fastk": 9})["fastk_period"] == 9
    with pytest.raises(ValueError, match="'timeperiod' given twice"):
        spec(indicators, "rsi").resolve_params((14,), {"period": 7})


def test_positional_parameters_follow_talib_order(indicators: Registry) -> None:
    bbands = spec(indicators, "bbands")
    assert bbands.resolve_params((10, 1.5)) == {
        "timeperiod": 10,
        "nbdevup": 1.5,
        "nbdevdn": 2.0,
        "matype": 0,
    }
