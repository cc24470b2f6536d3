"""How far back a TA-Lib function's newest value reaches: a fixed window, or all history.

A *pure-window* function's newest value depends only on the last ``lookback + 1`` bars, so an
incremental stream may drop older bars. A function with *unbounded memory* (EMA-seeded,
Wilder-smoothed, cumulative or path-dependent) depends on every bar since the start and its
stream keeps all history. TA-Lib flags most of the latter; :data:`RECURSIVE` lists the ones it
does not flag. ``tests/plugins/indicators/test_talib_parity.py`` is the judge: it checks
incremental == vectorised for every function on real candles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNBOUNDED_FLAGS = frozenset({"Function has an unstable period", "Output is path-dependent"})

# Not flagged by TA-Lib, yet seeded by an EMA / Wilder average or built on a flagged function.
RECURSIVE = frozenset(
    {
        "ADXR",  # average of ADX (Wilder-smoothed)
        "CVI",  # Chaikin volatility: EMA of the high-low range
        "DEMA",  # EMA of EMA
        "EFI",  # Elder force index: EMA of price change × volume
        "ERI",  # Elder ray: bull/bear power against an EMA
        "KC",  # Keltner channel: EMA middle band, ATR width
        "MACD",  # EMA 12/26, EMA 9 signal
        "MACDFIX",  # MACD with fixed 12/26 EMAs
        "MASSI",  # mass index: EMA of the range and EMA of that
        "SMI",  # stochastic momentum index: double EMA smoothing
        "STOCHRSI",  # stochastic of RSI (Wilder)
        "TEMA",  # triple EMA
        "TRIX",  # rate of change of a triple EMA
        "TSI",  # true strength index: double EMA smoothing
        "ZLEMA",  # zero-lag EMA
    }
)

# Moving-average types (TA-Lib's MA_Type) whose value depends on a fixed window only.
# 11 ("the function's default") is resolved to the parameter's own default before the check.
FINITE_MA_TYPES = frozenset({0, 2, 5, 9, 10})  # SMA, WMA, TRIMA, HMA, identity
FUNCTION_DEFAULT_MA = 11


def unbounded_memory(
    name: str,
    flags: frozenset[str],
    ma_type_params: tuple[str, ...],
    ma_defaults: Mapping[str, int],
    params: Mapping[str, Any],
) -> bool:
    """Whether the newest value of ``name`` with ``params`` depends on all history."""
    if flags & UNBOUNDED_FLAGS or name in RECURSIVE:
        return True
    for param in ma_type_params:
        value = int(params[param])
        if value == FUNCTION_DEFAULT_MA:
            value = ma_defaults[param]
        if value not in FINITE_MA_TYPES:
            return True
    return False
