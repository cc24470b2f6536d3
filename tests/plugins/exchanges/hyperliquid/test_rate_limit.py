"""The weight-based token bucket: documented weights, waits computed on a fake clock, throttles."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sparkstacker.errors import RateLimited
from sparkstacker_plugins.exchanges.hyperliquid.rate_limit import (
    WeightLimiter,
    action_weight,
    info_extra_weight,
    info_weight,
    limiter_for,
)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize(
    ("kind", "weight"),
    [
        ("l2Book", 2),
        ("allMids", 2),
        ("clearinghouseState", 2),
        ("orderStatus", 2),
        ("spotClearinghouseState", 2),
        ("exchangeStatus", 2),
        ("userRole", 60),
        ("meta", 20),
        ("openOrders", 20),
        ("candleSnapshot", 20),
        ("activeAssetData", 20),
    ],
)
def test_info_weights_follow_the_docs(kind: str, weight: int) -> None:
    assert info_weight(kind) == weight


def test_action_and_item_weights() -> None:
    # 1 + floor(batch / 40)
    assert [action_weight(n) for n in (1, 39, 40, 79, 80, 200)] == [1, 1, 2, 2, 3, 6]
    assert info_extra_weight("userFills", [{}] * 500) == 25  # +1 per 20 fills
    assert info_extra_weight("candleSnapshot", [{}] * 120) == 2  # +1 per 60 candles
    assert info_extra_weight("candleSnapshot", [{}] * 24) == 0
    assert info_extra_weight("l2Book", {"levels": []}) == 0


def test_bucket_refills_at_1200_per_minute_and_waits_exactly(clock: Any) -> None:
    limiter = WeightLimiter(clock=clock)

    async def spend() -> None:
        for _ in range(60):
            await limiter.acquire(20)
        assert clock.sleeps == []
        assert limiter.headroom() == pytest.approx(0)
        await limiter.acquire(20)  # 20 weight at 20/s: one second

    run(spend())
    assert clock.sleeps == [pytest.approx(1.0)]
    assert limiter.waits_total == 1
    assert limiter.weight_total == 1220


def test_items_charged_after_the_answer_delay_the_next_request(clock: Any) -> None:
    limiter = WeightLimiter(clock=clock)
    run(limiter.acquire(1200))
    limiter.charge(100)  # e.g. a 2000-fill answer
    assert limiter.headroom() == pytest.approx(-100)
    run(limiter.acquire(20))
    assert clock.sleeps == [pytest.approx(6.0)]  # (20 + 100) / 20 per second


def test_throttles_are_counted_and_only_the_ip_limit_drains(clock: Any) -> None:
    limiter = WeightLimiter(clock=clock)
    limiter.record_throttle(drain=False)
    assert limiter.throttled_total == 1
    assert limiter.headroom() == pytest.approx(1200)
    limiter.record_throttle()
    assert limiter.throttled_total == 2
    assert limiter.headroom() == pytest.approx(0)
    snapshot = limiter.snapshot()
    assert snapshot["throttled_total"] == 2
    assert snapshot["capacity"] == 1200


def test_one_limiter_per_process_per_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from sparkstacker_plugins.exchanges.hyperliquid import plugin

    a = limiter_for("https://api.hyperliquid-testnet.xyz")
    assert limiter_for("https://API.hyperliquid-testnet.xyz/") is a
    assert limiter_for("https://api.hyperliquid.xyz") is not a
    monkeypatch.setenv("SPARKSTACKER_HYPERLIQUID_SUB_ACCOUNTS", '{"hedge": "0x' + "cd" * 20 + '"}')
    main = plugin.create("hyperliquid", {})
    hedge = plugin.create("hyperliquid.hedge", {})
    assert main.limiter is hedge.limiter is a  # type: ignore[attr-defined]


def test_http_429_on_info_backs_off_and_is_counted(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path], clock: Any
) -> None:
    with replay(own("info_429_then_ok")):
        book = run(testnet_exchange.order_book("ETH-USD"))
    assert book.best_ask == Decimal("2500.1")
    assert testnet_exchange.limiter.throttled_total == 1
    assert clock.sleeps == [0.5]  # the retry backoff; the drained bucket refilled meanwhile


def test_persistent_429_ends_in_rate_limited_after_bounded_attempts(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path], clock: Any
) -> None:
    with replay(own("info_429_then_ok"), allow_playback_repeats=True) as cassette:
        cassette.data = [cassette.data[0]]  # only the 429, replayed
        with pytest.raises(RateLimited):
            run(testnet_exchange.order_book("ETH-USD"))
    assert testnet_exchange.limiter.throttled_total == 3
    assert len(replay.sent) == 3
    assert sum(clock.sleeps) < 10
