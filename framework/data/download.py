"""Download candle and funding history from any venue that implements ``MarketHistory``.

Venues serve history in pages and often only a recent window (Hyperliquid: the latest 5000
candles per market and interval). :func:`download_candles` pages forwards from ``start`` (by
default: just after the newest stored bar, so repeated runs accumulate history without
duplicates), keeps only bars inside the requested range (a venue may return the bar *containing*
``start``, which opens before it), drops a last bar that has not closed yet, and merges each page
into the store as it arrives, so an interrupted download keeps what it got.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sparkstacker.data.frames import (
    datetimes_to_ms,
    describe_ms,
    describe_optional_ms,
    ms_to_datetimes,
    timestamp_ms,
)
from sparkstacker.data.store import CandleStore, TimeLike, WriteReport
from sparkstacker.errors import DataError
from sparkstacker.exchange import MarketHistory
from sparkstacker.model import Candle, FundingRate
from sparkstacker.model.timeframe import Timeframe

DEFAULT_PAGE_LIMIT = 5000
DEFAULT_FUNDING_DAYS = 30


@dataclass
class DownloadReport:
    """What a download fetched and stored."""

    venue: str
    symbol: str
    timeframe: str | None
    start: int
    end: int
    resumed_from: int | None = None
    pages: int = 0
    received: int = 0
    outside_range: int = 0
    unclosed_bars: set[int] = field(default_factory=set)
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    first_served: int | None = None
    last_stored: int | None = None
    writes: list[WriteReport] = field(default_factory=list)

    @property
    def unclosed(self) -> int:
        """Distinct bars seen still forming (not stored)."""
        return len(self.unclosed_bars)

    @property
    def unavailable_before(self) -> int | None:
        """Set when the venue no longer serves the start of the range (its window moved on)."""
        if self.first_served is not None and self.first_served > self.start:
            return self.first_served
        return None

    def summary(self) -> str:
        what = self.timeframe or "funding"
        text = (
            f"{self.venue} {self.symbol} {what}: {self.pages} page(s), {self.received} received, "
            f"{self.added} added, {self.replaced} replaced, {self.unchanged} unchanged"
        )
        if self.resumed_from is not None:
            text += f"; resumed after {describe_ms(self.resumed_from)}"
        if self.unclosed:
            text += f"; {self.unclosed} unclosed bar(s) skipped"
        if self.unavailable_before is not None:
            text += (
                f"; the venue served nothing before {describe_ms(self.unavailable_before)} "
                f"(asked from {describe_ms(self.start)})"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "start": describe_ms(self.start),
            "end": describe_ms(self.end),
            "resumed_from": describe_optional_ms(self.resumed_from),
            "pages": self.pages,
            "received": self.received,
            "outside_range": self.outside_range,
            "unclosed": self.unclosed,
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "unavailable_before": describe_optional_ms(self.unavailable_before),
            "gaps": [g.to_dict() for g in self.writes[-1].gaps] if self.writes else [],
        }

    def _count(self, report: WriteReport) -> None:
        self.writes.append(report)
        self.added += report.rows_added
        self.replaced += report.rows_replaced
        self.unchanged += report.rows_unchanged


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def candles_frame(candles: list[Candle]) -> pd.DataFrame:
    """Venue candles (Decimal prices) → the store's float table."""
    ms = np.array([int(c.timestamp.timestamp() * 1000) for c in candles], dtype="int64")
    return pd.DataFrame(
        {
            "timestamp": ms_to_datetimes(ms),
            "open": np.array([float(c.open) for c in candles]),
            "high": np.array([float(c.high) for c in candles]),
            "low": np.array([float(c.low) for c in candles]),
            "close": np.array([float(c.close) for c in candles]),
            "volume": np.array([float(c.volume) for c in candles]),
        }
    )


def funding_frame(rates: list[FundingRate]) -> pd.DataFrame:
    ms = np.array([int(r.timestamp.timestamp() * 1000) for r in rates], dtype="int64")
    return pd.DataFrame(
        {
            "timestamp": ms_to_datetimes(ms),
            "rate": np.array([float(r.rate) for r in rates]),
            "interval_seconds": np.array(
                [int(r.interval.total_seconds()) for r in rates], dtype="int64"
            ),
        }
    )


def _check_history(history: object) -> MarketHistory:
    if not isinstance(history, MarketHistory):
        name = getattr(history, "name", type(history).__name__)
        raise DataError(
            f"{name} does not serve market history (it lacks candles()/funding_history())"
        )
    return history


