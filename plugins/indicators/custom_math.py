"""The formulas behind the custom indicators, as plain numpy over whole arrays.

Every function returns float64 with NaN where the value is undefined (warm-up, an empty book
side, zero volume, a flat window). Windows are summed per window (:mod:`.rolling`) so the
value at a bar never depends on bars before its window, except where documented.
"""

from __future__ import annotations

import numpy as np
from sparkstacker_plugins.indicators.rolling import (
    window_flat,
    window_mean,
    window_std,
    window_sum,
)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (or NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = numerator / denominator
    out[denominator == 0] = np.nan
    return out


def microprice(
    bid_price: np.ndarray, bid_size: np.ndarray, ask_price: np.ndarray, ask_size: np.ndarray
) -> np.ndarray:
    """Size-weighted mid: (bid_price × ask_size + ask_price × bid_size) / (bid_size + ask_size).

    It leans towards the side with less resting size (the side more likely to be taken out),
    the same formula as :attr:`sparkstacker.model.OrderBook.microprice`.
    """
    return _divide(bid_price * ask_size + ask_price * bid_size, bid_size + ask_size)


def book_imbalance(bid_size: np.ndarray, ask_size: np.ndarray, period: int) -> np.ndarray:
    """(bid − ask) / (bid + ask) in [−1, 1], averaged over the last ``period`` values."""
    raw = _divide(bid_size - ask_size, bid_size + ask_size)
    return raw if period == 1 else window_mean(raw, period)


def log_returns(close: np.ndarray) -> np.ndarray:
    """ln(close[i] / close[i−1]); NaN at the first bar."""
    out = np.full(len(close), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = np.log(close[1:] / close[:-1])
    return out


def realized_vol(close: np.ndarray, period: int, periods_per_year: float) -> np.ndarray:
    """Annualised realised volatility: σ = stdev(r, ddof=1) × √periods_per_year.

    ``r`` are the last ``period`` log returns ln(close[i]/close[i−1]) (so ``period + 1``
    closes); the sample standard deviation uses ``period − 1`` degrees of freedom.
    """
    _, std = window_std(log_returns(close), period, ddof=1)
    return std * np.sqrt(periods_per_year)


def vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, period: int
) -> np.ndarray:
    """Σ(typical × volume) / Σ volume with typical = (high + low + close) / 3.

    Over the last ``period`` bars, or cumulative since the first bar when ``period`` is 0
    (then the value depends on all history). NaN where the volume sum is 0.
    """
    typical = (high + low + close) / 3
    weighted = typical * volume
    if period == 0:
        return _divide(np.cumsum(weighted), np.cumsum(volume))
    return _divide(window_sum(weighted, period), window_sum(volume, period))


def funding_zscore(funding: np.ndarray, period: int) -> np.ndarray:
    """(latest − mean) / stdev (ddof=1) over the last ``period`` funding prints.

    NaN entries are bars without a print (funding is published hourly or 8-hourly while bars
    may be minutes): the z-score is computed over the prints only and held until the next
    print. A window whose prints are all equal scores 0 (the rate is at its average; exact
    equality matters: Hyperliquid often prints the same base rate for days). The newest value can
    depend on prints arbitrarily far back, so this indicator keeps all history.
    """
    length = len(funding)
    out = np.full(length, np.nan)
    printed = np.flatnonzero(~np.isnan(funding))
    if len(printed) < period:
        return out
    prints = funding[printed]
    mean, std = window_std(prints, period, ddof=1)
    zscore = _divide(prints - mean, std)
    zscore[window_flat(prints, period)] = 0.0
    latest = np.searchsorted(printed, np.arange(length), side="right") - 1
    seen = latest >= 0
    out[seen] = zscore[latest[seen]]
    return out
