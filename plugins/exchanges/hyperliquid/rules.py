"""Instrument rules derived from ``meta`` / ``spotMeta`` — never hard-coded per coin.

Hyperliquid rules [docs "Tick and lot size"]:

* size: at most ``szDecimals`` decimals → lot = 10^-szDecimals;
* price: at most 5 significant figures **and** at most ``6 - szDecimals`` decimals on perps
  (``8 - szDecimals`` on spot); integer prices are always valid;
* minimum order value $10 (10 quote units on spot);
* leverage up to ``maxLeverage`` (margin tiers lower it for large notional).
"""

from __future__ import annotations

from decimal import Decimal

from sparkstacker.model import Instrument, InstrumentKind
from sparkstacker_plugins.exchanges.hyperliquid.schemas import AssetInfo, Meta, SpotToken

PERP_MAX_DECIMALS = 6
SPOT_MAX_DECIMALS = 8
PRICE_SIGNIFICANT_FIGURES = 5
MIN_NOTIONAL = Decimal(10)
PERP_QUOTE = "USD"
ISOLATED_ONLY_MODES = frozenset({"strictIsolated", "noCross"})


def lot_size(sz_decimals: int) -> Decimal:
    return Decimal(1).scaleb(-sz_decimals)


def price_decimals(sz_decimals: int, *, spot: bool) -> int:
    return max(0, (SPOT_MAX_DECIMALS if spot else PERP_MAX_DECIMALS) - sz_decimals)


def tick_rule(sz_decimals: int, *, spot: bool) -> str:
    """Human description of the price rule, for ``spark-stacker markets``."""
    return (
        f"{PRICE_SIGNIFICANT_FIGURES} sig. figs, <= {price_decimals(sz_decimals, spot=spot)} "
        "decimals"
    )


def perp_instrument(asset: AssetInfo, *, venue: str, symbol: str) -> Instrument:
    only_isolated = bool(asset.onlyIsolated) or (asset.marginMode in ISOLATED_ONLY_MODES)
    return Instrument(
        symbol=symbol,
        venue=venue,
        base=asset.name,
        quote=PERP_QUOTE,
        kind=InstrumentKind.PERPETUAL,
        venue_symbol=asset.name,
        tick_size=Decimal(1).scaleb(-price_decimals(asset.szDecimals, spot=False)),
        price_significant_figures=PRICE_SIGNIFICANT_FIGURES,
        lot_size=lot_size(asset.szDecimals),
        min_notional=MIN_NOTIONAL,
        max_leverage=Decimal(asset.maxLeverage),
        only_isolated=only_isolated,
    )


def spot_instrument(
    *, coin: str, base: SpotToken, quote: SpotToken, venue: str, symbol: str
) -> Instrument:
    return Instrument(
        symbol=symbol,
        venue=venue,
        base=base.name,
        quote=quote.name,
        kind=InstrumentKind.SPOT,
        venue_symbol=coin,
        tick_size=Decimal(1).scaleb(-price_decimals(base.szDecimals, spot=True)),
        price_significant_figures=PRICE_SIGNIFICANT_FIGURES,
        lot_size=lot_size(base.szDecimals),
        min_notional=MIN_NOTIONAL,
        max_leverage=Decimal(1),
    )


def max_leverage_for_notional(meta: Meta, asset: AssetInfo, notional: Decimal) -> Decimal:
    """The leverage cap that applies at ``notional`` (margin tiers), or ``maxLeverage``."""
    cap = Decimal(asset.maxLeverage)
    if asset.marginTableId is None or not meta.marginTables:
        return cap
    for table_id, table in meta.marginTables:
        if table_id != asset.marginTableId:
            continue
        for tier in sorted(table.marginTiers, key=lambda t: t.lowerBound):
            if abs(notional) >= tier.lowerBound:
                cap = min(Decimal(asset.maxLeverage), Decimal(tier.maxLeverage))
    return cap
