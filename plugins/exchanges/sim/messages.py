"""The venue's own words: reject and cancel reasons the simulated venue reports, per style.

Hyperliquid's strings come from its docs' error table and live recordings
(shared/research/hyperliquid.md §5.7). Live responses append `` asset=<id>``; the simulator
does not, so callers should match with ``startswith`` exactly as they must against the venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class VenueMessages:
    tick: str
    invalid_price: str
    invalid_size: str
    min_notional: str
    margin: str
    reduce_only: str
    post_only: str
    ioc_no_match: str
    market_no_liquidity: str
    price_too_far: str
    cancel_missing: str
    ioc_remainder: str
    fok_not_filled: str
    invalid_leverage: str
    switch_mode_with_position: str
    cross_not_allowed: str
    isolated_decrease: str
    cross_decrease: str
    liquidated_cancel: str
    reduce_only_cancel: str
    user_cancel: str

    def min_value(self, minimum: Decimal) -> str:
        text = format(minimum.normalize(), "f")
        return self.min_notional.format(minimum=text)

    def post_only_crossed(self, bid: Decimal, ask: Decimal) -> str:
        bbo = f"{format(bid.normalize(), 'f')}@{format(ask.normalize(), 'f')}"
        return self.post_only.format(bbo=bbo)


HYPERLIQUID = VenueMessages(
    tick="Price must be divisible by tick size.",
    invalid_price="Order has invalid price.",
    invalid_size="Order has invalid size.",
    min_notional="Order must have minimum value of ${minimum}.",
    margin="Insufficient margin to place order.",
    reduce_only="Reduce only order would increase position.",
    post_only="Post only order would have immediately matched, bbo was {bbo}.",
    ioc_no_match="Order could not immediately match against any resting orders.",
    market_no_liquidity="No liquidity available for market order.",
    price_too_far="Order price cannot be more than 80% away from the reference price",
    cancel_missing="Order was never placed, already canceled, or filled.",
    ioc_remainder="IOC remainder cancelled",
    fok_not_filled="Fill or kill order could not be filled in full.",
    invalid_leverage="Invalid leverage value",
    switch_mode_with_position="Cannot switch leverage type with open position.",
    cross_not_allowed="Cross margin is not allowed for this asset.",
    isolated_decrease=(
        "Isolated position does not have sufficient margin available to decrease leverage. "
        "To decrease leverage, add margin to the position."
    ),
    cross_decrease=(
        "Cross position does not have sufficient margin available to decrease leverage. "
        "To decrease leverage, deposit more collateral."
    ),
    liquidated_cancel="liquidatedCanceled",
    reduce_only_cancel="reduceOnlyCanceled",
    user_cancel="canceled",
)

STYLES: dict[str, VenueMessages] = {"hyperliquid": HYPERLIQUID}
