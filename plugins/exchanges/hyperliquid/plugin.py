"""Registers the Hyperliquid exchange plugin. The SDK is imported only when an instance is built."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparkstacker.exchange import Capabilities, Exchange, ExchangePlugin
from sparkstacker.hookspecs import hookimpl
from sparkstacker_plugins.exchanges.hyperliquid.settings import HyperliquidSettings, load_settings

NAME = "hyperliquid"
CAPABILITIES = Capabilities(
    simulated=False,
    trigger_orders=True,
    post_only=True,
    reduce_only=True,
    fill_or_kill=False,
    modify=True,
    cancel_by_client_id=True,
    order_book=True,
    candle_history=True,
    max_history_candles=5000,
    funding_history=True,
    streaming=True,
    sub_accounts=True,
    isolated_margin=True,
)


def create(instance_name: str, options: Mapping[str, Any]) -> Exchange:
    """Build one account connection (``hyperliquid`` or ``hyperliquid.hedge``)."""
    from sparkstacker_plugins.exchanges.hyperliquid.exchange import HyperliquidExchange

    return HyperliquidExchange(instance_name, load_settings(instance_name, options))


@hookimpl
def register_exchanges() -> list[ExchangePlugin]:
    return [
        ExchangePlugin(
            name=NAME,
            summary="Hyperliquid perpetuals (and spot) via hyperliquid-python-sdk; testnet first",
            create=create,
            settings_model=HyperliquidSettings,
            capabilities=CAPABILITIES,
        )
    ]
