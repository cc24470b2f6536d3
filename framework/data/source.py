"""Resolve the bars a backtest or run asks for: stored, resampled, or the labelled sample.

:func:`load_frame` is what ``backtest`` and ``run`` call. In order it returns

1. the stored series at that timeframe;
2. a stored finer series resampled to it (only complete bars; see ``sparkstacker.data.resample``);
3. when nothing at all is stored for the market, the deterministic synthetic sample (written to
   the store once, flagged synthetic), with ``DataOrigin.synthetic`` set and a label such as
   "synthetic sample data (seed 7)" for reports and logs.

Stored data is never silently swapped for sample data: if the market has candles but none that
can make the timeframe, that is an error saying what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sparkstacker.data.frames import (
    datetimes_to_ms,
    describe_ms,
    describe_optional_ms,
    timestamp_ms,
)
from sparkstacker.data.gaps import count_gaps
from sparkstacker.data.resample import check_resample, resample_candles
from sparkstacker.data.sample import (
    DEFAULT_SEED,
    ensure_sample,
    funding_for,
    sample_label,
    simulate,
)
from sparkstacker.data.store import CandleStore, TimeLike, bar_frame
from sparkstacker.errors import DataError
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model.timeframe import Timeframe


@dataclass(frozen=True)
class DataOrigin:
    """Where the bars of a frame came from, for reports, logs and the journal."""

    venue: str
    symbol: str
    timeframe: str
    source_timeframe: str
    synthetic: bool
    label: str
    rows: int
    first: int | None
    last: int | None
    gaps: int
    seed: int | None = None
    partial_dropped: int = 0
    source: str = ""  # the dataset's provenance ("import x.feather", "download hyperliquid", …)

    @property
    def resampled(self) -> bool:
        return self.source_timeframe != self.timeframe

    def describe(self) -> str:
        span = ""
        if self.first is not None and self.last is not None:
            span = f", {describe_ms(self.first)} → {describe_ms(self.last)}"
        text = f"{self.label}: {self.venue} {self.symbol} {self.timeframe}, {self.rows} bars{span}"
        if self.gaps:
            text += f", {self.gaps} gap(s)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "source_timeframe": self.source_timeframe,
            "resampled": self.resampled,
            "synthetic": self.synthetic,
            "label": self.label,
            "rows": self.rows,
            "first": describe_optional_ms(self.first),
            "last": describe_optional_ms(self.last),
            "gaps": self.gaps,
            "seed": self.seed,
            "partial_dropped": self.partial_dropped,
            "source": self.source,
        }


def load_frame(
    store: CandleStore,
    venue: str,
    symbol: str,
    timeframe: str,
    start: TimeLike = None,
    end: TimeLike = None,
    *,
    with_funding: bool = True,
    allow_sample: bool = True,
    seed: int = DEFAULT_SEED,
) -> tuple[BarFrame, DataOrigin]:
    """Bars with ``start <= open < end`` for one market, and where they came from."""
    try:
        step = Timeframe(timeframe).seconds * 1000
    except ValueError as exc:
        raise DataError(str(exc)) from None
    stored = store.timeframes(venue, symbol)
    if not stored:
        if not allow_sample:
            raise DataError(
                f"no candles stored for {symbol} on {venue} in {store.root}; import or download "
                "some (`spark-stacker data import|download`)"
            )
        try:
            ensure_sample(store, venue, (symbol,), seed=seed)
        except OSError:
            return _in_memory_sample(venue, symbol, timeframe, start, end, seed, with_funding)
        stored = store.timeframes(venue, symbol)
    source = _choose_source(store, venue, symbol, timeframe, stored)
    lo = None if start is None else timestamp_ms(start) // step * step
    hi = None if end is None else timestamp_ms(end)
    candles = store.read_candles(venue, symbol, source, lo, hi)
    dropped = 0
    if source != timeframe:
        result = resample_candles(candles, source, timeframe)
        candles, dropped = result.frame, result.partial_dropped
    if start is not None and len(candles):
        candles = candles[datetimes_to_ms(candles["timestamp"]) >= timestamp_ms(start)]
        candles = candles.reset_index(drop=True)
    if candles.empty:
        info = store.dataset(venue, symbol, source)
        have = ""
        if info is not None and info.first is not None and info.last is not None:
            span = f"{describe_ms(info.first)} → {describe_ms(info.last)}"
            have = f"; stored {source} data covers {span}"
        raise DataError(f"no complete {timeframe} bars for {symbol} on {venue} in that range{have}")
    info = store.dataset(venue, symbol, source)
    synthetic = bool(info and info.synthetic)
    funding = store.funding_matching(venue, symbol, synthetic) if with_funding else None
    frame = bar_frame(candles, timeframe, funding)
    sample_seed = _seed_of(info.source if info else "", seed) if synthetic else None
    label = (
        sample_label(sample_seed if sample_seed is not None else seed)
        if synthetic
        else (
            f"stored data ({source}"
            + (f" resampled to {timeframe})" if source != timeframe else ")")
        )
    )
    return frame, DataOrigin(
        venue=venue,
        symbol=symbol,
        timeframe=timeframe,
        source_timeframe=source,
        synthetic=synthetic,
        label=label,
        rows=len(frame),
        first=int(frame.timestamp[0]),
        last=int(frame.timestamp[-1]),
        gaps=count_gaps(frame.timestamp, step),
        seed=sample_seed,
        partial_dropped=dropped,
        source=info.source if info else "",
    )


def _seed_of(source: str, default: int) -> int:
    """The seed recorded in a sample dataset's source label ("synthetic sample data (seed 7)")."""
    marker = "(seed "
    if marker in source:
        digits = source.split(marker, 1)[1].split(")", 1)[0]
        if digits.strip().lstrip("-").isdigit():
            return int(digits)
    return default


