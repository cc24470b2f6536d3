"""Numbers from the equity curve: per-bar returns, Sharpe / Sortino / CAGR, drawdowns, exposure.

Pure numpy over float64 arrays; timestamps are epoch milliseconds. See
:mod:`sparkstacker.backtest.metrics` for the conventions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sparkstacker.errors import DataError
from sparkstacker.model import from_millis, timeframe_seconds

YEAR_MS = 365 * 86_400_000  # crypto trades every day: a year is 365 × 24 h
SHORT_RUN_MS = 90 * 86_400_000  # below this, say that CAGR extrapolates a short run
FLAT_STD = 1e-12  # per-bar return std below this is float noise on a flat curve


@dataclass(frozen=True, slots=True)
class Drawdown:
    """The deepest peak-to-trough fall of the equity curve (by fraction of the peak)."""

    fraction: float  # (peak - trough) / peak; above 1 only when equity went negative
    value: float  # peak - trough, in account currency
    peak_time: datetime
    trough_time: datetime
    recovery_time: datetime | None  # first time back at the peak; None: still under water
    duration: timedelta  # peak → recovery, or peak → end of the run while still open

    @property
    def is_open(self) -> bool:
        return self.recovery_time is None


@dataclass(frozen=True, slots=True)
class ReturnStats:
    bars_per_year: float | None
    cagr: float | None
    volatility: float | None  # annualised std of per-bar returns
    sharpe: float | None
    sortino: float | None
    wiped_out: bool
    notes: tuple[str, ...]


def validate_curve(
    timestamp: np.ndarray, equity: np.ndarray, *, run_id: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Timeline as int64 ms and equity as float64, or a :class:`DataError` saying what is off."""
    where = f"backtest result {run_id!r}" if run_id else "backtest result"
    ts = np.asarray(timestamp)
    eq = np.asarray(equity, dtype=np.float64)
    if ts.ndim != 1 or eq.ndim != 1:
        raise DataError(f"{where}: timestamp and equity must be 1-D arrays")
    if len(ts) != len(eq):
        raise DataError(f"{where}: equity has {len(eq)} points but the timeline has {len(ts)} bars")
    ts = ts.astype(np.int64)
    if len(ts) > 1 and not np.all(np.diff(ts) > 0):
        bad = int(np.argmax(np.diff(ts) <= 0)) + 1
        raise DataError(f"{where}: timeline is not strictly increasing at bar {bad}")
    if not np.all(np.isfinite(eq)):
        bad = int(np.argmax(~np.isfinite(eq)))
        raise DataError(f"{where}: equity is not finite at bar {bad} ({eq[bad]})")
    return ts, eq


def bar_milliseconds(ts: np.ndarray, timeframes: Sequence[str] = ()) -> int | None:
    """Bar length: median spacing of the timeline, else the shortest market timeframe."""
    if len(ts) > 1:
        return int(np.median(np.diff(ts)))
    known = [timeframe_seconds(tf) for tf in timeframes if tf]
    return min(known) * 1000 if known else None


def return_stats(curve: np.ndarray, curve_ts: np.ndarray, bar_ms: int | None) -> ReturnStats:
    """Annualised statistics of ``curve`` (initial equity first, then every bar close)."""
    notes: list[str] = []
    bars_per_year = YEAR_MS / bar_ms if bar_ms else None
    if len(curve) == 0 or curve[0] <= 0:
        if len(curve):
            notes.append("initial equity is not positive: returns are undefined")
        return ReturnStats(bars_per_year, None, None, None, None, False, tuple(notes))
    down = np.flatnonzero(curve[1:] <= 0)
    wiped = bool(len(down))
    usable = curve[: int(down[0]) + 2] if wiped else curve
    if wiped:
        notes.append("equity reached zero or below: returns stop at that bar")
    with np.errstate(over="ignore"):  # equity near zero: inf returns, caught below
        returns = usable[1:] / usable[:-1] - 1
    volatility = sharpe = sortino = None
    if bars_per_year is not None and len(returns) >= 2:
        scale = math.sqrt(bars_per_year)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = float(np.mean(returns))
            std = float(np.std(returns, ddof=1))
            downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
        if std > FLAT_STD:
            volatility = _finite(std * scale, "volatility", notes)
            sharpe = _finite(mean / std * scale, "Sharpe", notes)
        if downside > FLAT_STD:
            sortino = _finite(mean / downside * scale, "Sortino", notes)
    cagr = _cagr(curve, curve_ts, notes)
    return ReturnStats(bars_per_year, cagr, volatility, sharpe, sortino, wiped, tuple(notes))


