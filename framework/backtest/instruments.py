"""Instrument rules for simulated venues when no venue metadata is stored.

Backtests must round sizes and prices exactly as the real venue would, or a strategy that
passes a backtest fails live (the original system hard-coded a lot size and sent zero-size
orders). Simulated venues follow Hyperliquid's perp rules: lot = 10^-szDecimals, prices with at
most 5 significant figures and 6 - szDecimals decimals, a $10 minimum. szDecimals and max
leverage come from a snapshot of Hyperliquid's meta for common coins; for any other coin
szDecimals is derived from the price the way Hyperliquid assigns it (about one lot per cent
of a dollar) and the maximum leverage defaults to 10x.
"""

from __future__ import annotations

import math
from decimal import Decimal

from sparkstacker.model import Instrument

# coin -> (szDecimals, maxLeverage), from Hyperliquid's meta (2025).
HYPERLIQUID_META = {
    "BTC": (5, 40),
    "ETH": (4, 25),
    "SOL": (2, 20),
    "XRP": (0, 20),
    "DOGE": (0, 20),
    "AVAX": (2, 10),
    "LINK": (1, 10),
    "ARB": (1, 10),
    "OP": (1, 10),
    "SUI": (1, 10),
    "HYPE": (2, 10),
    "BNB": (3, 10),
    "LTC": (2, 10),
}
DEFAULT_MAX_LEVERAGE = 10


def derived_sz_decimals(price: float) -> int:
    """szDecimals such that one lot is worth roughly one cent to one dollar."""
    if not math.isfinite(price) or price <= 0:
        return 2
    return max(0, min(5, math.floor(math.log10(price)) + 1))


def simulated_instrument(venue: str, symbol: str, reference_price: float) -> Instrument:
    base, _, quote = symbol.partition("-")
    sz_decimals, max_leverage = HYPERLIQUID_META.get(
        base.upper(), (derived_sz_decimals(reference_price), DEFAULT_MAX_LEVERAGE)
    )
    return Instrument(
        symbol=symbol,
        venue=venue,
        base=base,
        quote=quote or "USD",
        venue_symbol=base,
        tick_size=Decimal(1).scaleb(-(6 - sz_decimals)),
        price_significant_figures=5,
        lot_size=Decimal(1).scaleb(-sz_decimals),
        min_notional=Decimal(10),
        max_leverage=Decimal(max_leverage),
    )
