"""Custom indicators TA-Lib lacks: order-book, volatility, VWAP and funding measures.

Same contract as the TA-Lib indicators (vectorised and incremental forms agree bit for bit):

* ``microprice(bid_price, bid_size, ask_price, ask_size)`` — size-weighted mid.
* ``book_imbalance(bid_size, ask_size, period: 1)`` — (bid − ask) / (bid + ask), averaged over
  ``period`` values (1 = raw). Pass top-of-book sizes or sizes summed over N levels.
* ``realized_vol(close, period: 30, periods_per_year: 365)`` — stdev of ``period`` log returns
  × √periods_per_year (365 for daily bars; 8760 hourly; 525600 for 1m bars, crypto never closes).
* ``vwap(high, low, close, volume, period: 0)`` — VWAP of the typical price over ``period``
  bars; ``period 0`` is cumulative since the first bar.
* ``funding_zscore(funding, period: 24)`` — z-score of the latest funding print among the last
  ``period`` prints.

Book and funding inputs have no bar default: the rule passes the series. Formulas live in
:mod:`.custom_math`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sparkstacker import hookimpl
from sparkstacker.indicators import IndicatorSpec, InputSpec, ParamSpec
from sparkstacker_plugins.indicators import custom_math

_MAX_PERIOD = 100_000
_SOURCE = "sparkstacker_plugins.indicators.custom"


def _microprice(inputs: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "real": custom_math.microprice(
            inputs["bid_price"], inputs["bid_size"], inputs["ask_price"], inputs["ask_size"]
        )
    }


def _book_imbalance(inputs: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "real": custom_math.book_imbalance(
            inputs["bid_size"], inputs["ask_size"], int(params["period"])
        )
    }


def _realized_vol(inputs: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "real": custom_math.realized_vol(
            inputs["close"], int(params["period"]), float(params["periods_per_year"])
        )
    }


def _vwap(inputs: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "real": custom_math.vwap(
            inputs["high"], inputs["low"], inputs["close"], inputs["volume"], int(params["period"])
        )
    }


def _funding_zscore(inputs: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> dict[str, Any]:
    return {"real": custom_math.funding_zscore(inputs["funding"], int(params["period"]))}


def _period(default: int, minimum: int, description: str) -> ParamSpec:
    return ParamSpec("period", "int", default, minimum, _MAX_PERIOD, description)


MICROPRICE = IndicatorSpec(
    name="microprice",
    summary="Size-weighted mid price (leans towards the thinner side of the book)",
    group="Order Book",
    inputs=tuple(InputSpec(n) for n in ("bid_price", "bid_size", "ask_price", "ask_size")),
    params=(),
    outputs=("real",),
    compute=_microprice,
    lookback=lambda params: 0,
    window=lambda params: 1,
    source=_SOURCE,
)

BOOK_IMBALANCE = IndicatorSpec(
    name="book_imbalance",
    summary="Order book imbalance (bid - ask) / (bid + ask), optionally averaged",
    group="Order Book",
    inputs=(InputSpec("bid_size"), InputSpec("ask_size")),
    params=(_period(1, 1, "Values averaged (1 = no smoothing)"),),
    outputs=("real",),
    compute=_book_imbalance,
    lookback=lambda params: int(params["period"]) - 1,
    window=lambda params: int(params["period"]),
    source=_SOURCE,
)

REALIZED_VOL = IndicatorSpec(
    name="realized_vol",
    summary="Realized volatility: stdev of log returns, annualised by sqrt(periods_per_year)",
    group="Volatility Indicators",
    inputs=(InputSpec("close", "close"),),
    params=(
        _period(30, 2, "Number of log returns in the window"),
        ParamSpec(
            "periods_per_year",
            "float",
            365.0,
            1.0,
            None,
            "Bars per year for annualising: 365 daily, 8760 hourly, 525600 for 1m bars",
        ),
    ),
    outputs=("real",),
    compute=_realized_vol,
    lookback=lambda params: int(params["period"]),
    window=lambda params: int(params["period"]) + 1,
    source=_SOURCE,
)

VWAP = IndicatorSpec(
    name="vwap",
    summary="Volume-weighted average typical price over period bars (0 = cumulative)",
    group="Volume Indicators",
    inputs=tuple(InputSpec(n, n) for n in ("high", "low", "close", "volume")),
    params=(_period(0, 0, "Bars in the rolling window; 0 = cumulative since the first bar"),),
    outputs=("real",),
    compute=_vwap,
    lookback=lambda params: max(int(params["period"]) - 1, 0),
    window=lambda params: int(params["period"]) or None,
    source=_SOURCE,
)

FUNDING_ZSCORE = IndicatorSpec(
    name="funding_zscore",
    summary="Z-score of the latest funding rate among the last period funding prints",
    group="Funding",
    inputs=(InputSpec("funding"),),
    params=(_period(24, 2, "Funding prints in the window (NaN bars are not prints)"),),
    outputs=("real",),
    compute=_funding_zscore,
    lookback=lambda params: int(params["period"]) - 1,
    window=lambda params: None,
    source=_SOURCE,
)

CUSTOM_INDICATORS = (MICROPRICE, BOOK_IMBALANCE, REALIZED_VOL, VWAP, FUNDING_ZSCORE)


@hookimpl
def register_indicators() -> list[IndicatorSpec]:
    return list(CUSTOM_INDICATORS)
