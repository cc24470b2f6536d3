"""Every TA-Lib function as a Spark Stacker indicator, generated from TA-Lib's own metadata.

How a TA-Lib function maps to an :class:`~sparkstacker.indicators.IndicatorSpec`:

* **Name**: the TA-Lib name in lower case (``MACD`` → ``macd``, ``CDLENGULFING`` →
  ``cdlengulfing``). Group and summary are TA-Lib's group and display name.
* **Inputs** are named as TA-Lib's function API names them: a one-series function reads
  ``real`` (default ``close``, so ``rsi(close, 14)`` and ``rsi(14)`` agree); two-series
  functions (BETA, CORREL, ADD, …) read ``real0``/``real1`` (defaults ``high``/``low``); OHLCV
  functions read the bar fields they use (``high``, ``low``, ``close``, ``volume``…) with those
  defaults. MAVP's ``periods`` has no default: the caller passes it.
* **Parameters** keep TA-Lib's names, kinds and defaults; each ``…period`` parameter also
  answers to its short name (``timeperiod`` → ``period``, ``fastperiod`` → ``fast``). The
  valid range is TA-Lib's own (``timeperiod >= 2`` for most, ``>= 1`` where TA-Lib allows it,
  MA types 0..13), so a bad value is a ``ValueError`` naming the parameter before TA-Lib runs.
* **Outputs** are lower case with a redundant prefix stripped (the function's name, or the
  first output's name): MACD → ``macd``, ``signal``, ``hist``; AROON → ``down``, ``up``;
  HA → ``open``, ``high``, ``low``, ``close``; BBANDS keeps ``upperband``, ``middleband``,
  ``lowerband`` and STOCH keeps ``slowk``, ``slowd``. Every output is float64 and NaN during
  warm-up, candlestick and other integer outputs included.
* **Index functions** (MAXINDEX, MININDEX, MINMAXINDEX) return *bars ago* (0 = this bar)
  instead of TA-Lib's position in the input array, which would mean different things in a
  backtest and in a live stream.
* **lookback** is TA-Lib's lookback for the given parameters; **window** is ``lookback + 1``
  for pure-window functions and ``None`` (all history) for EMA-seeded, Wilder-smoothed,
  cumulative and path-dependent ones (see :mod:`.talib_memory`).
* TA-Lib's ``VWAP`` is not registered: the custom ``vwap`` with ``period 0`` is the same
  cumulative VWAP (a test checks they agree) and also offers a rolling window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np
from sparkstacker import hookimpl
from sparkstacker.indicators import IndicatorSpec
from sparkstacker_plugins.indicators.talib_memory import unbounded_memory
from sparkstacker_plugins.indicators.talib_meta import (
    TalibFunction,
    accepts,
    describe,
    function_names,
    talib_lookback,
)

# Functions a custom indicator supersedes (same name after lower-casing), with the reason.
SUPERSEDED = {"VWAP": "custom vwap(period: 0) is the same cumulative VWAP"}
# Functions whose integer outputs are positions in the input array; reported as bars ago.
INDEX_FUNCTIONS = frozenset({"MAXINDEX", "MININDEX", "MINMAXINDEX"})


@hookimpl
def register_indicators() -> list[IndicatorSpec]:
    return list(talib_specs())


@cache
def talib_specs() -> tuple[IndicatorSpec, ...]:
    """One spec per TA-Lib function (built once per process; specs are immutable)."""
    return tuple(build_spec(describe(name)) for name in function_names() if name not in SUPERSEDED)


def build_spec(meta: TalibFunction) -> IndicatorSpec:
    import talib

    check = ParamCheck(meta)
    call = TalibCall(meta, getattr(talib, meta.name), check)
    ma_defaults = {p.name: int(p.default) for p in meta.params if p.name in meta.ma_type_params}

    def window(params: Mapping[str, Any]) -> int | None:
        if unbounded_memory(meta.name, meta.flags, meta.ma_type_params, ma_defaults, params):
            return None
        return check.lookback(params) + 1

    summary = meta.summary
    if meta.name in INDEX_FUNCTIONS:
        summary += " (bars ago, 0 = this bar)"
    return IndicatorSpec(
        name=meta.name.lower(),
        summary=summary,
        group=meta.group,
        inputs=meta.inputs,
        params=meta.params,
        outputs=meta.outputs,
        compute=call,
        lookback=check.lookback,
        window=window,
        source=f"TA-Lib {meta.name}",
    )


class ParamCheck:
    """TA-Lib's lookback for a parameter set, or a ValueError saying which value it rejects."""

    def __init__(self, meta: TalibFunction) -> None:
        self.meta = meta
        self.defaults = {p.name: p.default for p in meta.params}

    def lookback(self, params: Mapping[str, Any]) -> int:
        # Always the full set: TA-Lib's abstract object remembers values from earlier calls.
        key = tuple(sorted({**self.defaults, **params}.items()))
        lookback = talib_lookback(self.meta.name, key)
        if lookback < 0:
            raise self.rejection(dict(key))
        return lookback

    def rejection(self, params: dict[str, Any]) -> ValueError:
        name = self.meta.name.lower()
        alone = [
            f"{k}={v}"
            for k, v in params.items()
            if v != self.defaults.get(k) and not accepts(self.meta.name, {**self.defaults, k: v})
        ]
        if alone:
            return ValueError(f"{name}: TA-Lib does not accept parameter {', '.join(alone)}")
        given = ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"
        return ValueError(f"{name}: TA-Lib does not accept this combination of parameters: {given}")


class TalibCall:
    """The vectorised computation: call TA-Lib, then make every output float64 with NaN warm-up."""

    def __init__(
        self, meta: TalibFunction, function: Callable[..., Any], check: ParamCheck
    ) -> None:
        self.meta = meta
        self.function = function
        self.check = check

    def __call__(
        self, inputs: Mapping[str, np.ndarray], params: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        lookback = self.check.lookback(params)
        arrays = [np.ascontiguousarray(inputs[i.name], dtype=np.float64) for i in self.meta.inputs]
        length = len(arrays[0])
        if length == 0:
            return {name: np.empty(0) for name in self.meta.outputs}
        try:
            raw = self.function(*arrays, **params)
        except Exception as exc:  # TA-Lib reports a failed call as a bare Exception
            raise ValueError(f"TA-Lib {self.meta.name} failed: {exc}") from exc
        results = raw if isinstance(raw, tuple | list) else (raw,)
        out = {}
        for name, values in zip(self.meta.outputs, results, strict=True):
            array = np.asarray(values)
            if array.dtype.kind != "f":
                array = array.astype(np.float64)
                array[: min(length, _first_valid(arrays) + lookback)] = np.nan
                if self.meta.name in INDEX_FUNCTIONS:
                    array = np.arange(length, dtype=np.float64) - array
            out[name] = array
        return out


def _first_valid(arrays: list[np.ndarray]) -> int:
    """Where TA-Lib starts: the first bar at which no input is NaN (its ``check_begidx``)."""
    ok = np.ones(len(arrays[0]), dtype=bool)
    for array in arrays:
        ok &= ~np.isnan(array)
    valid = np.flatnonzero(ok)
    return int(valid[0]) if len(valid) else len(ok) - 1