def _finite(value: float, name: str, notes: list[str]) -> float | None:
    """``value``, or ``None`` with a note when per-bar returns are too extreme to compute it."""
    if math.isfinite(value):
        return value
    notes.append(f"{name} is undefined: per-bar returns overflow (equity near zero)")
    return None


def _cagr(curve: np.ndarray, curve_ts: np.ndarray, notes: list[str]) -> float | None:
    span = int(curve_ts[-1] - curve_ts[0]) if len(curve_ts) > 1 else 0
    if span <= 0:
        return None
    if span < SHORT_RUN_MS:
        notes.append(
            f"the run covers {span / 86_400_000:.1f} days: CAGR and Calmar extrapolate it to a year"
        )
    ratio = float(curve[-1]) / float(curve[0])
    if ratio <= 0:
        return -1.0
    try:
        return math.exp(math.log(ratio) * YEAR_MS / span) - 1
    except OverflowError:
        notes.append("CAGR overflows: the run is too short to annualise its return")
        return None


def max_drawdown(
    curve: np.ndarray, curve_ts: np.ndarray
) -> tuple[Drawdown | None, timedelta | None]:
    """Deepest drawdown by fraction, and the longest time spent under a previous peak."""
    if len(curve) == 0 or curve[0] <= 0:
        return None, None
    peak = np.maximum.accumulate(curve)
    fraction = (peak - curve) / peak
    trough = int(np.argmax(fraction))
    if fraction[trough] <= 0:  # never below a previous peak
        start_time = from_millis(int(curve_ts[0]))
        flat = Drawdown(0.0, 0.0, start_time, start_time, start_time, timedelta(0))
        return flat, timedelta(0)
    peak_value = float(peak[trough])
    start = int(np.flatnonzero(curve[: trough + 1] >= peak_value)[-1])
    after = np.flatnonzero(curve[trough + 1 :] >= peak_value)
    recovery = trough + 1 + int(after[0]) if len(after) else None
    end = recovery if recovery is not None else len(curve) - 1
    deepest = Drawdown(
        fraction=float(fraction[trough]),
        value=peak_value - float(curve[trough]),
        peak_time=from_millis(int(curve_ts[start])),
        trough_time=from_millis(int(curve_ts[trough])),
        recovery_time=None if recovery is None else from_millis(int(curve_ts[recovery])),
        duration=timedelta(milliseconds=int(curve_ts[end] - curve_ts[start])),
    )
    return deepest, _longest_under_water(curve < peak, curve_ts)


def _longest_under_water(under: np.ndarray, ts: np.ndarray) -> timedelta:
    if not under.any():
        return timedelta(0)
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)  # first bar under water (the peak is one before)
    stops = np.flatnonzero(edges == -1)  # first bar back at the peak (or one past the end)
    stops = np.minimum(stops, len(ts) - 1)
    return timedelta(milliseconds=int(np.max(ts[stops] - ts[starts - 1])))


def exposure_fraction(ts: np.ndarray, bar_ms: int, entries: np.ndarray, exits: np.ndarray) -> float:
    """Fraction of bars (close times ``ts``) during which any position was open.

    A position held over ``[entry, exit)`` exposes bar ``i`` (``(ts[i] - bar_ms, ts[i]]``) when
    ``entry < ts[i]`` and ``exit > ts[i] - bar_ms``.
    """
    lo = np.searchsorted(ts, entries, side="right")
    hi = np.searchsorted(ts, exits + bar_ms, side="left")
    keep = hi > lo
    delta = np.zeros(len(ts) + 1, dtype=np.int64)
    np.add.at(delta, lo[keep], 1)
    np.add.at(delta, hi[keep], -1)
    return float(np.mean(np.cumsum(delta[:-1]) > 0))


def monthly_returns(curve: np.ndarray, curve_ts: np.ndarray) -> tuple[tuple[int, int, float], ...]:
    """``(year, month, return)`` per calendar month (UTC) that has a bar close in it.

    A bar closing exactly at midnight on the 1st belongs to the month before. Each month's
    return runs from the previous month's last close (or the initial equity) to its own.
    """
    if len(curve) < 2 or curve[0] <= 0:
        return ()
    closes = (curve_ts[1:] - 1).astype("datetime64[ms]").astype("datetime64[M]")
    last = np.flatnonzero(np.append(closes[1:] != closes[:-1], True))
    ends = curve[1:][last]
    starts = np.concatenate([[curve[0]], ends[:-1]])
    out = []
    for month, start, end in zip(closes[last], starts, ends, strict=True):
        change = float(end) / float(start) - 1 if start > 0 else math.inf
        if not math.isfinite(change):  # wiped out: later months have no defined return
            break
        number = int(month.astype(np.int64))
        out.append((1970 + number // 12, number % 12 + 1, change))
    return tuple(out)
