"""Test helpers for code that drives the Hyperliquid adapter offline (engine regression suites).

* :class:`FakeClock` — deterministic time; ``sleep`` advances it instead of waiting;
* :func:`replay_vcr` — a vcrpy ``VCR`` that replays cassettes with ``record_mode="none"`` and
  matches on method, host, path and the body's ``type`` (``/info``) or ``action.type``
  (``/exchange``): the SDK's bodies carry nonces and signatures that change on every run;
* :func:`make_test_exchange` — an adapter instance on that clock with its own limiter.

The hand-written ``/exchange`` cassettes live in ``tests/cassettes/hyperliquid_exchange`` and
the real ``/info`` recordings in ``../shared/hyperliquid/cassettes``. vcrpy is a test
dependency and is imported only when :func:`replay_vcr` is called.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sparkstacker_plugins.exchanges.hyperliquid.settings import HyperliquidSettings

TEST_AGENT_KEY = "0x" + "11" * 32  # a throwaway key: never funded, never approved anywhere
TEST_MASTER = "0x" + "ab" * 20
TEST_START = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    """Deterministic clock for the adapter (``AdapterClock``); records every sleep."""

    def __init__(self, start: datetime = TEST_START) -> None:
        self._now = start
        self._mono = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


def request_kind(request: Any) -> tuple[str, str | None]:
    """(``info`` | ``exchange``, request type) of a vcrpy request."""
    body = request.body or b"{}"
    data = json.loads(body.decode() if isinstance(body, bytes) else body)
    if request.path.endswith("/exchange"):
        action = data.get("action") if isinstance(data, dict) else None
        return "exchange", action.get("type") if isinstance(action, dict) else None
    return "info", data.get("type") if isinstance(data, dict) else None


def _match_kind(live: Any, recorded: Any) -> None:
    if request_kind(live) != request_kind(recorded):
        raise AssertionError(f"{request_kind(live)} != {request_kind(recorded)}")


def replay_vcr() -> Any:
    """A vcrpy VCR that only replays (a request no cassette answers raises)."""
    import vcr

    replayer = vcr.VCR(record_mode="none", match_on=["method", "scheme", "host", "path", "hl_kind"])
    replayer.register_matcher("hl_kind", _match_kind)
    return replayer


def make_test_exchange(clock: FakeClock, name: str = "hyperliquid", **overrides: Any) -> Any:
    """A testnet adapter with a throwaway agent key, ``clock`` and a private limiter."""
    from sparkstacker_plugins.exchanges.hyperliquid.exchange import HyperliquidExchange
    from sparkstacker_plugins.exchanges.hyperliquid.rate_limit import WeightLimiter
    from sparkstacker_plugins.exchanges.hyperliquid.retry import RetryPolicy

    fields: dict[str, Any] = {
        "network": "testnet",
        "private_key": SecretStr(TEST_AGENT_KEY),
        "account_address": TEST_MASTER,
        "streaming": False,
        "max_retries": 3,
    }
    fields.update(overrides)
    settings = HyperliquidSettings(**fields)
    return HyperliquidExchange(
        name,
        settings,
        limiter=WeightLimiter(clock=clock),
        clock=clock,
        retry=RetryPolicy(attempts=settings.max_retries, base_delay=0.5),
    )
