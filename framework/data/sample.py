"""Deterministic synthetic market data, so the example rules run offline on a fresh machine.

Nothing here is real market data, and everything written by :func:`ensure_sample` is flagged
``synthetic`` in the store (``data list``, backtest reports and run logs show it).

The 1-minute series is a log-price random walk with the features strategies react to:

* **volatility regimes** — a two-state Markov chain (calm / stormy, mean stays of 36 h and 8 h)
  scales volatility by 0.75 or 2.0 (variance ratio ≈ 7), with an hourly log-normal AR(1)
  factor on top for clustering inside a regime;
* **intraday and weekly seasonality** — volatility and volume peak around 15:00 UTC and are
  lower at weekends;
* **fat tails and jumps** — Student-t (4 d.o.f.) innovations, and about 1.5 jumps a day of
  ~0.8 % that also print a wick and a volume burst;
* **trends** — a slowly mean-reverting (≈ 3 days) drift, so trend-following rules have
  something to find;
* **consistent OHLC** — each bar opens at the previous close, highs and lows extend the body by
  a volatility-scaled wick, prices sit on the symbol's tick.

Hourly funding mean-reverts (AR(1), φ = 0.9) around Hyperliquid's base rate of 0.00125 %/h
and leans with the trailing 8-hour return: rallies make longs pay more, sell-offs flip it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sparkstacker.data.frames import ms_to_datetimes, timestamp_ms

if TYPE_CHECKING:
    from sparkstacker.data.store import CandleStore, WriteReport

DEFAULT_SEED = 7
SAMPLE_START = datetime(2024, 1, 1, tzinfo=UTC)
SAMPLE_DAYS = 60
SAMPLE_BARS = SAMPLE_DAYS * 1440
SAMPLE_SYMBOLS = ("ETH-USD", "BTC-USD", "SOL-USD")
MINUTES_PER_YEAR = 525_600

CALM, STORMY = 0, 1
REGIME_VOL = (0.75, 2.0)
REGIME_MEAN_MINUTES = (36 * 60, 8 * 60)
JUMPS_PER_DAY = 1.5
JUMP_SIZE = 0.008
FUNDING_BASE = 0.0000125
FUNDING_PHI = 0.9
FUNDING_TREND_BETA = 0.0015  # rate per unit of trailing 8h log return, at equilibrium
FUNDING_NOISE = 0.000004
FUNDING_CAP = 0.001


@dataclass(frozen=True)
class SymbolProfile:
    price: float
    tick: float
    annual_vol: float
    volume_per_minute: float
    volume_decimals: int


PROFILES = {
    "ETH-USD": SymbolProfile(2500.0, 0.01, 0.65, 120.0, 4),
    "BTC-USD": SymbolProfile(60000.0, 1.0, 0.50, 6.0, 5),
    "SOL-USD": SymbolProfile(150.0, 0.001, 0.85, 2500.0, 2),
}
DEFAULT_PROFILE = SymbolProfile(100.0, 0.001, 0.80, 1000.0, 2)


@dataclass(frozen=True)
class SampleSeries:
    """One simulated 1m series and the hidden state that produced it (for tests and docs)."""

    symbol: str
    seed: int
    timestamp: np.ndarray  # epoch ms, bar open
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    regime: np.ndarray  # 0 calm, 1 stormy
    jump: np.ndarray  # bool: a jump happened in this bar

    def candles(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "timestamp": ms_to_datetimes(self.timestamp),
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            }
        )


def sample_label(seed: int) -> str:
    return f"synthetic sample data (seed {seed})"


def profile_for(symbol: str) -> SymbolProfile:
    return PROFILES.get(symbol.upper(), DEFAULT_PROFILE)


def _rng(symbol: str, seed: int, stream: int) -> np.random.Generator:
    """Independent, reproducible streams per symbol (crc32, not ``hash``: stable across runs)."""
    return np.random.default_rng([seed, zlib.crc32(symbol.upper().encode()), stream])


def _regimes(rng: np.random.Generator, bars: int) -> np.ndarray:
    """A two-state Markov chain built from geometric stay lengths (vectorised)."""
    mean_stay = max(REGIME_MEAN_MINUTES)
    draws = max(8, 4 * bars // mean_stay + 8)
    calm = rng.geometric(1.0 / REGIME_MEAN_MINUTES[CALM], size=draws)
    stormy = rng.geometric(1.0 / REGIME_MEAN_MINUTES[STORMY], size=draws)
    first = int(rng.random() < REGIME_MEAN_MINUTES[STORMY] / sum(REGIME_MEAN_MINUTES))
    stays = np.empty(2 * draws, dtype="int64")
    states = np.empty(2 * draws, dtype="int8")
    order = (STORMY, CALM) if first else (CALM, STORMY)
    for offset, state in enumerate(order):
        stays[offset::2] = stormy if state == STORMY else calm
        states[offset::2] = state
    while stays.sum() < bars:  # pragma: no cover - astronomically unlikely with 4x headroom
        stays = np.concatenate([stays, stays])
        states = np.concatenate([states, states])
    return np.repeat(states, stays)[:bars]


def _ar1(rng: np.random.Generator, size: int, phi: float, sd: float) -> np.ndarray:
    """Stationary AR(1) with marginal standard deviation ``sd`` (short loop: hourly series)."""
    shocks = rng.standard_normal(size) * sd * np.sqrt(1 - phi * phi)
    out = np.empty(size)
    value = rng.standard_normal() * sd
    for i in range(size):
        value = phi * value + shocks[i]
        out[i] = value
    return out


def _seasonality(ms: np.ndarray) -> np.ndarray:
    hours = (ms // 60_000 % 1440) / 60.0
    weekday = (ms // 86_400_000 + 3) % 7  # 0 = Monday
    daily = 1.0 + 0.35 * np.cos(2 * np.pi * (hours - 15.0) / 24.0)
    return np.asarray(daily * np.where(weekday >= 5, 0.75, 1.0))


def simulate(
    symbol: str = "ETH-USD",
    bars: int = SAMPLE_BARS,
    start: datetime | str | int = SAMPLE_START,
    seed: int = DEFAULT_SEED,
) -> SampleSeries:
    """Simulate ``bars`` one-minute bars from ``start`` (aligned down to the minute)."""
    if bars < 1:
        raise ValueError("bars must be at least 1")
    profile = profile_for(symbol)
    rng = _rng(symbol, seed, 0)
    start_ms = timestamp_ms(start) // 60_000 * 60_000
    ms = start_ms + 60_000 * np.arange(bars, dtype="int64")
    hours = (bars + 59) // 60

    regime = _regimes(rng, bars)
    regime_vol = np.asarray(REGIME_VOL)[regime]
    cluster = np.repeat(np.exp(_ar1(rng, hours, 0.97, 0.25)), 60)[:bars]
    season = _seasonality(ms)
    stormy_share = REGIME_MEAN_MINUTES[STORMY] / sum(REGIME_MEAN_MINUTES)
    level = np.sqrt(
        REGIME_VOL[CALM] ** 2 * (1 - stormy_share) + REGIME_VOL[STORMY] ** 2 * stormy_share
    )
    sigma = profile.annual_vol / np.sqrt(MINUTES_PER_YEAR) / level * regime_vol * cluster * season
    shocks = rng.standard_t(4, size=bars) / np.sqrt(2.0)
    drift = np.repeat(_ar1(rng, hours, 1 - 1 / 72, 8e-6), 60)[:bars]
    jump = rng.random(bars) < JUMPS_PER_DAY / 1440
    jumps = np.where(jump, rng.normal(0.0, JUMP_SIZE, bars), 0.0)
    returns = drift + sigma * shocks + jumps

    tick = profile.tick
    close_raw = profile.price * np.exp(np.cumsum(returns))
    close = np.maximum(np.round(close_raw / tick) * tick, tick)
    open_ = np.concatenate([[np.round(profile.price / tick) * tick], close[:-1]])
    wick_up = sigma * np.abs(rng.standard_normal(bars)) * 0.8 + np.abs(jumps) * 0.3
    wick_down = sigma * np.abs(rng.standard_normal(bars)) * 0.8 + np.abs(jumps) * 0.3
    high = np.round(np.maximum(open_, close) * np.exp(wick_up) / tick) * tick
    low = np.round(np.minimum(open_, close) * np.exp(-wick_down) / tick) * tick
    high = np.maximum(high, np.maximum(open_, close))
    low = np.maximum(np.minimum(low, np.minimum(open_, close)), tick)

    surprise = np.abs(returns) / np.maximum(sigma, 1e-12)
    volume = (
        profile.volume_per_minute
        * season
        * np.where(regime == STORMY, 1.8, 1.0)
        * (0.6 + 0.4 * np.minimum(surprise, 6.0))
        * np.where(jump, 4.0, 1.0)
        * rng.lognormal(-0.125, 0.5, bars)
    )
    volume = np.round(volume, profile.volume_decimals)
    return SampleSeries(
        symbol=symbol,
        seed=seed,
        timestamp=ms,
        open=_clean(open_, tick),
        high=_clean(high, tick),
        low=_clean(low, tick),
        close=_clean(close, tick),
        volume=volume,
        regime=regime,
        jump=jump,
    )


def _clean(values: np.ndarray, tick: float) -> np.ndarray:
    """Snap to the tick's decimal places (removes binary artefacts such as 2500.0100000002)."""
    decimals = max(0, round(float(-np.log10(tick))))
    return np.asarray(np.round(values, decimals))


