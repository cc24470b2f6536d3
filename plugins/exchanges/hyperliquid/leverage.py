"""Leverage that is really applied.

On Hyperliquid leverage is a persistent per-account, per-asset setting; **orders carry none**.
An order opens at whatever is stored on the account (the venue default is cross 20x, and the
original system logged "leverage 1.0" while trading at 25x). So the adapter:

1. pushes leverage with ``updateLeverage`` and checks the answer;
2. reads it back (``clearinghouseState`` when a position exists, else ``activeAssetData``) and
   raises :class:`LeverageMismatch` when the venue reports anything else;
3. refuses every order that opens or increases a position unless the venue's *verified* setting
   equals the order's ``leverage`` / ``margin_mode`` (or the setting configured through
   ``set_leverage`` when the order names none). Verified readings older than
   ``leverage_recheck_seconds`` are read again before trading.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sparkstacker.errors import LeverageMismatch
from sparkstacker.exchange import LeverageSetting
from sparkstacker.model import MarginMode, Order
from sparkstacker_plugins.exchanges.hyperliquid.clock import AdapterClock
from sparkstacker_plugins.exchanges.hyperliquid.schemas import VENUE


@dataclass(frozen=True)
class _Reading:
    setting: LeverageSetting
    at: float


def describe(leverage: Decimal, mode: MarginMode | None) -> str:
    text = f"{leverage.normalize():f}x"
    return f"{text} {mode.value}" if mode is not None else text


class LeverageGuard:
    """Configured (expected) and venue-reported (observed) leverage per symbol."""

    def __init__(self, clock: AdapterClock, recheck_seconds: float) -> None:
        self.clock = clock
        self.recheck_seconds = recheck_seconds
        self._expected: dict[str, LeverageSetting] = {}
        self._observed: dict[str, _Reading] = {}

    def expected(self, symbol: str) -> LeverageSetting | None:
        return self._expected.get(symbol)

    def observed(self, symbol: str) -> LeverageSetting | None:
        """The last venue reading if it is fresh enough to trade on."""
        reading = self._observed.get(symbol)
        if reading is None:
            return None
        if self.clock.monotonic() - reading.at > self.recheck_seconds:
            return None
        return reading.setting

    def observe(self, setting: LeverageSetting) -> None:
        self._observed[setting.symbol] = _Reading(setting, self.clock.monotonic())

    def confirm(self, setting: LeverageSetting) -> None:
        self._expected[setting.symbol] = setting
        self.observe(setting)

    def forget(self, symbol: str) -> None:
        self._expected.pop(symbol, None)
        self._observed.pop(symbol, None)

    def target(self, order: Order) -> tuple[Decimal, MarginMode | None]:
        """What the order must trade at; refuses when nothing was configured anywhere."""
        expected = self._expected.get(order.symbol)
        if order.leverage is not None:
            mode = order.margin_mode or (expected.margin_mode if expected else None)
            return Decimal(order.leverage), mode
        if expected is not None:
            return expected.leverage, order.margin_mode or expected.margin_mode
        raise LeverageMismatch(
            f"order {order.client_order_id} would open a position in {order.symbol} but no "
            "leverage was configured: Hyperliquid applies whatever leverage is stored on the "
            "account, so set it with set_leverage() or put the leverage on the order",
            venue=VENUE,
        )


def check_matches(
    order: Order, target: tuple[Decimal, MarginMode | None], venue: LeverageSetting
) -> None:
    """Raise unless the venue's setting equals what the order expects."""
    leverage, mode = target
    if venue.leverage == leverage and (mode is None or venue.margin_mode is mode):
        return
    raise LeverageMismatch(
        f"refusing order {order.client_order_id}: it expects {describe(leverage, mode)} on "
        f"{order.symbol} but Hyperliquid reports {describe(venue.leverage, venue.margin_mode)} "
        "for this account; call set_leverage() first (nothing was sent)",
        venue=VENUE,
    )
