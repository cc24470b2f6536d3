"""Every DAG operation twice: over whole numpy arrays and over one value at a time.

The two forms give bit-identical results (IEEE arithmetic on float64 either way, NaN-aware
comparisons and three-valued logic spelled out the same), which is what lets the vectorised
backtest and the incremental live evaluation agree bar for bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

NAN = float("nan")
Array = np.ndarray


# ---- one value at a time ---------------------------------------------------------------------


def _div(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a) or math.isnan(b):
            return NAN
        same_sign = (a > 0) == (math.copysign(1.0, b) > 0)
        return math.inf if same_sign else -math.inf
    return a / b


def _min(a: float, b: float) -> float:
    return NAN if math.isnan(a) or math.isnan(b) else (a if a <= b else b)


def _max(a: float, b: float) -> float:
    return NAN if math.isnan(a) or math.isnan(b) else (a if a >= b else b)


def _compare(test: Callable[[float, float], bool]) -> Callable[[float, float], float]:
    def compare(a: float, b: float) -> float:
        if math.isnan(a) or math.isnan(b):
            return NAN
        return 1.0 if test(a, b) else 0.0

    return compare


def _and(a: float, b: float) -> float:
    if a == 0.0 or b == 0.0:
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return NAN
    return 1.0


def _or(a: float, b: float) -> float:
    if a == 1.0 or b == 1.0:
        return 1.0
    if math.isnan(a) or math.isnan(b):
        return NAN
    return 0.0


SCALAR_BINARY: dict[str, Callable[[float, float], float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _div,
    "min": _min,
    "max": _max,
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b),
    "eq": _compare(lambda a, b: a == b),
    "ne": _compare(lambda a, b: a != b),
    "and": _and,
    "or": _or,
}

SCALAR_UNARY: dict[str, Callable[[float], float]] = {
    "neg": lambda a: -a,
    "abs": abs,
    "not": lambda a: NAN if math.isnan(a) else 1.0 - a,
}


# ---- whole arrays ----------------------------------------------------------------------------


def _vcompare(test: Callable[[Array, Array], Array]) -> Callable[[Array, Array], Array]:
    def compare(a: Array, b: Array) -> Array:
        unknown = np.isnan(a) | np.isnan(b)
        with np.errstate(invalid="ignore"):
            result = test(a, b).astype(np.float64)
        return np.where(unknown, NAN, result)

    return compare


def _vand(a: Array, b: Array) -> Array:
    unknown = np.isnan(a) | np.isnan(b)
    false = (a == 0.0) | (b == 0.0)
    return np.where(false, 0.0, np.where(unknown, NAN, 1.0))


def _vor(a: Array, b: Array) -> Array:
    unknown = np.isnan(a) | np.isnan(b)
    true = (a == 1.0) | (b == 1.0)
    return np.where(true, 1.0, np.where(unknown, NAN, 0.0))


def _vdiv(a: Array, b: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(a, b)


def _arith(fn: Callable[[Array, Array], Array]) -> Callable[[Array, Array], Array]:
    def apply(a: Array, b: Array) -> Array:
        with np.errstate(all="ignore"):
            return fn(a, b)

    return apply


VECTOR_BINARY: dict[str, Callable[[Array, Array], Array]] = {
    "add": _arith(np.add),
    "sub": _arith(np.subtract),
    "mul": _arith(np.multiply),
    "div": _vdiv,
    "min": _arith(np.minimum),
    "max": _arith(np.maximum),
    "lt": _vcompare(np.less),
    "le": _vcompare(np.less_equal),
    "gt": _vcompare(np.greater),
    "ge": _vcompare(np.greater_equal),
    "eq": _vcompare(np.equal),
    "ne": _vcompare(np.not_equal),
    "and": _vand,
    "or": _vor,
}

VECTOR_UNARY: dict[str, Callable[[Array], Array]] = {
    "neg": np.negative,
    "abs": np.abs,
    "not": lambda a: np.where(np.isnan(a), NAN, 1.0 - a),
}


def shift(values: Array, bars: int) -> Array:
    out = np.full(len(values), NAN)
    if bars < len(values):
        out[bars:] = values[: len(values) - bars]
    return out


def window(op: str, values: Array, bars: int) -> Array:
    """Rolling max/min over the last ``bars`` values; NaN before that, NaN if any is NaN."""
    out = np.full(len(values), NAN)
    if len(values) >= bars:
        view = sliding_window_view(values, bars)
        out[bars - 1 :] = view.max(axis=1) if op == "highest" else view.min(axis=1)
    return out


def window_scalar(op: str, values: list[float], bars: int) -> float:
    if len(values) < bars:
        return NAN
    array = np.asarray(values[-bars:], dtype=np.float64)
    return float(array.max() if op == "highest" else array.min())


def bars_since(condition: Array) -> Array:
    """Bars since the condition was last true (0 on a true bar); NaN before the first true."""
    index = np.arange(len(condition))
    last = np.maximum.accumulate(np.where(condition == 1.0, index, -1)) if len(index) else index
    return np.where(last >= 0, (index - last).astype(np.float64), NAN)


def truth(values: Array) -> Array:
    """Three-valued booleans → plain booleans: only a known true counts."""
    return np.asarray(values == 1.0)
