"""Bars for the backtest benchmark: a seeded synthetic 1m series or a real OHLCV file.

The synthetic series is GBM-like with volatility clustering: log-volatility follows a slow
AR(1) process (half-life about a day) plus an intraday cycle, returns are Student-t (fat
tails), each bar opens a small gap away from the previous close (so "fill at next open" and
"fill at close" give different results), prices sit on the venue's price grid, OHLC are
consistent and volume is positive and grows with volatility. Same seed and numpy version →
same bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MINUTE_MS = 60_000
T0_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
# ETH-USD on the simulated venue follows Hyperliquid's perp price grid: at most 5 significant
# figures and 6 - szDecimals(4) = 2 decimals (0.1 apart between 1,000 and 9,999.9). Our engines
# fill on that grid, so the bars are put on it for every engine alike.
SIGNIFICANT_FIGURES = 5
MAX_DECIMALS = 2
FIELDS = ("timestamp", "open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Bars:
    """OHLCV arrays of one market; ``timestamp`` is the bar open time in epoch ms."""

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    label: str

    def __len__(self) -> int:
        return len(self.close)

    def head(self, count: int) -> Bars:
        """The first ``count`` bars (all of them when there are fewer)."""
        cut = slice(0, count)
        return Bars(
            *(getattr(self, name)[cut] for name in FIELDS),
            label=f"{self.label} (first {min(count, len(self)):,} bars)",
        )


def _log_volatility(rng: np.random.Generator, count: int, phi: float, std: float) -> np.ndarray:
    """A stationary AR(1) series with coefficient ``phi`` and standard deviation ``std``.

    Computed as noise convolved (by FFT) with the AR(1) impulse response truncated where it
    falls below 1e-6, so it needs no Python loop over a million bars.
    """
    length = int(np.ceil(np.log(1e-6) / np.log(phi)))
    kernel = phi ** np.arange(length) * np.sqrt(1.0 - phi * phi)
    noise = rng.standard_normal(count + length - 1)
    size = 1 << int(np.ceil(np.log2(len(noise) + length)))
    full = np.fft.irfft(np.fft.rfft(noise, size) * np.fft.rfft(kernel, size), size)
    return std * full[length - 1 : length - 1 + count]


def to_price_grid(prices: np.ndarray) -> np.ndarray:
    """Round to the venue's price grid (5 significant figures, at most 2 decimals)."""
    prices = np.asarray(prices, dtype=np.float64)
    magnitude = np.floor(np.log10(np.where(prices > 0, prices, 1.0))).astype(np.int64)
    decimals = np.minimum(MAX_DECIMALS, SIGNIFICANT_FIGURES - 1 - magnitude)
    snapped = np.empty_like(prices)
    for places in np.unique(decimals):
        where = decimals == places
        snapped[where] = np.round(prices[where], int(places))
    return snapped


def on_price_grid(bars: Bars) -> Bars:
    """The bars with open/high/low/close rounded to the venue's price grid (same for all)."""
    open_, high, low, close = (
        to_price_grid(x) for x in (bars.open, bars.high, bars.low, bars.close)
    )
    high = np.maximum.reduce([high, open_, close])
    low = np.minimum.reduce([low, open_, close])
    return Bars(bars.timestamp, open_, high, low, close, bars.volume, bars.label)


def synthetic_bars(count: int, seed: int = 20240101, start_price: float = 2000.0) -> Bars:
    """``count`` 1-minute bars of an ETH-like market starting at ``start_price``."""
    if count < 2:
        raise ValueError(f"need at least 2 bars, got {count}")
    rng = np.random.default_rng(seed)
    minute_of_day = np.arange(count) % 1440
    intraday = 1.0 + 0.35 * np.cos(2.0 * np.pi * (minute_of_day - 15 * 60) / 1440.0)
    log_vol = _log_volatility(rng, count, phi=1.0 - 1.0 / 1440.0, std=0.45)
    sigma = 0.0007 * intraday * np.exp(log_vol - 0.5 * 0.45**2)  # per-minute volatility

    dof = 4.0
    shocks = rng.standard_t(dof, count) / np.sqrt(dof / (dof - 2.0))
    log_close = np.log(start_price) + np.cumsum(sigma * shocks - 0.5 * sigma**2)
    close = to_price_grid(np.exp(log_close))

    gaps = rng.standard_normal(count) * sigma * 0.15
    previous = np.concatenate(([start_price], close[:-1]))
    open_ = to_price_grid(previous * np.exp(gaps))

    wicks = np.abs(rng.standard_normal((2, count))) * sigma * 0.6
    body_top = np.maximum(open_, close)
    body_bottom = np.minimum(open_, close)
    high = np.maximum(to_price_grid(body_top * np.exp(wicks[0])), body_top)
    low = np.minimum(to_price_grid(body_bottom * np.exp(-wicks[1])), body_bottom)
    low = np.maximum(low, 10.0**-MAX_DECIMALS)

    # ETH-USDT perp 1m on Binance (shared marketdata, 2023): median ~600 ETH, heavy right tail
    volume = np.round(rng.lognormal(np.log(750.0), 0.9, count) * (sigma / 0.0007) ** 1.2, 3)
    volume = np.maximum(volume, 0.001)
    timestamp = T0_MS + MINUTE_MS * np.arange(count, dtype=np.int64)
    return Bars(
        timestamp, open_, high, low, close, volume, f"synthetic 1m, seed {seed}, {count:,} bars"
    )


