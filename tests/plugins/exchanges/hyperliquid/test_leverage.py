"""Leverage that is really applied: pushed, checked, read back, and enforced on every opening order.

Production failure: the old system logged "leverage 1.0" and traded at 25x, because nothing was
ever pushed to (or read back from) the venue, where leverage is a per-account, per-asset setting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sparkstacker.errors import ExchangeError, LeverageLimitError, LeverageMismatch
from sparkstacker.model import MarginMode, Order, OrderStatus, Side

D = Decimal


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def order(**fields: Any) -> Order:
    base: dict[str, Any] = {
        "client_order_id": "c-lev-1",
        "venue": "hyperliquid",
        "symbol": "ETH-USD",
        "side": Side.BUY,
        "price": D("2400"),
        "size": D("0.01"),
    }
    base.update(fields)
    return Order(**base)


def test_set_leverage_pushes_reads_back_and_returns_the_venue_value(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("leverage_flat")):
        setting = run(testnet_exchange.set_leverage("ETH-USD", D(3), MarginMode.ISOLATED))
    assert setting.leverage == D(3)
    assert setting.margin_mode is MarginMode.ISOLATED
    # The wire: ETH is asset 4 on testnet (from meta, not hard-coded), isolated, integer 3.
    [action] = replay.actions()
    assert action == {"type": "updateLeverage", "asset": 4, "isCross": False, "leverage": 3}
    # Read back: no position, so activeAssetData for the master address (not the agent's).
    assert replay.kinds() == ["exchange:updateLeverage", "clearinghouseState", "activeAssetData"]
    assert replay.sent[2]["user"] == "0x" + "ab" * 20
    assert replay.sent[2]["coin"] == "ETH"


def test_read_back_uses_the_open_position_when_there_is_one(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("leverage_with_position")):
        setting = run(testnet_exchange.set_leverage("ETH-USD", D(3), MarginMode.ISOLATED))
    assert setting.leverage == D(3)
    assert replay.kinds() == ["exchange:updateLeverage", "clearinghouseState"]


def test_configured_1x_traded_25x_is_impossible(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    """The venue acknowledges the update but still reports cross 25x: refuse, send nothing."""
    with replay(own("leverage_silently_25x")), pytest.raises(LeverageMismatch) as info:
        run(testnet_exchange.set_leverage("ETH-USD", D(1), MarginMode.ISOLATED))
    assert "set 1x isolated" in str(info.value)
    assert "reports 25x cross" in str(info.value)
    replay.sent.clear()
    # The order that would have opened at 25x is refused before any request.
    with pytest.raises(LeverageMismatch, match="no leverage was configured"):
        run(testnet_exchange.submit(order()))
    with pytest.raises(LeverageMismatch, match=r"expects 1x isolated .* reports 25x cross"):
        run(testnet_exchange.submit(order(leverage=D(1), margin_mode=MarginMode.ISOLATED)))
    assert replay.sent == []


def test_order_leverage_must_match_the_verified_setting(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("leverage_flat")):
        run(testnet_exchange.set_leverage("ETH-USD", D(3), MarginMode.ISOLATED))
    replay.sent.clear()
    with pytest.raises(LeverageMismatch, match=r"expects 5x isolated .* reports 3x isolated"):
        run(testnet_exchange.submit(order(leverage=D(5))))
    with pytest.raises(LeverageMismatch, match=r"expects 3x cross .* reports 3x isolated"):
        run(testnet_exchange.submit(order(leverage=D(3), margin_mode=MarginMode.CROSS)))
    assert replay.sent == []
    # Matching leverage (or none on the order: the configured one applies) is sent.
    with replay(own("order_gtc_resting")):
        report = run(testnet_exchange.submit(order(leverage=D(3))))
    assert report.status is OrderStatus.ACCEPTED


def test_stale_verification_is_read_again_before_opening(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path], clock: Any
) -> None:
    with replay(own("leverage_flat")):
        run(testnet_exchange.set_leverage("ETH-USD", D(3), MarginMode.ISOLATED))
    clock.advance(testnet_exchange.settings.leverage_recheck_seconds + 1)
    replay.sent.clear()
    # Someone changed it in the UI meanwhile: the venue now reports cross 20x.
    with replay(own("leverage_read")), pytest.raises(LeverageMismatch, match="reports 20x cross"):
        run(testnet_exchange.submit(order()))
    assert replay.kinds() == ["clearinghouseState", "activeAssetData"]


def test_reduce_only_orders_do_not_need_leverage(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("order_gtc_resting")):
        report = run(
            testnet_exchange.submit(
                order(side=Side.SELL, price=D("2600"), reduce_only=True, size=D("0.01"))
            )
        )
    assert report.status is OrderStatus.ACCEPTED
    assert replay.actions()[0]["orders"][0]["r"] is True


@pytest.mark.parametrize(
    ("symbol", "leverage", "mode", "match"),
    [
        ("ETH-USD", D(26), MarginMode.CROSS, "exceeds the maximum 25x"),
        ("ETH-USD", D("2.5"), MarginMode.CROSS, "whole number"),
        ("ETH-USD", D(0), MarginMode.CROSS, "must be positive"),
        ("TINY-USD", D(2), MarginMode.CROSS, "isolated-only"),
    ],
)
def test_invalid_leverage_is_refused_before_any_request(
    testnet_exchange: Any, replay: Any, symbol: str, leverage: Decimal, mode: MarginMode, match: str
) -> None:
    with pytest.raises(LeverageLimitError, match=match):
        run(testnet_exchange.set_leverage(symbol, leverage, mode))
    assert replay.sent == []


LEVERAGE_ERRORS = [
    "Invalid leverage value",
    "Cannot switch leverage type with open position.",
    "Isolated position does not have sufficient margin available to decrease leverage.",
    "Cross position does not have sufficient margin available to decrease leverage.",
    "Cross margin is not allowed for this asset.",
]


def test_every_documented_update_leverage_error_surfaces_with_the_venues_words(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("leverage_errors")):
        for text in LEVERAGE_ERRORS:
            with pytest.raises(ExchangeError) as info:
                run(testnet_exchange.set_leverage("ETH-USD", D(3), MarginMode.CROSS))
            assert text in str(info.value)
            assert not isinstance(info.value, LeverageMismatch)
    # No read-back after a refusal, and nothing is considered verified.
    assert replay.kinds() == ["exchange:updateLeverage"] * 5
    assert testnet_exchange.leverage_guard.expected("ETH-USD") is None
    assert testnet_exchange.halted is None  # a leverage refusal is not a venue-wide problem


def test_leverage_reads_the_venue(
    testnet_exchange: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("leverage_read")):
        setting = run(testnet_exchange.leverage("ETH-USD"))
    assert setting.leverage == D(20)
    assert setting.margin_mode is MarginMode.CROSS
