"""Instrument rules from meta, asset ids per network, and every order status word."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sparkstacker.errors import ExchangeFormatError
from sparkstacker.model import MarginMode, OrderStatus
from sparkstacker_plugins.exchanges.hyperliquid import parsing
from sparkstacker_plugins.exchanges.hyperliquid.rules import (
    max_leverage_for_notional,
    perp_instrument,
    spot_instrument,
)
from sparkstacker_plugins.exchanges.hyperliquid.schemas import AssetInfo, Meta, SpotToken

D = Decimal


def perp(sz: int) -> Any:
    return perp_instrument(
        AssetInfo(name="X", szDecimals=sz, maxLeverage=10), venue="hyperliquid", symbol="X-USD"
    )


@pytest.mark.parametrize(
    ("sz", "price", "valid"),
    [
        # the docs' examples: 5 significant figures and at most 6 - szDecimals decimals
        (0, "1234.5", True),
        (0, "1234.56", False),
        (0, "0.001234", True),
        (0, "0.0012345", False),
        (1, "0.01234", True),
        (1, "0.012345", False),
        (5, "123456", True),  # integers are always valid
        (5, "12345.6", False),
        (4, "2500.1", True),
        (4, "2500.12", False),
    ],
)
def test_perp_price_rule(sz: int, price: str, valid: bool) -> None:
    assert perp(sz).is_valid_price(D(price)) is valid


def spot(sz: int) -> Any:
    base = SpotToken(name="PURR", szDecimals=sz, index=1)
    quote = SpotToken(name="USDC", szDecimals=8, index=0)
    return spot_instrument(
        coin="@1", base=base, quote=quote, venue="hyperliquid", symbol="PURR-USDC"
    )


def test_spot_prices_allow_eight_minus_sz_decimals() -> None:
    # docs: 0.0001234 (7 decimals) is valid if szDecimals is 0 or 1, not above (8 - 2 = 6)
    assert spot(0).is_valid_price(D("0.0001234"))
    assert spot(1).is_valid_price(D("0.0001234"))
    assert not spot(2).is_valid_price(D("0.0001234"))
    assert spot(2).lot_size == D("0.01")
    assert spot(2).max_leverage == 1


def test_margin_tiers_lower_the_leverage_cap() -> None:
    meta = Meta.model_validate(
        {
            "universe": [{"name": "ETH", "szDecimals": 4, "maxLeverage": 25, "marginTableId": 55}],
            "marginTables": [
                [
                    55,
                    {
                        "description": "tiered 25x",
                        "marginTiers": [
                            {"lowerBound": "0.0", "maxLeverage": 25},
                            {"lowerBound": "100000000.0", "maxLeverage": 15},
                        ],
                    },
                ]
            ],
        }
    )
    asset = meta.universe[0]
    assert max_leverage_for_notional(meta, asset, D("5000")) == 25
    assert max_leverage_for_notional(meta, asset, D("150000000")) == 15


def test_testnet_ids_come_from_testnet_meta(testnet_exchange: Any) -> None:
    markets = {m.coin: m for m in asyncio.run(testnet_exchange.markets())}
    assert markets["ETH"].asset_id == 4  # mainnet: 1
    assert markets["TINY"].instrument.only_isolated
    assert markets["OLD"].delisted
    symbols = {i.symbol for i in asyncio.run(testnet_exchange.instruments())}
    assert "OLD-USD" not in symbols
    assert "ETH-USD" in symbols
    # the SDK built offline from the same meta agrees on every id
    assert testnet_exchange.client._info.coin_to_asset["ETH"] == 4


ALL_STATUS_WORDS = {
    "open": OrderStatus.ACCEPTED,
    "triggered": OrderStatus.TRIGGERED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "marginCanceled": OrderStatus.CANCELLED,
    "vaultWithdrawalCanceled": OrderStatus.CANCELLED,
    "openInterestCapCanceled": OrderStatus.CANCELLED,
    "selfTradeCanceled": OrderStatus.CANCELLED,
    "reduceOnlyCanceled": OrderStatus.CANCELLED,
    "siblingFilledCanceled": OrderStatus.CANCELLED,
    "delistedCanceled": OrderStatus.CANCELLED,
    "liquidatedCanceled": OrderStatus.CANCELLED,
    "scheduledCancel": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
    "tickRejected": OrderStatus.REJECTED,
    "minTradeNtlRejected": OrderStatus.REJECTED,
    "perpMarginRejected": OrderStatus.REJECTED,
    "reduceOnlyRejected": OrderStatus.REJECTED,
    "badAloPxRejected": OrderStatus.REJECTED,
    "iocCancelRejected": OrderStatus.REJECTED,
    "badTriggerPxRejected": OrderStatus.REJECTED,
    "marketOrderNoLiquidityRejected": OrderStatus.REJECTED,
    "positionIncreaseAtOpenInterestCapRejected": OrderStatus.REJECTED,
    "positionFlipAtOpenInterestCapRejected": OrderStatus.REJECTED,
    "tooAggressiveAtOpenInterestCapRejected": OrderStatus.REJECTED,
    "openInterestIncreaseRejected": OrderStatus.REJECTED,
    "insufficientSpotBalanceRejected": OrderStatus.REJECTED,
    "oracleRejected": OrderStatus.REJECTED,
    "perpMaxPositionRejected": OrderStatus.REJECTED,
}


def record(status: str, sz: str = "1.0", orig: str = "1.0", tif: str = "Gtc") -> dict[str, Any]:
    return {
        "status": "order",
        "order": {
            "order": {
                "coin": "ETH",
                "side": "B",
                "limitPx": "2400.0",
                "sz": sz,
                "oid": 1,
                "timestamp": 1767225600000,
                "orderType": "Limit",
                "origSz": orig,
                "tif": tif,
                "cloid": None,
            },
            "status": status,
            "statusTimestamp": 1767225600000,
        },
    }


@pytest.mark.parametrize(("word", "status"), sorted(ALL_STATUS_WORDS.items()))
def test_every_documented_order_status_word_maps_and_is_kept(
    word: str, status: OrderStatus
) -> None:
    sz = "0.0" if word == "filled" else "1.0"
    found = parsing.parse_order_status(record(word, sz=sz))
    assert found is not None
    mapped, _, reason = parsing.record_outcome(found, endpoint="orderStatus")
    assert mapped is status
    assert reason == word


def test_partial_fills_change_the_mapping() -> None:
    def outcome(word: str, sz: str, tif: str) -> tuple[OrderStatus, Decimal, str]:
        found = parsing.parse_order_status(record(word, sz=sz, orig="1.0", tif=tif))
        assert found is not None
        return parsing.record_outcome(found, endpoint="orderStatus")

    assert outcome("open", "0.4", "Gtc")[:2] == (OrderStatus.PARTIALLY_FILLED, D("0.6"))
    status, filled, reason = outcome("canceled", "0.4", "Ioc")
    assert status is OrderStatus.CANCELLED
    assert filled == D("0.6")
    assert reason == "IOC remainder cancelled (canceled)"
    assert outcome("filled", "0.4", "FrontendMarket")[0] is OrderStatus.CANCELLED  # never FILLED


def test_unknown_status_words_use_the_suffix_or_are_format_errors() -> None:
    found = parsing.parse_order_status(record("someNewReasonCanceled"))
    assert found is not None
    assert parsing.record_outcome(found, endpoint="orderStatus")[0] is OrderStatus.CANCELLED
    strange = parsing.parse_order_status(record("teleported"))
    assert strange is not None
    with pytest.raises(ExchangeFormatError, match="unknown order status 'teleported'"):
        parsing.record_outcome(strange, endpoint="orderStatus")
    assert parsing.parse_order_status({"status": "unknownOid"}) is None


def test_active_asset_data_leverage() -> None:
    leverage, mode = parsing.parse_active_leverage(
        {"user": "0x" + "ab" * 20, "coin": "BTC", "leverage": {"type": "cross", "value": 20}}
    )
    assert leverage == 20
    assert mode is MarginMode.CROSS
    with pytest.raises(ExchangeFormatError, match=r"activeAssetData at leverage\.type"):
        parsing.parse_active_leverage({"coin": "BTC", "leverage": {"type": "both", "value": 20}})


@pytest.mark.shared
def test_asset_contexts_from_the_openapi_example(hl_cassettes: Path) -> None:
    import yaml

    spec = yaml.safe_load((hl_cassettes / "api" / "info" / "assetctxs.yaml").read_text())
    example = spec["paths"]["/info"]["post"]["responses"]["200"]["content"]["application/json"][
        "example"
    ]
    contexts = parsing.parse_asset_contexts(example)
    btc = contexts["BTC-USD"]
    assert btc.mark_price == D("28429.3")
    assert btc.oracle_price == D("28445.0")
    assert btc.funding_rate == D("-0.0000886")
    assert btc.mid_price is None
    mismatched = [example[0], [*example[1], example[1][0]]]
    with pytest.raises(ExchangeFormatError, match="2 contexts for 1 assets"):
        parsing.parse_asset_contexts(mismatched)


def test_cassette_helpers_are_reusable(
    own: Callable[[str], Path], make_exchange: Callable[..., Any]
) -> None:
    from sparkstacker_plugins.exchanges.hyperliquid.testing import replay_vcr

    exchange = make_exchange()
    with replay_vcr().use_cassette(str(own("meta_testnet"))):
        assert len(asyncio.run(exchange.markets())) == 9
