"""Incremental == vectorised for every registered indicator, on real market data.

For each indicator (default parameters, plus every moving-average type for the functions that
take one) the vectorised ``spec.run`` over ``lookback + 300`` real bars is compared with the
``spec.stream`` fed the same bars one at a time. The stream re-evaluates only ``window`` bars,
so a wrong ``window`` (a pure-window claim for an EMA-seeded function) shows up here.

Comparison is exact (bit for bit, NaN where NaN) except for :data:`RUNNING_TOTALS`: TA-Lib's C
code for those keeps running sums along the whole array (add the newest value, subtract the
oldest), while the stream sums its window afresh. Both are correct roundings of the same
number; they differ by the rounding carried in the running total, which grows with the number
of bars (about bars × 2⁻⁵² of the summed magnitude) and is amplified by cancellation in the
formula (a linear-regression slope, an oscillator near zero). Over these samples the largest
difference is under 1e-10 of the output's range; the tolerance is 1e-9 of that range, far below
any difference a rule could act on. Everything else, the custom indicators included, must be
exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from sparkstacker.indicators import IndicatorSpec
from sparkstacker.registry import Registry
from sparkstacker_plugins.indicators.talib_meta import MA_TYPE_NAMES, describe

UPDATES = 300
RANGE_TOLERANCE = 1e-9

# TA-Lib functions that carry running totals across the array (SMA/WMA/sum/variance/regression
# state); with a finite window their stream differs only by that rounding.
RUNNING_TOTALS = frozenset(
    {
        "ac", "accbands", "ao", "apo", "bbands", "beta", "cci", "cmf", "coppock", "correl",
        "dpo", "fosc", "hma", "kdj", "linearreg", "linearreg_angle", "linearreg_intercept",
        "linearreg_slope", "ma", "macdext", "mavp", "mfi", "ppo", "pvo", "rvol", "sma",
        "stddev", "stoch", "stochf", "sum", "trima", "tsf", "var", "vwma", "wma",
    }
)  # fmt: skip

# Math transforms whose domain excludes prices (acos of 1,900 is NaN, exp overflows) read a
# real series inside (-1, 1) instead: tanh of 100 x the bar's log return.
DOMAIN_INPUTS = {name: "unit" for name in ("acos", "asin", "exp", "cosh", "sinh")}

_REGISTRY = Registry.load(autoload=False)
_SPECS = {name: _REGISTRY.indicators.get(name) for name in _REGISTRY.indicators.names()}


def _cases() -> list[Any]:
    cases = [pytest.param(name, {}, id=name) for name in _SPECS]
    for name, spec in _SPECS.items():
        if not spec.source.startswith("TA-Lib"):
            continue
        ma_params = describe(name.upper()).ma_type_params
        for ma_type in MA_TYPE_NAMES if ma_params else ():
            params = dict.fromkeys(ma_params, ma_type)
            cases.append(pytest.param(name, params, id=f"{name}-matype{ma_type}"))
    return cases


@pytest.fixture(scope="module")
def series(
    eth_candles: dict[str, np.ndarray],
    book_ticks: dict[str, np.ndarray],
    hl_funding: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every input any indicator reads, 3,000 values each, from recorded data."""
    length = len(eth_candles["close"])
    # Hyperliquid's hourly funding prints placed every 6th bar (hourly funding on 10m bars),
    # NaN between prints, as the engine's BarFrame carries them.
    funding = np.full(length, np.nan)
    prints = hl_funding[5_000 : 5_000 + length // 6]
    funding[::6][: len(prints)] = prints
    return {
        **eth_candles,
        **book_ticks,
        "funding": funding,
        "unit": np.tanh(100 * np.diff(np.log(eth_candles["close"]), prepend=np.nan)),
        # MAVP's per-bar period: a deterministic sweep through its default range 2..30.
        "periods": 2.0 + np.arange(length) % 29,
    }


def _inputs(spec: IndicatorSpec, series: Mapping[str, np.ndarray], count: int) -> dict[str, Any]:
    inputs = {}
    for item in spec.inputs:
        source = DOMAIN_INPUTS.get(spec.name) or item.default or item.name
        assert source in series, f"no test series for input {item.name!r} of {spec.name}"
        inputs[item.name] = series[source][:count]
    return inputs


@pytest.mark.shared
@pytest.mark.parametrize(("name", "params"), _cases())
def test_stream_matches_vectorised(
    name: str, params: dict[str, int], series: dict[str, np.ndarray]
) -> None:
    spec = _SPECS[name]
    resolved = spec.resolve_params((), params)
    count = spec.lookback(resolved) + UPDATES
    assert count <= len(series["close"]), f"{name} needs {count} bars"
    inputs = _inputs(spec, series, count)

    vectorised = spec.run(inputs, resolved)
    stream = spec.stream(resolved)
    streamed = {output: np.empty(count) for output in spec.outputs}
    for index in range(count):
        newest = stream.update({key: values[index] for key, values in inputs.items()})
        for output, value in newest.items():
            streamed[output][index] = value

    window = spec.window(resolved)
    for output in spec.outputs:
        expected, got = vectorised[output], streamed[output]
        assert expected.dtype == np.float64
        assert np.array_equal(np.isnan(expected), np.isnan(got)), f"{output}: NaN positions differ"
        assert np.isnan(expected[: spec.lookback(resolved)]).all(), f"{output}: warm-up not NaN"
        assert not np.isnan(expected[-UPDATES:]).all(), f"{output}: never produced a value"
        if window is None or name not in RUNNING_TOTALS:
            mismatch = np.flatnonzero(~((expected == got) | np.isnan(expected)))
            assert mismatch.size == 0, (
                f"{output} (window={window}) differs first at bar {mismatch[:1]}: "
                f"{expected[mismatch[:3]]} vs {got[mismatch[:3]]}"
            )
        else:
            scale = np.nanmax(np.abs(expected))
            np.testing.assert_allclose(got, expected, rtol=0, atol=RANGE_TOLERANCE * scale)


@pytest.mark.shared
def test_pure_window_claim_is_tight(series: dict[str, np.ndarray]) -> None:
    """A window one bar shorter than claimed must change some value of an EMA-free average:
    the claimed window is the real dependency, not just an upper bound."""
    spec = _SPECS["sma"]
    params = spec.resolve_params((), {"timeperiod": 10})
    assert spec.window(params) == 10
    closes = series["close"][:100]
    full = spec.run({"real": closes}, params)["real"]
    short = [spec.run({"real": closes[i - 8 : i + 1]}, params)["real"][-1] for i in range(9, 100)]
    assert np.isnan(short).all()  # 9 bars cannot produce a 10-bar SMA
    assert not np.isnan(full[9:]).any()
