"""Any parameter values: a clear ValueError naming the parameter, or a result; never a crash."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sparkstacker.indicators import IndicatorSpec, ParamSpec
from sparkstacker.registry import Registry

_REGISTRY = Registry.load(autoload=False)
TALIB = [
    _REGISTRY.indicators.get(name)
    for name in _REGISTRY.indicators.names()
    if _REGISTRY.indicators.origin(name).plugin == "indicators.talib"
]
WITH_PARAMS = [spec for spec in TALIB if spec.params]
BARS = 400


def _inputs(spec: IndicatorSpec) -> dict[str, np.ndarray]:
    """Real-looking but fixed inputs: a random walk around 100 with a positive volume."""
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 0.5, BARS))
    bars = {
        "open": close + rng.normal(0, 0.2, BARS),
        "close": close,
        "volume": rng.uniform(1, 50, BARS),
        "periods": rng.integers(2, 40, BARS).astype(float),
    }
    bars["high"] = np.maximum(bars["open"], close) + rng.uniform(0, 0.5, BARS)
    bars["low"] = np.minimum(bars["open"], close) - rng.uniform(0, 0.5, BARS)
    return {i.name: bars[i.default or i.name] for i in spec.inputs}


def _value(param: ParamSpec) -> st.SearchStrategy[float]:
    if param.kind == "int":
        return st.integers(min_value=-3, max_value=120).map(float)
    return st.floats(min_value=-2, max_value=150, allow_nan=False)


@st.composite
def calls(draw: st.DrawFn) -> tuple[IndicatorSpec, dict[str, float]]:
    spec = draw(st.sampled_from(WITH_PARAMS))
    chosen = draw(st.lists(st.sampled_from(spec.params), min_size=1, unique=True))
    return spec, {p.name: draw(_value(p)) for p in chosen}


def _problem(spec: IndicatorSpec, params: dict[str, float]) -> str | None:
    """The ValueError text for these parameters, or None when they are valid."""
    try:
        spec.lookback(spec.resolve_params((), params))
    except ValueError as exc:
        return str(exc)
    return None


@settings(max_examples=400, deadline=None)
@given(call=calls())
def test_random_parameters_either_run_or_name_the_problem(
    call: tuple[IndicatorSpec, dict[str, float]],
) -> None:
    spec, params = call
    problem = _problem(spec, params)
    if problem is not None:
        assert spec.name in problem or any(name in problem for name in params), problem
        return
    out = spec.run(_inputs(spec), params)
    assert all(values.dtype == np.float64 and len(values) == BARS for values in out.values())


@pytest.mark.parametrize("spec", WITH_PARAMS, ids=lambda s: s.name)
def test_range_edges_are_talibs(spec: IndicatorSpec) -> None:
    """At each documented minimum / maximum the function runs; one step outside, a ValueError
    from the parameter check (not from TA-Lib)."""
    inputs = _inputs(spec)
    for param in spec.params:
        for edge, outside in (
            (param.minimum, -1 if param.kind == "int" else -math.inf),
            (param.maximum, 1 if param.kind == "int" else math.inf),
        ):
            if edge is None or abs(edge) >= 1e30:
                continue
            value = int(edge) if param.kind == "int" else edge
            spec.run(inputs, {param.name: value})
            beyond = value + outside if param.kind == "int" else math.nextafter(edge, outside)
            with pytest.raises(ValueError, match=f"parameter {param.name} must be"):
                spec.resolve_params((), {param.name: beyond})
