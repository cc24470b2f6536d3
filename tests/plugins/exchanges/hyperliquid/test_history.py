"""Candle and funding paging: continuation, the 5000-candle window, capped windows split."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sparkstacker.errors import DataError
from sparkstacker.exchange import MarketHistory
from sparkstacker.model import Candle, to_millis
from sparkstacker_plugins.exchanges.hyperliquid.history import interval_ms, page_candles

START = datetime(2026, 1, 1, tzinfo=UTC)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_the_adapter_is_a_market_history_source(testnet_exchange: Any) -> None:
    assert isinstance(testnet_exchange, MarketHistory)


def test_candles_page_from_the_last_bar_and_skip_bars_outside_the_range(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path], clock: Any
) -> None:
    clock.advance(3600)  # every bar below has closed
    with replay(own("candles_two_pages")):
        candles = run(
            testnet_exchange.candles("ETH-USD", "1m", START, START + timedelta(minutes=10))
        )
    # page 1 held the bar before START (dropped) and two bars; page 2 the next two.
    assert [c.timestamp for c in candles] == [START + timedelta(minutes=i) for i in range(4)]
    requests = [b["req"] for b in replay.sent]
    assert [r["startTime"] for r in requests] == [
        to_millis(START),
        to_millis(START) + 2 * 60_000,
        to_millis(START) + 4 * 60_000,
    ]
    assert all(r["coin"] == "ETH" and r["interval"] == "1m" for r in requests)


def test_forming_bar_is_left_out_and_short_history_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    step = 60_000

    async def fetch(lo: int, hi: int) -> list[Candle]:
        # the venue only has bars from START + 10 min (its 5000-bar window)
        first = max(lo, to_millis(START) + 10 * step)
        return [
            Candle(
                timestamp=datetime.fromtimestamp(t / 1000, tz=UTC),
                open=Decimal(1),
                high=Decimal(1),
                low=Decimal(1),
                close=Decimal(1),
            )
            for t in range(first, hi, step)
        ]

    now = START + timedelta(minutes=14, seconds=30)  # the 14:00 bar is still forming
    with caplog.at_level(logging.WARNING):
        candles = run(
            page_candles(
                fetch, timeframe="1m", start=START, end=START + timedelta(minutes=15), now=now
            )
        )
    assert [c.timestamp.minute for c in candles] == [10, 11, 12, 13]
    assert "most recent 5000 candles" in caplog.text


def test_unsupported_intervals_are_refused() -> None:
    assert interval_ms("4h") == 4 * 3_600_000
    with pytest.raises(DataError, match="no fixed-length candle interval '1M'"):
        interval_ms("1M")
    with pytest.raises(DataError, match="'2m'"):
        interval_ms("2m")


def test_a_capped_funding_window_is_split_and_refetched(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path], clock: Any
) -> None:
    end = START + timedelta(hours=599)
    clock.advance(700 * 3600)
    with replay(own("funding_capped")):
        rates = run(testnet_exchange.funding_history("ETH-USD", START, end))
    assert len(rates) == 600
    assert len({r.timestamp for r in rates}) == 600
    assert rates[0].timestamp == START
    assert rates[-1].timestamp == end
    windows = [(b["startTime"], b.get("endTime")) for b in replay.sent]
    middle = (to_millis(START) + to_millis(end)) // 2
    assert windows == [
        (to_millis(START), to_millis(end)),
        (to_millis(START), middle),
        (middle + 1, to_millis(end)),
    ]
