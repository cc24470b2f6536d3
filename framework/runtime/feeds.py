"""Market-data feeds of a run: recorded bars replayed at an accelerated clock, or live candles.

A feed yields the base-timeframe bars of every market the run trades, in time order, and
serves history before a time (warm-up and hot reload). :class:`ReplayFeed` replays stored (or
the labelled synthetic sample) bars paced at ``speed`` × real time; :class:`CandleFeed` turns a
live venue's candle stream into closed bars.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sparkstacker.errors import DataError
from sparkstacker.exchange import VenueEvent
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model import Candle, from_millis, to_millis
from sparkstacker.model.timeframe import timeframe_seconds
from sparkstacker.runtime.bars import Bar

log = logging.getLogger("sparkstacker.runtime.feeds")


@dataclass
class FeedMarket:
    """One market fed to the run: where its data comes from and which venue instances trade it."""

    data_venue: str
    symbol: str
    timeframe: str  # base timeframe: the finest any strategy on it uses
    instances: list[str] = field(default_factory=list)
    frame: BarFrame | None = None  # replay: the whole stored series
    label: str = ""  # where the bars come from ("synthetic sample data (seed 7)", "live …")
    synthetic: bool = False
    start_ms: int = 0  # first bar (open time) to trade
    funding: np.ndarray | None = None

    @property
    def step_ms(self) -> int:
        return timeframe_seconds(self.timeframe) * 1000

    @property
    def key(self) -> tuple[str, str]:
        return (self.data_venue, self.symbol)


BarItem = tuple[FeedMarket, Bar, float | None]  # market, bar, funding rate of the bar


class ReplayFeed:
    """Replays stored bars from each market's ``start_ms`` to ``end_ms`` (exclusive).

    Bars are paced so bar closes happen ``speed`` times faster than they did (``None``: as fast
    as the engine takes them). Pacing never changes what happens: the engine's clock is the
    replayed time, so a replay at any speed trades the same way.
    """

    live = False

    def __init__(
        self, markets: list[FeedMarket], *, end_ms: int | None, speed: float | None
    ) -> None:
        if speed is not None and speed <= 0:
            raise DataError(f"replay speed must be positive, got {speed}")
        self.markets = markets
        self.end_ms = end_ms
        self.speed = speed
        self.total = 0

    def _indices(self) -> tuple[np.ndarray, np.ndarray]:
        """(market index, row) of every bar to feed, merged in time order."""
        owners, rows, times = [], [], []
        for k, market in enumerate(self.markets):
            assert market.frame is not None
            stamps = market.frame.timestamp.astype(np.int64)
            lo = int(np.searchsorted(stamps, market.start_ms, side="left"))
            hi = len(stamps)
            if self.end_ms is not None:
                hi = int(np.searchsorted(stamps + market.step_ms, self.end_ms, side="right"))
            hi = max(hi, lo)
            owners.append(np.full(hi - lo, k, dtype=np.int64))
            rows.append(np.arange(lo, hi, dtype=np.int64))
            times.append(stamps[lo:hi])
        if not owners:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        owner, row, stamp = np.concatenate(owners), np.concatenate(rows), np.concatenate(times)
        order = np.lexsort((owner, stamp))
        return owner[order], row[order]

    def pending(self) -> int:
        """How many bars the replay will feed."""
        owner, _ = self._indices()
        return len(owner)

    async def bars(self, stop: asyncio.Event) -> AsyncIterator[BarItem | None]:
        owner, row = self._indices()
        self.total = len(owner)
        if self.total == 0:
            return
        first = self.markets[int(owner[0])]
        assert first.frame is not None
        origin_ms = int(first.frame.timestamp[int(row[0])]) + first.step_ms
        wall0 = time.monotonic()
        for k, i in zip(owner.tolist(), row.tolist(), strict=True):
            market = self.markets[k]
            frame = market.frame
            assert frame is not None
            ts = int(frame.timestamp[i])
            if self.speed is not None:
                due = wall0 + (ts + market.step_ms - origin_ms) / 1000 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=delay)
            else:
                await asyncio.sleep(0)
            if stop.is_set():
                return
            rate: float | None = None
            if frame.funding is not None:
                value = float(frame.funding[i])
                rate = value if value == value else None
            yield (
                market,
                (
                    ts,
                    float(frame.open[i]),
                    float(frame.high[i]),
                    float(frame.low[i]),
                    float(frame.close[i]),
                    float(frame.volume[i]),
                ),
                rate,
            )

    def history(self, market: FeedMarket, before_ms: int, count: int) -> list[Bar]:
        """Up to ``count`` base bars that closed at or before ``before_ms``."""
        frame = market.frame
        assert frame is not None
        stamps = frame.timestamp.astype(np.int64)
        hi = int(np.searchsorted(stamps + market.step_ms, before_ms, side="right"))
        lo = max(0, hi - count)
        return [
            (
                int(frame.timestamp[i]),
                float(frame.open[i]),
                float(frame.high[i]),
                float(frame.low[i]),
                float(frame.close[i]),
                float(frame.volume[i]),
            )
            for i in range(lo, hi)
        ]


class CandleFeed:
    """Closed bars from a live venue's candle stream (paper runs fed live, and live runs).

    The stream pushes the forming candle on every trade; a candle is closed when the next one
    starts, or when its close time has passed by ``grace`` seconds without a newer candle (a
    quiet market). History comes from the venue (``candles``) and is kept for warm-up/reload.
    """

    live = True

    def __init__(
        self,
        markets: list[FeedMarket],
        venue: Any,
        *,
        grace: float = 3.0,
        keep: int = 5000,
        end_ms: int | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.markets = markets
        self.venue = venue
        self.grace = grace
        self.end_ms = end_ms
        self.now_ms = clock or (lambda: int(time.time() * 1000))
        self._by_symbol = {m.symbol: m for m in markets}
        self._forming: dict[str, Candle] = {}
        self._last_closed: dict[str, int] = {}
        self._queue: asyncio.Queue[BarItem] = asyncio.Queue()
        self._history: dict[str, deque[Bar]] = {m.symbol: deque(maxlen=keep) for m in markets}
        self.total = 0

    async def prime(self, count: int) -> None:
        """Load ``count`` closed bars of history per market from the venue, then subscribe."""
        now = self.now_ms()
        for market in self.markets:
            start = from_millis(now - (count + 2) * market.step_ms)
            candles = await self.venue.candles(
                market.symbol, market.timeframe, start, from_millis(now)
            )
            history = self._history[market.symbol]
            for candle in candles:
                ts = to_millis(candle.timestamp)
                if ts + market.step_ms <= now:
                    history.append(_bar(candle))
                    self._last_closed[market.symbol] = ts
            market.start_ms = now - now % market.step_ms
            await self.venue.subscribe_market(
                market.symbol, book=False, candle_interval=market.timeframe
            )

    def on_event(self, event: VenueEvent) -> None:
        """Handler for the venue's pushed events (``candle`` kinds are used)."""
        if event.kind != "candle" or event.candle is None or event.symbol not in self._by_symbol:
            return
        symbol = event.symbol
        candle = event.candle
        forming = self._forming.get(symbol)
        if forming is not None and candle.timestamp > forming.timestamp:
            self._close(symbol, forming)
        if forming is None or candle.timestamp >= forming.timestamp:
            self._forming[symbol] = candle

    def _close(self, symbol: str, candle: Candle) -> None:
        market = self._by_symbol[symbol]
        ts = to_millis(candle.timestamp)
        if ts <= self._last_closed.get(symbol, -1):
            return
        self._last_closed[symbol] = ts
        bar = _bar(candle)
        self._history[symbol].append(bar)
        self._queue.put_nowait((market, bar, None))

    async def bars(self, stop: asyncio.Event) -> AsyncIterator[BarItem | None]:
        """Closed bars as they come; ``None`` about once a second while none does (so the
        runtime can handle control requests and status on a quiet market)."""
        while not stop.is_set():
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=1.0)
            except TimeoutError:
                self._close_quiet()
                yield None
                continue
            if self.end_ms is not None and item[1][0] + item[0].step_ms > self.end_ms:
                return
            self.total += 1
            yield item

    def _close_quiet(self) -> None:
        """Close forming candles whose time is over when no newer candle came (quiet market)."""
        now = self.now_ms()
        for symbol, candle in list(self._forming.items()):
            step = self._by_symbol[symbol].step_ms
            if to_millis(candle.timestamp) + step + self.grace * 1000 <= now:
                self._close(symbol, candle)
                del self._forming[symbol]

    def history(self, market: FeedMarket, before_ms: int, count: int) -> list[Bar]:
        bars = [b for b in self._history[market.symbol] if b[0] + market.step_ms <= before_ms]
        return bars[-count:]


def _bar(candle: Candle) -> Bar:
    return (
        to_millis(candle.timestamp),
        float(candle.open),
        float(candle.high),
        float(candle.low),
        float(candle.close),
        float(candle.volume),
    )


Feed = ReplayFeed | CandleFeed
OnBar = Callable[[FeedMarket, Bar, float | None], Awaitable[None]]
