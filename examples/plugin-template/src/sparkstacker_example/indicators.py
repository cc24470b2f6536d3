"""The ``zscore`` indicator, registered through ``register_indicators``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sparkstacker import hookimpl
from sparkstacker.indicators import IndicatorSpec, InputSpec, ParamSpec


def _zscore(inputs: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    values = inputs["real"]
    period = int(params["period"])
    out = np.full(len(values), np.nan)
    if len(values) >= period:
        windows = np.lib.stride_tricks.sliding_window_view(values, period)
        mean = windows.mean(axis=1)
        std = windows.std(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[period - 1 :] = np.where(std > 0, (values[period - 1 :] - mean) / std, 0.0)
    return {"value": out}


ZSCORE = IndicatorSpec(
    name="zscore",
    summary="Rolling z-score: (x - mean) / std over the last period bars",
    group="Example",
    inputs=(InputSpec("real", default="close"),),
    params=(ParamSpec("period", "int", 20, minimum=2, maximum=100_000),),
    outputs=("value",),
    compute=_zscore,
    lookback=lambda params: int(params["period"]) - 1,
    window=lambda params: int(params["period"]),
    source="sparkstacker-example",
)


@hookimpl
def register_indicators() -> list[IndicatorSpec]:
    return [ZSCORE]
