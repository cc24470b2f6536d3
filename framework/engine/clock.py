"""Clocks: simulated (backtests advance it bar by bar) and wall time (paper/live)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...
    def now(self) -> datetime: ...
    async def sleep_until_ms(self, target_ms: int) -> None: ...


class SimulatedClock:
    """A clock that only moves when the driver says so; sleeping just jumps ahead."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = start_ms
        self._now: tuple[int, datetime] | None = None  # the last now(): asked often per bar

    def now_ms(self) -> int:
        return self._now_ms

    def now(self) -> datetime:
        ms = self._now_ms
        cached = self._now
        if cached is not None and cached[0] == ms:
            return cached[1]
        value = datetime.fromtimestamp(ms / 1000, tz=UTC)
        self._now = (ms, value)
        return value

    def set_ms(self, value: int) -> None:
        if value < self._now_ms:
            raise ValueError(f"simulated time cannot go backwards ({value} < {self._now_ms})")
        self._now_ms = value

    async def sleep_until_ms(self, target_ms: int) -> None:
        if target_ms > self._now_ms:
            self._now_ms = target_ms


class WallClock:
    """Real time, for paper and live runs."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until_ms(self, target_ms: int) -> None:
        delay = (target_ms - self.now_ms()) / 1000
        if delay > 0:
            await asyncio.sleep(delay)


class AcceleratedClock:
    """Replays recorded time faster than real time (offline paper runs): ``speed`` × wall time."""

    def __init__(self, start_ms: int, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start_ms = start_ms
        self._speed = speed
        self._wall_start = time.monotonic()

    def now_ms(self) -> int:
        elapsed = time.monotonic() - self._wall_start
        return self._start_ms + int(elapsed * self._speed * 1000)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, tz=UTC)

    async def sleep_until_ms(self, target_ms: int) -> None:
        delay = (target_ms - self.now_ms()) / 1000 / self._speed
        if delay > 0:
            await asyncio.sleep(delay)
