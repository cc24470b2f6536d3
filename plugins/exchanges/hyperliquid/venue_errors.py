"""Hyperliquid's error strings, what they mean, and how the adapter reacts to each.

Two levels exist (both arrive as HTTP 200 values, not exceptions):

* action-level: ``{"status": "err", "response": "<text>"}`` — the whole action was refused;
* per-order: ``{"status": "ok", "response": {... "statuses": [{"error": "<text>"}]}}``.

Live strings carry a trailing `` asset=<id>``; match on the leading text. docs/exchanges/
hyperliquid.md renders the same table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from sparkstacker.errors import ExchangeError, RateLimited, RetryableExchangeError

_ASSET_SUFFIX = re.compile(r"\s*asset=(\d+)\s*$")


class Reaction(StrEnum):
    REJECT = "reject"  # the order is REJECTED with the venue's words
    RATE_LIMIT = "rate_limit"  # back off and retry later (RateLimited)
    HALT = "halt"  # credentials/account broken: stop trading on this venue
    FAIL = "fail"  # the action failed; raise ExchangeError with the venue's words


@dataclass(frozen=True)
class VenueErrorInfo:
    prefix: str
    code: str
    meaning: str
    reaction: Reaction


ORDER_ERRORS: tuple[VenueErrorInfo, ...] = (
    VenueErrorInfo(
        "Price must be divisible by tick size.",
        "Tick",
        "price is off the tick grid (the adapter rounds first, so this means stale rules)",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order must have minimum value of $10.",
        "MinTradeNtl",
        "order value under $10 (checked locally before sending; a full close is exempt)",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order must have minimum value of 10",
        "MinTradeSpotNtl",
        "spot order value under 10 units of the quote token",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Insufficient margin to place order.",
        "PerpMargin",
        "not enough free margin at the account's leverage",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Reduce only order would increase position.",
        "ReduceOnly",
        "reduce-only order on the wrong side of (or without) a position",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Post only order would have immediately matched",
        "BadAloPx",
        "ALO (post-only) order would have crossed the book",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order could not immediately match against any resting orders.",
        "IocCancel",
        "IOC found nothing to match at its limit: nothing was filled",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Invalid TP/SL price.", "BadTriggerPx", "trigger price on the wrong side", Reaction.REJECT
    ),
    VenueErrorInfo(
        "No liquidity available for market order.",
        "MarketOrderNoLiquidity",
        "empty book on the side a market order needs",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order would increase open interest while open interest is capped",
        "PositionIncreaseAtOpenInterestCap",
        "asset at its open-interest cap: only reducing orders pass",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order rejected due to price more aggressive than oracle while at open interest cap",
        "TooAggressiveAtOpenInterestCap",
        "at the open-interest cap the price may not be more aggressive than the oracle",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order would increase open interest too quickly",
        "OpenInterestIncrease",
        "open interest grows too fast; retry later or smaller",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "(Spot-only) Order has insufficient spot balance to trade",
        "InsufficientSpotBalance",
        "not enough of the spot token",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order price too far from oracle", "Oracle", "price too far from oracle", Reaction.REJECT
    ),
    VenueErrorInfo(
        "Order would cause position to exceed margin tier limit at current leverage",
        "PerpMaxPosition",
        "position too large for the current leverage tier; lower leverage or size",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order has invalid size.",
        "InvalidSize",
        "size has more decimals than szDecimals (stale rules)",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order has invalid price.",
        "InvalidPrice",
        "price breaks the significant-figure/decimals rule (stale rules)",
        Reaction.REJECT,
    ),
    VenueErrorInfo(
        "Order price cannot be more than 80% away from the reference price",
        "PriceBand",
        "limit price outside the venue's price band",
        Reaction.REJECT,
    ),
    VenueErrorInfo("Trading is halted.", "Halted", "the venue halted the asset", Reaction.REJECT),
)

CANCEL_MISSING = "Order was never placed, already canceled, or filled."
IOC_NO_MATCH = "Order could not immediately match against any resting orders."

ACTION_ERRORS: tuple[VenueErrorInfo, ...] = (
    VenueErrorInfo(
        "Too many cumulative requests sent",
        "AddressRateLimit",
        "per-address request budget used up (1 request per 1 USDC traded)",
        Reaction.RATE_LIMIT,
    ),
    VenueErrorInfo(
        "L1 error: User or API Wallet",
        "UnknownSigner",
        "signature does not resolve to an approved agent: wrong key, wrong network or the agent "
        "was pruned",
        Reaction.HALT,
    ),
    VenueErrorInfo(
        "User or API Wallet",
        "UnknownSigner",
        "signature does not resolve to an approved agent",
        Reaction.HALT,
    ),
    VenueErrorInfo(
        "Must deposit before performing actions",
        "Unfunded",
        "account unfunded on this network, or the signature resolved to another address",
        Reaction.HALT,
    ),
    VenueErrorInfo(
        "Signed action over weight limit",
        "ActionTooHeavy",
        "batch too large (max 200 cancels per action): send smaller batches",
        Reaction.FAIL,
    ),
    VenueErrorInfo(
        "Invalid leverage value",
        "InvalidLeverage",
        "leverage above maxLeverage (checked locally first)",
        Reaction.FAIL,
    ),
    VenueErrorInfo(
        "Cannot switch leverage type with open position.",
        "SwitchMarginMode",
        "cross/isolated can only change while flat",
        Reaction.FAIL,
    ),
    VenueErrorInfo(
        "Isolated position does not have sufficient margin available to decrease leverage.",
        "IsolatedDecrease",
        "add margin before lowering isolated leverage",
        Reaction.FAIL,
    ),
    VenueErrorInfo(
        "Cross position does not have sufficient margin available to decrease leverage.",
        "CrossDecrease",
        "deposit collateral before lowering cross leverage",
        Reaction.FAIL,
    ),
    VenueErrorInfo(
        "Cross margin is not allowed for this asset.",
        "IsolatedOnly",
        "the asset is isolated-only",
        Reaction.FAIL,
    ),
)


class VenueConnectionError(RetryableExchangeError):
    """Transport failure. ``maybe_delivered`` is True when the venue may have acted on it."""

    def __init__(self, message: str, *, maybe_delivered: bool, venue: str | None = None) -> None:
        self.maybe_delivered = maybe_delivered
        super().__init__(message, venue=venue)


class VenueHalted(ExchangeError):
    """Trading on this venue instance is stopped; see ``reason``."""

    def __init__(self, reason: str, *, venue: str | None = None) -> None:
        self.reason = reason
        super().__init__(
            f"trading is halted: {reason}. Fix the cause, then call resume() or restart",
            venue=venue,
        )


def split_asset_suffix(text: str) -> tuple[str, int | None]:
    """``"Order … asset=4"`` → (``"Order …"``, 4)."""
    match = _ASSET_SUFFIX.search(text)
    if match is None:
        return text, None
    return text[: match.start()], int(match.group(1))


def lookup(text: str, table: tuple[VenueErrorInfo, ...]) -> VenueErrorInfo | None:
    message, _ = split_asset_suffix(text)
    for info in table:
        if message.startswith(info.prefix):
            return info
    return None


def is_ioc_no_match(text: str) -> bool:
    return split_asset_suffix(text)[0].startswith(IOC_NO_MATCH)


def action_error(text: str, *, venue: str, action: str) -> ExchangeError:
    """The exception for an action-level ``{"status":"err"}`` answer (venue's words kept)."""
    info = lookup(text, ACTION_ERRORS)
    message = f"{action} refused: {text}"
    if info is not None and info.reaction is Reaction.RATE_LIMIT:
        return RateLimited(message, venue=venue)
    if info is not None and info.reaction is Reaction.HALT:
        return VenueHalted(f"{action} refused by the venue: {text} ({info.meaning})", venue=venue)
    return ExchangeError(message, venue=venue)
