"""Paging through candle, funding and fill history.

* ``candleSnapshot`` returns at most 5000 candles and only the most recent 5000 per coin and
  interval exist; pages continue from the last candle's open time (the docs' recipe).
* ``fundingHistory`` and ``userFillsByTime`` cap each answer (500 / 2000 rows). The row order of
  capped answers is not documented, so a capped window is split in two and each half fetched
  again — correct whatever the order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from sparkstacker.errors import DataError
from sparkstacker.model import Candle, FundingRate, to_millis

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CANDLES = 5000
FUNDING_PAGE_CAP = 500
FILLS_PAGE_CAP = 2000
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M")


def interval_ms(timeframe: str) -> int:
    """Length of a Hyperliquid interval in ms (``1M`` is not fixed-length and is refused)."""
    if timeframe not in INTERVALS or timeframe == "1M":
        raise DataError(
            f"Hyperliquid has no fixed-length candle interval {timeframe!r}; use one of "
            f"{', '.join(i for i in INTERVALS if i != '1M')}"
        )
    return int(timeframe[:-1]) * _UNIT_MS[timeframe[-1]]


async def page_candles(
    fetch: Callable[[int, int], Awaitable[list[Candle]]],
    *,
    timeframe: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[Candle]:
    """Candles opening in ``[start, end)``, complete ones only (the forming bar is left out)."""
    step = interval_ms(timeframe)
    start_ms, end_ms, now_ms = to_millis(start), to_millis(end), to_millis(now)
    if end_ms <= start_ms:
        return []
    found: dict[int, Candle] = {}
    cursor = start_ms
    while cursor < end_ms:
        page = await fetch(cursor, end_ms)
        if not page:
            break
        for candle in page:
            opened = to_millis(candle.timestamp)
            if start_ms <= opened < end_ms and opened + step <= now_ms:
                found[opened] = candle
        last = max(to_millis(c.timestamp) for c in page)
        if last + step <= cursor:
            break  # no progress: the venue has nothing newer
        cursor = last + step
    candles = [found[t] for t in sorted(found)]
    if candles and to_millis(candles[0].timestamp) > start_ms + step:
        log.warning(
            "Hyperliquid served %s candles only from %s although %s was asked for: only the "
            "most recent %d candles per coin and interval exist",
            timeframe,
            candles[0].timestamp.isoformat(),
            start.isoformat(),
            MAX_CANDLES,
        )
    return candles


async def split_pages(
    fetch: Callable[[int, int | None], Awaitable[list[T]]],
    *,
    start_ms: int,
    end_ms: int | None,
    now_ms: int,
    cap: int,
    key: Callable[[T], object],
    time_of: Callable[[T], int],
) -> list[T]:
    """Fetch ``[start, end]``; a window that comes back at the cap is halved and refetched."""
    seen: dict[object, T] = {}

    async def window(lo: int, hi: int | None) -> None:
        rows = await fetch(lo, hi)
        if len(rows) >= cap:
            top = hi if hi is not None else now_ms
            if top - lo > 1:
                middle = (lo + top) // 2
                await window(lo, middle)
                await window(middle + 1, top)
                return
        for row in rows:
            seen.setdefault(key(row), row)

    await window(start_ms, end_ms)
    return sorted(seen.values(), key=time_of)


async def page_funding(
    fetch: Callable[[int, int | None], Awaitable[list[FundingRate]]],
    *,
    start: datetime,
    end: datetime | None,
    now: datetime,
) -> list[FundingRate]:
    end_ms = None if end is None else to_millis(end)
    rates = await split_pages(
        fetch,
        start_ms=to_millis(start),
        end_ms=end_ms,
        now_ms=to_millis(now),
        cap=FUNDING_PAGE_CAP,
        key=lambda r: to_millis(r.timestamp),
        time_of=lambda r: to_millis(r.timestamp),
    )
    return [r for r in rates if r.timestamp >= start and (end is None or r.timestamp <= end)]
