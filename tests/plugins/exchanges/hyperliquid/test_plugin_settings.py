"""Plugin registration, lazy SDK import, settings from the environment, secrets kept secret."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sparkstacker.errors import ConfigError
from sparkstacker.exchange import Exchange, LeverageSetting
from sparkstacker.model import MarginMode, Order, Side
from sparkstacker_plugins.exchanges.hyperliquid.settings import (
    MAINNET_API_URL,
    TESTNET_API_URL,
    HyperliquidSettings,
    load_settings,
)
from sparkstacker_plugins.exchanges.hyperliquid.venue_errors import VenueHalted

KEY = "0x" + "42" * 32
MASTER = "0x" + "ab" * 20
HEDGE = "0x" + "cd" * 20


def test_registered_through_the_entry_point(registry: Any) -> None:
    plugin = registry.exchanges.get("hyperliquid")
    assert plugin.settings_model is HyperliquidSettings
    assert plugin.capabilities.trigger_orders
    assert plugin.capabilities.max_history_candles == 5000
    assert registry.exchanges.origin("hyperliquid").plugin == "exchanges.hyperliquid"
    exchange = plugin.create("hyperliquid", {})
    assert isinstance(exchange, Exchange)
    assert exchange.name == "hyperliquid"
    assert exchange.venue == "hyperliquid"


def test_plugin_module_does_not_import_the_sdk() -> None:
    code = (
        "import sys, sparkstacker_plugins.exchanges.hyperliquid.plugin as p; "
        "p.register_exchanges(); "
        "heavy = ('hyperliquid', 'eth_account', 'websockets'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_testnet_is_the_default_and_urls_follow_the_network() -> None:
    settings = load_settings("hyperliquid", {})
    assert settings.network == "testnet"
    assert settings.base_url == TESTNET_API_URL
    assert settings.websocket_url == "wss://api.hyperliquid-testnet.xyz/ws"
    assert not settings.is_mainnet
    main = load_settings("hyperliquid", {"network": "mainnet"})
    assert main.base_url == MAINNET_API_URL
    assert main.is_mainnet


def test_credentials_come_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in ("private_key", "account_address", "vault_address", "sub_accounts"):
        with pytest.raises(ConfigError, match=f"{field} must come from the environment"):
            load_settings("hyperliquid", {field: "x"})
    with pytest.raises(ConfigError, match="unknown option"):
        load_settings("hyperliquid", {"netwrok": "mainnet"})
    monkeypatch.setenv("SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY", KEY)
    monkeypatch.setenv(
        "SPARKSTACKER_HYPERLIQUID_ACCOUNT_ADDRESS", MASTER.upper().replace("0X", "0x")
    )
    settings = load_settings("hyperliquid", {"market_slippage": "0.02"})
    assert settings.private_key is not None
    assert settings.private_key.get_secret_value() == KEY
    assert settings.account_address == MASTER  # lower-cased
    assert settings.trading_address == MASTER
    assert settings.signing_vault is None


def test_hedge_instance_trades_its_sub_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKSTACKER_HYPERLIQUID_ACCOUNT_ADDRESS", MASTER)
    with pytest.raises(ConfigError, match="SUB_ACCOUNTS has no address for it"):
        load_settings("hyperliquid.hedge", {})
    monkeypatch.setenv("SPARKSTACKER_HYPERLIQUID_SUB_ACCOUNTS", f'{{"hedge": "{HEDGE}"}}')
    hedge = load_settings("hyperliquid.hedge", {})
    assert hedge.account == "hedge"
    assert hedge.trading_address == HEDGE
    assert hedge.signing_vault == HEDGE  # the agent signs for the sub-account
    assert load_settings("hyperliquid.hedge", {"account": "main"}).trading_address == MASTER
    monkeypatch.setenv("SPARKSTACKER_HYPERLIQUID_VAULT_ADDRESS", HEDGE)
    assert load_settings("hyperliquid", {}).trading_address == HEDGE


def test_secrets_never_reach_reprs_errors_or_logs(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    replay: Any,
    own: Callable[[str], Path],
) -> None:
    from sparkstacker_plugins.exchanges.hyperliquid import plugin

    secret = "42" * 32
    monkeypatch.setenv("SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY", "0x" + secret)
    monkeypatch.setenv("SPARKSTACKER_HYPERLIQUID_ACCOUNT_ADDRESS", MASTER)
    caplog.set_level(logging.DEBUG)
    exchange: Any = plugin.create("hyperliquid", {})
    texts = [repr(exchange), repr(exchange.settings), str(exchange.settings)]
    with replay(own("meta_testnet")):
        asyncio.run(exchange.markets())
    exchange.leverage_guard.confirm(
        LeverageSetting(symbol="ETH-USD", leverage=Decimal(3), margin_mode=MarginMode.CROSS)
    )
    order = Order(
        client_order_id="c-secret",
        venue="hyperliquid",
        symbol="ETH-USD",
        side=Side.BUY,
        price=Decimal("2400"),
        size=Decimal("0.01"),
    )
    with replay(own("order_bad_signer")), pytest.raises(VenueHalted) as info:
        asyncio.run(exchange.submit(order))
    texts += [str(info.value), repr(info.value), caplog.text, str(exchange.halted)]
    assert "User or API Wallet" in str(info.value)
    # a malformed key is refused without echoing it
    monkeypatch.setenv("SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY", "0x" + secret[:-2] + "zz")
    with pytest.raises(ConfigError) as bad:
        load_settings("hyperliquid", {})
    texts += [str(bad.value)]
    assert "64 hex digits" in str(bad.value)
    for text in texts:
        assert secret not in text
        assert secret[:-2] not in text


def test_the_docs_explain_every_error_string_and_env_variable() -> None:
    from sparkstacker_plugins.exchanges.hyperliquid.venue_errors import (
        ACTION_ERRORS,
        CANCEL_MISSING,
        ORDER_ERRORS,
    )

    docs = (
        Path(__file__).resolve().parents[4] / "docs" / "exchanges" / "hyperliquid.md"
    ).read_text()
    for info in (*ORDER_ERRORS, *ACTION_ERRORS):
        assert info.prefix in docs, info.prefix
    assert CANCEL_MISSING in docs
    for field in HyperliquidSettings.model_fields:
        assert field in docs or f"SPARKSTACKER_HYPERLIQUID_{field.upper()}" in docs, field