def _timestamps_ms(values: object) -> np.ndarray:
    """Epoch ms from datetimes, or from numbers in s / ms / µs / ns (told apart by size)."""
    import pandas as pd

    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        as_utc = pd.to_datetime(series, utc=True)
        return np.asarray(as_utc.astype("datetime64[ms, UTC]").astype("int64"), dtype=np.int64)
    numbers = np.asarray(series, dtype=np.float64)
    if numbers.size and not np.isfinite(numbers).all():
        raise ValueError("the time column has missing or non-numeric values")
    scale = 1.0
    biggest = float(np.abs(numbers).max()) if numbers.size else 0.0
    if biggest < 1e11:
        scale = 1e3  # seconds
    elif biggest > 1e17:
        scale = 1e-6  # nanoseconds
    elif biggest > 1e14:
        scale = 1e-3  # microseconds
    return np.asarray(np.round(numbers * scale), dtype=np.int64)


def load_bars(path: Path) -> Bars:
    """OHLCV bars from a CSV, feather, parquet, freqtrade JSON or ``.npz`` file.

    Columns are found by name (case-insensitive): the time column is one of ``timestamp``,
    ``date``, ``datetime``, ``time``, ``open_time`` (or the index of a parquet/feather file).
    """
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path) as stored:
            missing = [name for name in FIELDS if name not in stored]
            if missing:
                raise ValueError(f"{path}: missing arrays {missing}")
            return Bars(*(np.asarray(stored[name]) for name in FIELDS), label=path.name)
    if suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix == ".feather":
        frame = pd.read_feather(path)
    elif suffix == ".parquet":
        frame = pd.read_parquet(path).reset_index()
    elif suffix == ".json":
        frame = pd.DataFrame(
            pd.read_json(path).to_numpy()[:, :6], columns=list(FIELDS)
        )  # freqtrade: [[ts_ms, o, h, l, c, v], ...]
    else:
        kinds = "csv, feather, parquet, json, npz"
        raise ValueError(f"{path}: unsupported file type {suffix!r} ({kinds})")
    columns = {str(name).lower(): name for name in frame.columns}
    names = ("timestamp", "date", "datetime", "time", "open_time")
    time_column = next((columns[n] for n in names if n in columns), None)
    if time_column is None:
        raise ValueError(f"{path}: no time column (timestamp/date/datetime/time/open_time)")
    arrays = {"timestamp": _timestamps_ms(frame[time_column])}
    for name in FIELDS[1:]:
        if name not in columns:
            raise ValueError(f"{path}: no {name!r} column; columns are {list(frame.columns)}")
        arrays[name] = np.asarray(frame[columns[name]], dtype=np.float64)
    bars = Bars(**arrays, label=f"{path.name}, {len(frame):,} bars")
    check_bars(bars, str(path))
    return bars


def check_bars(bars: Bars, where: str) -> None:
    """Raise ``ValueError`` naming the first bar that breaks OHLC consistency or ordering."""
    prices = np.vstack([bars.open, bars.high, bars.low, bars.close])
    problems = {
        "a price is not finite": ~np.isfinite(prices).all(axis=0),
        "a price is not positive": (prices <= 0).any(axis=0),
        "high is below open/close/low": bars.high < np.maximum.reduce(prices[[0, 2, 3]]),
        "low is above open/close": bars.low > np.minimum(bars.open, bars.close),
        "volume is negative": bars.volume < 0,
    }
    for what, bad in problems.items():
        if bad.any():
            index = int(np.argmax(bad))
            raise ValueError(f"{where}: bar {index}: {what}")
    if len(bars) > 1 and (np.diff(bars.timestamp) <= 0).any():
        index = int(np.argmax(np.diff(bars.timestamp) <= 0)) + 1
        raise ValueError(f"{where}: bar {index}: timestamps are not increasing")


def save_npz(bars: Bars, path: Path) -> None:
    """Write the bars for the engine subprocesses (loading them is not timed)."""
    np.savez(path, **{name: getattr(bars, name) for name in FIELDS})
