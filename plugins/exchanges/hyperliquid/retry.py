"""Exponential backoff for retryable venue failures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in total; waits ``base * factor**(n-1)`` capped at ``max_delay``."""

    attempts: int = 4
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 10.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_delay, self.base_delay * self.factor ** max(0, attempt - 1)))