def _choose_source(
    store: CandleStore, venue: str, symbol: str, timeframe: str, stored: list[str]
) -> str:
    if timeframe in stored:
        return timeframe
    usable = []
    for candidate in stored:
        try:
            check_resample(candidate, timeframe)
        except DataError:
            continue
        usable.append(candidate)
    if not usable:
        raise DataError(
            f"{symbol} on {venue} is stored at {', '.join(stored)}; none of these can make "
            f"{timeframe} bars (a {timeframe} bar must be a whole number of stored bars)"
        )

    def coverage(tf: str) -> tuple[int, int]:
        info = store.dataset(venue, symbol, tf)
        span = 0 if info is None or info.first is None else (info.last or 0) - info.first
        return span, Timeframe(tf).seconds

    return max(usable, key=coverage)


def _in_memory_sample(
    venue: str,
    symbol: str,
    timeframe: str,
    start: TimeLike,
    end: TimeLike,
    seed: int,
    with_funding: bool,
) -> tuple[BarFrame, DataOrigin]:
    """The sample without a writable store (read-only folder): generated, never saved."""
    series = simulate(symbol, seed=seed)
    candles = series.candles()
    dropped = 0
    if timeframe != "1m":
        result = resample_candles(candles, "1m", timeframe)
        candles, dropped = result.frame, result.partial_dropped
    ms = datetimes_to_ms(candles["timestamp"])
    keep = np.ones(len(candles), dtype=bool)
    if start is not None:
        keep &= ms >= timestamp_ms(start)
    if end is not None:
        keep &= ms < timestamp_ms(end)
    candles = candles[keep].reset_index(drop=True)
    if candles.empty:
        raise DataError(f"the synthetic sample for {symbol} has no {timeframe} bars in that range")
    frame = bar_frame(candles, timeframe, funding_for(series) if with_funding else None)
    step = Timeframe(timeframe).seconds * 1000
    return frame, DataOrigin(
        venue=venue,
        symbol=symbol,
        timeframe=timeframe,
        source_timeframe="1m",
        synthetic=True,
        label=sample_label(seed),
        rows=len(frame),
        first=int(frame.timestamp[0]),
        last=int(frame.timestamp[-1]),
        gaps=count_gaps(frame.timestamp, step),
        seed=seed,
        partial_dropped=dropped,
        source=sample_label(seed),
    )