async def download_candles(
    history: MarketHistory,
    store: CandleStore,
    venue: str,
    symbol: str,
    timeframe: str,
    start: TimeLike = None,
    end: TimeLike = None,
    *,
    page_limit: int = DEFAULT_PAGE_LIMIT,
    history_limit: int | None = None,
    now: TimeLike = None,
) -> DownloadReport:
    """Fetch closed bars with ``start <= open < end`` and merge them into the store.

    Each request asks for at most ``page_limit`` bars. ``history_limit`` is how many recent bars
    the venue keeps at all (Hyperliquid: 5000); earlier starts are moved up to that window and
    the report says so. ``start=None`` resumes after the newest stored bar, or (nothing stored)
    reaches back as far as the venue serves (``history_limit``, else ``page_limit`` bars).
    ``end=None`` means now; ``now`` (default: the clock) decides which bars have closed.
    """
    source = _check_history(history)
    if page_limit < 1:
        raise DataError("page_limit must be at least 1")
    try:
        step = Timeframe(timeframe).seconds * 1000
    except ValueError as exc:
        raise DataError(str(exc)) from None
    now_ms = timestamp_ms(now) if now is not None else int(datetime.now(UTC).timestamp() * 1000)
    end_ms = min(timestamp_ms(end), now_ms) if end is not None else now_ms
    oldest = None if history_limit is None else (now_ms // step - history_limit + 1) * step
    resumed = None
    if start is None:
        last = store.last_timestamp(venue, symbol, timeframe)
        if last is not None:
            resumed = last
            start_ms = last + step
        else:
            start_ms = (end_ms // step - (history_limit or page_limit)) * step
    else:
        start_ms = timestamp_ms(start)  # not aligned: only bars opening at/after it count
    report = DownloadReport(venue, symbol, timeframe, start_ms, end_ms, resumed_from=resumed)
    cursor = start_ms if oldest is None else max(start_ms, oldest)
    while cursor < end_ms:
        window_end = min(end_ms, cursor + page_limit * step)
        candles = await source.candles(symbol, timeframe, _utc(cursor), _utc(window_end))
        report.pages += 1
        report.received += len(candles)
        page = candles_frame(candles)
        ms = datetimes_to_ms(page["timestamp"]) if candles else np.empty(0, "int64")
        inside = (ms >= cursor) & (ms < window_end)
        closed = ms + step <= now_ms
        report.outside_range += int((~inside).sum())
        report.unclosed_bars.update(ms[inside & ~closed].tolist())
        keep = inside & closed
        if not keep.any():
            cursor = window_end  # nothing (more) in this window
            continue
        kept_ms = ms[keep]
        if report.first_served is None:
            report.first_served = int(kept_ms.min())
        report._count(
            store.write_candles(
                venue, symbol, timeframe, page[keep].reset_index(drop=True),
                source=f"download {venue}",
            )
        )  # fmt: skip
        report.last_stored = int(kept_ms.max())
        cursor = report.last_stored + step
    return report


async def download_funding(
    history: MarketHistory,
    store: CandleStore,
    venue: str,
    symbol: str,
    start: TimeLike = None,
    end: TimeLike = None,
    *,
    now: TimeLike = None,
    max_pages: int = 10_000,
) -> DownloadReport:
    """Fetch funding prints with ``start <= time < end``; ``start=None`` resumes after the
    newest stored print, or reaches back 30 days."""
    source = _check_history(history)
    now_ms = timestamp_ms(now) if now is not None else int(datetime.now(UTC).timestamp() * 1000)
    end_ms = min(timestamp_ms(end), now_ms) if end is not None else now_ms
    resumed = None
    if start is None:
        stored = store.read_funding(venue, symbol)
        if len(stored):
            resumed = int(datetimes_to_ms(stored["timestamp"]).max())
            start_ms = resumed + 1
        else:
            start_ms = end_ms - DEFAULT_FUNDING_DAYS * 86_400_000
    else:
        start_ms = timestamp_ms(start)
    report = DownloadReport(venue, symbol, None, start_ms, end_ms, resumed_from=resumed)
    cursor = start_ms
    for _ in range(max_pages):
        if cursor >= end_ms:
            break
        rates = await source.funding_history(symbol, _utc(cursor), _utc(end_ms))
        report.pages += 1
        report.received += len(rates)
        if not rates:
            break
        page = funding_frame(rates)
        ms = datetimes_to_ms(page["timestamp"])
        keep = (ms >= cursor) & (ms < end_ms)
        report.outside_range += int((~keep).sum())
        if not keep.any():
            break
        if report.first_served is None:
            report.first_served = int(ms[keep].min())
        report._count(
            store.write_funding(
                venue, symbol, page[keep].reset_index(drop=True), source=f"download {venue}"
            )
        )
        newest = int(ms[keep].max())
        report.last_stored = newest
        cursor = newest + 1
    return report
