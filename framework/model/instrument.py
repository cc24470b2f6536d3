"""Instruments and their trading rules: tick, lot, minimum notional, leverage limits.

The rounding helpers are the single place where a size or a price is made legal for a venue.
They never return a zero size: an order that would round to nothing is an error, not an empty
request (the original system sent zero-size orders because the lot size was hard-coded).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_UP, Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator
from sparkstacker.errors import LeverageLimitError, OrderSizeError, PriceRuleError
from sparkstacker.model.base import ONE, ZERO, FrozenModel

RoundingMode = Literal["nearest", "up", "down"]
_PRICE_ROUNDING = {"nearest": ROUND_HALF_EVEN, "up": ROUND_CEILING, "down": ROUND_FLOOR}
_SIZE_ROUNDING = {"down": ROUND_DOWN, "nearest": ROUND_HALF_EVEN, "up": ROUND_UP}


class InstrumentKind(StrEnum):
    PERPETUAL = "perpetual"
    FUTURE = "future"
    SPOT = "spot"


class Instrument(FrozenModel):
    """A tradable market on one venue, with the rules every order must satisfy."""

    symbol: str = Field(description="Canonical symbol, BASE-QUOTE, e.g. ETH-USD")
    venue: str
    base: str
    quote: str
    kind: InstrumentKind = InstrumentKind.PERPETUAL
    venue_symbol: str | None = Field(default=None, description="The venue's own name, e.g. ETH")
    tick_size: Decimal = Field(gt=0, description="Finest price increment the venue accepts")
    price_significant_figures: int | None = Field(
        default=None, ge=1, description="Max significant figures in a price (Hyperliquid: 5)"
    )
    lot_size: Decimal = Field(gt=0, description="Size increment in base units")
    min_size: Decimal | None = Field(default=None, gt=0)
    min_notional: Decimal = Field(default=ZERO, ge=0, description="Minimum order value in quote")
    max_leverage: Decimal = Field(default=ONE, gt=0)
    contract_size: Decimal = Field(default=ONE, gt=0)
    maintenance_margin_rate: Decimal | None = Field(
        default=None, gt=0, lt=1, description="Defaults to half the initial margin at max leverage"
    )
    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None
    funding_interval: timedelta = timedelta(hours=1)
    only_isolated: bool = False

    @model_validator(mode="after")
    def _check_symbol(self) -> Instrument:
        if not self.symbol or "-" not in self.symbol:
            raise ValueError(f"instrument symbol {self.symbol!r} must look like BASE-QUOTE")
        return self

    # ---- prices -------------------------------------------------------------------------------

    @property
    def maintenance_margin(self) -> Decimal:
        """Maintenance margin rate; Hyperliquid's is half the initial margin at max leverage."""
        if self.maintenance_margin_rate is not None:
            return self.maintenance_margin_rate
        return ONE / (2 * self.max_leverage)

    def price_increment(self, price: Decimal) -> Decimal:
        """The tick that applies at this price (significant-figure venues tick by magnitude)."""
        if self.price_significant_figures is None or price <= 0:
            return self.tick_size
        exponent = price.adjusted() - self.price_significant_figures + 1
        increment = max(self.tick_size, Decimal(1).scaleb(exponent))
        # Integer prices are always valid on significant-figure venues.
        return min(increment, ONE) if increment > ONE else increment

    def round_price(self, price: Decimal, mode: RoundingMode = "nearest") -> Decimal:
        """Round a price to the instrument's grid. ``up`` / ``down`` are directional (for IOC)."""
        price = Decimal(price)
        if price <= 0:
            raise PriceRuleError(f"price {price} for {self.symbol} on {self.venue} must be > 0")
        increment = self.price_increment(price)
        rounded = (price / increment).quantize(ONE, rounding=_PRICE_ROUNDING[mode]) * increment
        # Rounding up may cross a power of ten where the increment grows; round once more.
        second = self.price_increment(rounded)
        if second != increment:
            rounded = (rounded / second).quantize(ONE, rounding=_PRICE_ROUNDING[mode]) * second
        if rounded <= 0:
            raise PriceRuleError(
                f"price {price} rounds to {rounded} on {self.symbol} ({self.venue}); "
                f"the smallest valid price is {self.tick_size}"
            )
        return rounded.quantize(ONE) if rounded == rounded.to_integral_value() else rounded

    def is_valid_price(self, price: Decimal) -> bool:
        if price <= 0:
            return False
        return price % self.price_increment(price) == 0

    def check_price(self, price: Decimal) -> None:
        if not self.is_valid_price(price):
            raise PriceRuleError(
                f"price {price} is not on the price grid of {self.symbol} on {self.venue} "
                f"(increment {self.price_increment(price)} at that price)"
            )

    # ---- sizes --------------------------------------------------------------------------------

    def round_size(
        self, size: Decimal, *, mode: Literal["down", "nearest", "up"] = "down"
    ) -> Decimal:
        """Round a positive size to the lot; raises :class:`OrderSizeError` rather than return 0."""
        size = Decimal(size)
        if size <= 0:
            raise OrderSizeError(f"size {size} for {self.symbol} on {self.venue} must be positive")
        lot = self.lot_size
        rounded = (size / lot).quantize(ONE, rounding=_SIZE_ROUNDING[mode]) * lot
        if rounded <= 0:
            raise OrderSizeError(
                f"size {size} {self.base} rounds to 0 at lot size {lot} on "
                f"{self.symbol} ({self.venue}); refusing to send an empty order"
            )
        minimum = self.min_size or lot
        if rounded < minimum:
            raise OrderSizeError(
                f"size {rounded} {self.base} is under the minimum size {minimum} for "
                f"{self.symbol} on {self.venue}"
            )
        return rounded

    def is_valid_size(self, size: Decimal) -> bool:
        return size > 0 and size % self.lot_size == 0

    def notional(self, size: Decimal, price: Decimal) -> Decimal:
        return abs(size) * price * self.contract_size

    def check_notional(
        self, size: Decimal, price: Decimal, *, closes_position: bool = False
    ) -> None:
        """Raise when the order value is under the venue minimum (a full close is exempt)."""
        minimum = self.min_notional
        if closes_position or minimum <= 0:
            return
        value = self.notional(size, price)
        if value < minimum:
            raise OrderSizeError(
                f"order value {value.quantize(Decimal('0.01'))} {self.quote} ({size} {self.base} "
                f"at {price}) is under the minimum {self.min_notional} {self.quote} for "
                f"{self.symbol} on {self.venue}"
            )

    def size_for_notional(self, notional: Decimal, price: Decimal) -> Decimal:
        """Largest lot-aligned size worth at most ``notional``, checked against the minimums."""
        if price <= 0:
            raise PriceRuleError(f"price {price} for {self.symbol} must be > 0")
        raw = Decimal(notional) / (price * self.contract_size)
        size = self.round_size(raw)
        self.check_notional(size, price)
        return size

    def legal_order(
        self,
        size: Decimal,
        price: Decimal,
        *,
        price_mode: RoundingMode = "nearest",
        closes_position: bool = False,
    ) -> tuple[Decimal, Decimal]:
        """Round size (down) and price, then enforce minimums. Returns ``(size, price)``."""
        rounded_price = self.round_price(price, price_mode)
        rounded_size = self.round_size(size)
        self.check_notional(rounded_size, rounded_price, closes_position=closes_position)
        return rounded_size, rounded_price

    def check_leverage(self, leverage: Decimal) -> None:
        if leverage <= 0:
            raise LeverageLimitError(f"leverage {leverage}x must be positive")
        if leverage > self.max_leverage:
            raise LeverageLimitError(
                f"leverage {leverage}x exceeds the maximum {self.max_leverage}x for "
                f"{self.symbol} on {self.venue}"
            )
