"""Fixtures for the market-data tests: a temporary store, recorded files, a venue replay."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sparkstacker.data.store import CandleStore
from sparkstacker.exchange import Capabilities
from sparkstacker.model import Candle, FundingRate


@pytest.fixture
def store(tmp_path: Path) -> CandleStore:
    return CandleStore(tmp_path / "store")


@pytest.fixture
def shared_file(marketdata: Path) -> Callable[[str], Path]:
    """Path of a recorded file under ../shared/marketdata; skips when that file is absent."""

    def get(relative: str) -> Path:
        path = marketdata / relative
        if not path.is_file():
            pytest.skip(f"{relative} is not in ../shared/marketdata")
        return path

    return get


def recorded(path: Path) -> pd.DataFrame:
    """A freqtrade feather file as (timestamp ms int64, open, high, low, close, volume)."""
    frame = pd.read_feather(path)
    stamps = frame["date"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    out = pd.DataFrame({"ts": stamps.astype("datetime64[ms]").astype("int64")})
    for column in ("open", "high", "low", "close", "volume"):
        out[column] = frame[column].to_numpy(dtype="float64")
    return out


class ReplayHistory:
    """A replay of recorded venue data behaving like Hyperliquid's history endpoints at ``now``.

    This is not a stand-in for our code: it serves real recorded Hyperliquid candles and funding
    prints (../shared/marketdata) with the venue's documented rules (research/hyperliquid.md
    §4.10/4.11), so the generic downloader meets the situations the real venue creates:

    * only the most recent ``window`` candles (5000) exist; older ones are gone;
    * a request returns at most ``per_request`` candles, ascending from ``startTime``;
    * the first candle returned is the one *containing* ``startTime`` (may open before it);
    * the last candle may still be forming: it is served with partial values (close = open,
      half the volume), so storing it would show up as a mismatch against the recording;
    * ``fundingHistory`` returns at most 500 prints with ``startTime <= time <= endTime``.
    """

    name = "replay.hyperliquid"
    venue = "replay"

    def __init__(
        self,
        candles: pd.DataFrame,
        timeframe: str,
        now: int | None,
        *,
        shift_ms: int = 0,
        window: int = 5000,
        per_request: int = 5000,
        funding: pd.DataFrame | None = None,
    ) -> None:
        self.data = candles.assign(ts=candles["ts"] + shift_ms)
        self.timeframe = timeframe
        self.step = int(pd.Timedelta(timeframe.replace("m", "min")).total_seconds() * 1000)
        self.fixed_now = now
        self.window = window
        self.per_request = per_request
        self.funding = funding
        self.requests: list[tuple[int, int]] = []
        self.capabilities = Capabilities(
            candle_history=True, max_history_candles=window, funding_history=True
        )

    @property
    def now(self) -> int:
        """The replay's clock: fixed (and advanced by tests), or the wall clock when None."""
        if self.fixed_now is None:
            return int(time.time() * 1000)
        return self.fixed_now

    def advance(self, delta: timedelta) -> None:
        assert self.fixed_now is not None
        self.fixed_now += int(delta.total_seconds() * 1000)

    async def candles(
        self, symbol: str, timeframe: str, start: datetime, end: datetime
    ) -> list[Candle]:
        assert timeframe == self.timeframe
        start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        self.requests.append((start_ms, end_ms))
        now = self.now
        ts = self.data["ts"].to_numpy()
        opened = ts <= now
        served = np.flatnonzero(opened)[-self.window :]
        first_open = start_ms // self.step * self.step  # the candle containing startTime
        wanted = served[(ts[served] >= first_open) & (ts[served] <= end_ms)][: self.per_request]
        out = []
        for row in self.data.iloc[wanted].itertuples():
            forming = row.ts + self.step > now
            price = Decimal(repr(float(row.open)))
            out.append(
                Candle(
                    timestamp=datetime.fromtimestamp(row.ts / 1000, tz=UTC),
                    open=price,
                    high=price if forming else Decimal(repr(float(row.high))),
                    low=price if forming else Decimal(repr(float(row.low))),
                    close=price if forming else Decimal(repr(float(row.close))),
                    volume=Decimal(repr(float(row.volume) / (2 if forming else 1))),
                )
            )
        return out

    async def funding_history(
        self, symbol: str, start: datetime, end: datetime | None = None
    ) -> list[FundingRate]:
        assert self.funding is not None
        start_ms = int(start.timestamp() * 1000)
        end_ms = self.now if end is None else min(int(end.timestamp() * 1000), self.now)
        rows = self.funding[(self.funding["ts"] >= start_ms) & (self.funding["ts"] <= end_ms)]
        return [
            FundingRate(
                venue="hyperliquid",
                symbol=symbol,
                timestamp=datetime.fromtimestamp(int(r.ts) / 1000, tz=UTC),
                rate=Decimal(repr(float(r.open))),
                interval=timedelta(hours=1),
            )
            for r in rows.head(500).itertuples()
        ]


@pytest.fixture
def replay_cls() -> type[ReplayHistory]:
    return ReplayHistory


@pytest.fixture
def load_recorded() -> Callable[[Path], pd.DataFrame]:
    return recorded