def funding_for(series: SampleSeries) -> pd.DataFrame:
    """Hourly funding prints (at each whole hour after the first bar) consistent with ``series``.

    ``rate_k = base + x_k``, ``x_k = φ x_{k-1} + (1 - φ) β r8_k + ε_k`` where ``r8_k`` is the
    log return over the 8 hours before the print.
    """
    rng = _rng(series.symbol, series.seed, 1)
    first_hour = (int(series.timestamp[0]) // 3_600_000 + 1) * 3_600_000
    last_close_time = int(series.timestamp[-1]) + 60_000
    times = np.arange(first_hour, last_close_time + 1, 3_600_000, dtype="int64")
    if times.size == 0:
        return pd.DataFrame(
            {"timestamp": ms_to_datetimes(times), "rate": [], "interval_seconds": []}
        )
    # close of the bar ending at each print time, and 8 hours earlier (clamped to the start)
    index = np.clip((times - int(series.timestamp[0])) // 60_000 - 1, 0, len(series.close) - 1)
    earlier = np.clip(index - 8 * 60, 0, None)
    trend = np.log(series.close[index] / series.close[earlier])
    noise = rng.standard_normal(times.size) * FUNDING_NOISE
    premium = np.empty(times.size)
    value = 0.0
    for k in range(times.size):
        value = FUNDING_PHI * value + (1 - FUNDING_PHI) * FUNDING_TREND_BETA * trend[k]
        value += noise[k]
        premium[k] = value
    rate = np.clip(np.round(FUNDING_BASE + premium, 8), -FUNDING_CAP, FUNDING_CAP)
    return pd.DataFrame(
        {
            "timestamp": ms_to_datetimes(times),
            "rate": rate,
            "interval_seconds": np.full(times.size, 3600, dtype="int64"),
        }
    )


def sample_candles(
    symbol: str = "ETH-USD",
    bars: int = SAMPLE_BARS,
    start: datetime | str | int = SAMPLE_START,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Synthetic 1m candles in the store's canonical columns."""
    return simulate(symbol, bars, start, seed).candles()


def sample_funding(
    symbol: str = "ETH-USD",
    bars: int = SAMPLE_BARS,
    start: datetime | str | int = SAMPLE_START,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Synthetic hourly funding matching :func:`sample_candles` with the same arguments."""
    return funding_for(simulate(symbol, bars, start, seed))


def ensure_sample(
    store: CandleStore,
    venue: str,
    symbols: tuple[str, ...] | list[str] = SAMPLE_SYMBOLS,
    *,
    bars: int = SAMPLE_BARS,
    start: datetime | str | int = SAMPLE_START,
    seed: int = DEFAULT_SEED,
) -> list[WriteReport]:
    """Write sample 1m candles and funding (flagged synthetic) for symbols that have no 1m data
    yet; a symbol with any stored 1m data (real or sample) is left alone."""
    reports = []
    source = sample_label(seed)
    for symbol in symbols:
        if store.has_candles(venue, symbol, "1m"):
            continue
        series = simulate(symbol, bars, start, seed)
        reports.append(
            store.write_candles(
                venue, symbol, "1m", series.candles(), synthetic=True, source=source
            )
        )
        if not store.has_funding(venue, symbol):
            reports.append(
                store.write_funding(
                    venue, symbol, funding_for(series), synthetic=True, source=source
                )
            )
    return reports
