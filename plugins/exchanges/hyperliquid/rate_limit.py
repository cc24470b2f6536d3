"""Hyperliquid's weight-based REST limit as a token bucket shared per base URL.

The venue allows 1200 weight per minute per IP [docs "Rate limits"]. ``/exchange`` actions weigh
``1 + floor(batch / 40)``; ``/info`` requests weigh 2 (l2Book, allMids, clearinghouseState,
orderStatus, spotClearinghouseState, exchangeStatus), 60 (userRole) or 20 (everything else), and
some add weight per item returned (+1 per 20 fills/orders/funding rows, +1 per 60 candles).

One :class:`WeightLimiter` per process per base URL (:func:`limiter_for`) is shared by every
adapter instance talking to that URL, so ``hyperliquid`` and ``hyperliquid.hedge`` draw on one
budget. ``headroom()`` and ``throttled_total`` are what the metrics layer reads.
"""

from __future__ import annotations

import threading
from collections.abc import Sized
from typing import Any

from sparkstacker_plugins.exchanges.hyperliquid.clock import AdapterClock, SystemClock

IP_WEIGHT_PER_MINUTE = 1200
LIGHT_INFO = frozenset(
    {
        "l2Book",
        "allMids",
        "clearinghouseState",
        "orderStatus",
        "spotClearinghouseState",
        "exchangeStatus",
    }
)
HEAVY_INFO = {"userRole": 60}
DEFAULT_INFO_WEIGHT = 20
PER_20_ITEMS = frozenset(
    {
        "userFills",
        "userFillsByTime",
        "historicalOrders",
        "fundingHistory",
        "userFunding",
        "recentTrades",
        "userNonFundingLedgerUpdates",
        "userTwapSliceFills",
    }
)
PER_60_ITEMS = frozenset({"candleSnapshot"})


_EPSILON = 1e-6  # float refill rounding must not make a caller wait forever for 1e-15 weight
_MIN_WAIT = 0.001


def info_weight(request_type: str) -> int:
    if request_type in LIGHT_INFO:
        return 2
    return HEAVY_INFO.get(request_type, DEFAULT_INFO_WEIGHT)


def info_extra_weight(request_type: str, result: Any) -> int:
    """Weight charged after the answer, per item returned."""
    if not isinstance(result, Sized) or isinstance(result, str | bytes | dict):
        return 0
    if request_type in PER_20_ITEMS:
        return len(result) // 20
    if request_type in PER_60_ITEMS:
        return len(result) // 60
    return 0


def action_weight(batch_length: int) -> int:
    return 1 + max(0, batch_length) // 40


class WeightLimiter:
    """A continuously refilling token bucket. ``acquire`` waits; it never fails."""

    def __init__(
        self,
        capacity: int = IP_WEIGHT_PER_MINUTE,
        period_seconds: float = 60.0,
        clock: AdapterClock | None = None,
    ) -> None:
        if capacity <= 0 or period_seconds <= 0:
            raise ValueError("capacity and period must be positive")
        self.capacity = float(capacity)
        self.rate = capacity / period_seconds
        self.clock: AdapterClock = clock or SystemClock()
        self._tokens = float(capacity)
        self._stamp = self.clock.monotonic()
        self._lock = threading.Lock()
        self.throttled_total = 0  # times the venue said "slow down" (429 / rate-limit text)
        self.waits_total = 0  # times a request waited locally for weight
        self.weight_total = 0  # weight spent since start

    def _refill(self) -> None:
        now = self.clock.monotonic()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)

    def headroom(self) -> float:
        """Weight available right now (0 … capacity); may be negative after a penalty."""
        with self._lock:
            self._refill()
            return self._tokens

    def _try_take(self, weight: int) -> float:
        """Take ``weight`` and return 0, or return the seconds to wait before it is available."""
        with self._lock:
            self._refill()
            needed = min(float(weight), self.capacity)
            if self._tokens >= needed - _EPSILON:
                self._tokens -= weight
                self.weight_total += weight
                return 0.0
            return max(_MIN_WAIT, (needed - self._tokens) / self.rate)

    async def acquire(self, weight: int) -> None:
        """Wait until ``weight`` is available, then spend it."""
        while True:
            wait = self._try_take(weight)
            if wait <= 0:
                return
            self.waits_total += 1
            await self.clock.sleep(wait)

    def charge(self, weight: int) -> None:
        """Spend weight known only after the answer (items-based); may go below zero."""
        if weight <= 0:
            return
        with self._lock:
            self._refill()
            self._tokens -= weight
            self.weight_total += weight

    def record_throttle(self, *, drain: bool = True) -> None:
        """The venue throttled us: count it; for the IP limit (HTTP 429) also empty the bucket so
        every user of this URL waits for the refill. The per-address action limit does not
        drain the shared IP budget."""
        with self._lock:
            self._refill()
            self.throttled_total += 1
            if drain:
                self._tokens = min(self._tokens, 0.0)

    def snapshot(self) -> dict[str, float]:
        return {
            "headroom": self.headroom(),
            "capacity": self.capacity,
            "throttled_total": float(self.throttled_total),
            "waits_total": float(self.waits_total),
            "weight_total": float(self.weight_total),
        }


_LIMITERS: dict[str, WeightLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(base_url: str) -> WeightLimiter:
    """The process-wide limiter for one REST base URL (created on first use)."""
    key = base_url.rstrip("/").lower()
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = WeightLimiter()
        return limiter


def all_limiters() -> dict[str, WeightLimiter]:
    """Every limiter in this process by base URL (for metrics)."""
    with _LIMITERS_LOCK:
        return dict(_LIMITERS)
