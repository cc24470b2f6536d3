"""Canonical symbols ↔ Hyperliquid coins ↔ asset ids, built from the network's own meta.

* Perps: ``ETH-USD`` ↔ coin ``ETH`` ↔ asset id = index in ``meta.universe`` (ETH is 1 on mainnet
  and 4 on testnet — ids are read per network, never hard-coded).
* Spot: ``PURR-USDC`` ↔ coin ``PURR/USDC``; ``HYPE-USDC`` ↔ coin ``@107`` (mainnet) ↔ asset id
  ``10000 + spotMeta.universe[i].index``. Symbols use the token names of the pair.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sparkstacker.errors import ExchangeError
from sparkstacker.model import Instrument, InstrumentKind
from sparkstacker.registry import suggest
from sparkstacker_plugins.exchanges.hyperliquid.rules import (
    PERP_QUOTE,
    perp_instrument,
    spot_instrument,
    tick_rule,
)
from sparkstacker_plugins.exchanges.hyperliquid.schemas import (
    VENUE,
    AssetInfo,
    Meta,
    SpotMeta,
    format_error,
)

SPOT_ASSET_OFFSET = 10_000


@dataclass(frozen=True)
class Market:
    """One tradable market: canonical symbol, the venue's coin name, asset id and rules."""

    symbol: str
    coin: str
    asset_id: int
    instrument: Instrument
    sz_decimals: int
    delisted: bool = False
    asset: AssetInfo | None = None

    @property
    def is_spot(self) -> bool:
        return self.instrument.kind is InstrumentKind.SPOT

    @property
    def tick_rule(self) -> str:
        return tick_rule(self.sz_decimals, spot=self.is_spot)


def perp_symbol(coin: str) -> str:
    return f"{coin}-{PERP_QUOTE}"


class SymbolMap:
    """Every market of one network. Lookups by canonical symbol, coin or asset id."""

    def __init__(self, markets: list[Market], meta: Meta, *, venue: str = VENUE) -> None:
        self.venue = venue
        self.meta = meta
        self._by_symbol: dict[str, Market] = {}
        self._by_coin: dict[str, Market] = {}
        self._by_folded: dict[str, Market] = {}
        for market in markets:
            if market.symbol in self._by_symbol:
                raise ExchangeError(
                    f"two markets map to the symbol {market.symbol} "
                    f"({self._by_symbol[market.symbol].coin} and {market.coin})",
                    venue=venue,
                )
            self._by_symbol[market.symbol] = market
            self._by_coin[market.coin] = market
            self._by_folded.setdefault(market.symbol.upper(), market)

    @classmethod
    def build(
        cls, meta: Meta, spot_meta: SpotMeta | None = None, *, venue: str = VENUE
    ) -> SymbolMap:
        markets = [
            Market(
                symbol=perp_symbol(asset.name),
                coin=asset.name,
                asset_id=index,
                instrument=perp_instrument(asset, venue=venue, symbol=perp_symbol(asset.name)),
                sz_decimals=asset.szDecimals,
                delisted=bool(asset.isDelisted),
                asset=asset,
            )
            for index, asset in enumerate(meta.universe)
        ]
        if spot_meta is not None:
            markets.extend(_spot_markets(spot_meta, venue))
        return cls(markets, meta, venue=venue)

    # ---- lookups -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Market]:
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

    def market(self, symbol: str) -> Market:
        """The market for a canonical symbol (case-insensitive fallback), or a clear error."""
        found = self._by_symbol.get(symbol) or self._by_folded.get(symbol.upper())
        if found is None:
            base = re.split(r"[-/_:]", symbol, maxsplit=1)[0].upper()
            close = [s for s, m in self._by_symbol.items() if m.instrument.base.upper() == base]
            close = close or suggest(symbol, list(self._by_symbol))
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ExchangeError(
                f"unknown market {symbol!r} on this network ({len(self)} markets){hint}",
                venue=self.venue,
            )
        return found

    def by_coin(self, coin: str) -> Market | None:
        return self._by_coin.get(coin)

    def symbol_for_coin(self, coin: str, endpoint: str, path: str) -> str:
        """Canonical symbol for a coin in a response. Perp names map without meta; spot needs it."""
        market = self._by_coin.get(coin)
        if market is not None:
            return market.symbol
        if coin.startswith("@") or "/" in coin:
            raise format_error(endpoint, path, f"spot coin {coin!r} is not in the loaded spotMeta")
        if not coin or "-" in coin:
            raise format_error(endpoint, path, f"coin name {coin!r} is not a Hyperliquid coin")
        return perp_symbol(coin)

    def sdk_meta(self) -> dict[str, Any]:
        """The perp universe in venue order, for the SDK's offline construction."""
        return {
            "universe": [
                {"name": a.name, "szDecimals": a.szDecimals, "maxLeverage": a.maxLeverage}
                for a in self.meta.universe
            ]
        }


def _spot_markets(spot_meta: SpotMeta, venue: str) -> list[Market]:
    tokens = {token.index: token for token in spot_meta.tokens}
    markets: list[Market] = []
    taken: set[str] = set()
    for i, pair in enumerate(spot_meta.universe):
        base_index, quote_index = pair.tokens
        if base_index not in tokens or quote_index not in tokens:
            raise format_error(
                "spotMeta",
                f"universe[{i}].tokens",
                f"pair {pair.name} names token(s) {pair.tokens} missing from spotMeta.tokens",
            )
        base, quote = tokens[base_index], tokens[quote_index]
        symbol = f"{base.name}-{quote.name}"
        if symbol in taken:
            # Two pairs with the same token names (non-canonical deploys): keep both reachable.
            symbol = f"{base.name}.{pair.index}-{quote.name}"
        taken.add(symbol)
        markets.append(
            Market(
                symbol=symbol,
                coin=pair.name,
                asset_id=SPOT_ASSET_OFFSET + pair.index,
                instrument=spot_instrument(
                    coin=pair.name, base=base, quote=quote, venue=venue, symbol=symbol
                ),
                sz_decimals=base.szDecimals,
            )
        )
    return markets
