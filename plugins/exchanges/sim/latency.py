"""Order latency: how long after its submission an order reaches the simulated venue."""

from __future__ import annotations

import random
from typing import Protocol, runtime_checkable

from sparkstacker.model import Order


@runtime_checkable
class LatencyModel(Protocol):
    """Milliseconds between an order's submission and the moment it is live on the venue."""

    def delay_ms(self, order: Order) -> int: ...


class ConstantLatency:
    def __init__(self, ms: int = 0) -> None:
        if ms < 0:
            raise ValueError(f"latency must be >= 0 ms, got {ms}")
        self.ms = int(ms)

    def delay_ms(self, order: Order) -> int:
        return self.ms

    def __repr__(self) -> str:
        return f"ConstantLatency({self.ms} ms)"


class RandomLatency:
    """``base_ms`` plus a uniform integer in ``0..jitter_ms``, reproducible through ``seed``."""

    def __init__(self, base_ms: int = 0, jitter_ms: int = 0, seed: int = 0) -> None:
        if base_ms < 0 or jitter_ms < 0:
            raise ValueError(f"latency must be >= 0 ms, got base {base_ms}, jitter {jitter_ms}")
        self.base_ms = int(base_ms)
        self.jitter_ms = int(jitter_ms)
        self._rng = random.Random(seed)

    def delay_ms(self, order: Order) -> int:
        return self.base_ms + self._rng.randint(0, self.jitter_ms)

    def __repr__(self) -> str:
        return f"RandomLatency({self.base_ms} ms + 0..{self.jitter_ms} ms)"


def latency_from_options(latency_ms: int, jitter_ms: int, seed: int) -> LatencyModel:
    if jitter_ms:
        return RandomLatency(latency_ms, jitter_ms, seed)
    return ConstantLatency(latency_ms)
