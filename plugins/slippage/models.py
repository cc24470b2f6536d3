"""The built-in slippage models: fixed basis points, volume impact, and a walk of the book.

Each model answers one question (the :class:`~sparkstacker.slippage.SlippageModel` contract): the
average price a taker order of ``size`` gets against a ``reference`` price (the bar's open or
close). They work in floats because the simulated venue calls them inside its bar loop; the venue
turns the answer into a ``Decimal`` on the instrument's price grid (rounded against the taker).

* ``fixed_bps(bps)`` — reference × (1 ± bps / 10 000).
* ``volume_impact(k, exponent, max_impact, bps)`` — impact = k × (size / bar volume) ^ exponent,
  capped at ``max_impact``; price = reference × (1 ± (bps / 10 000 + impact)). With ``exponent``
  0.5 this is the square-root law. A bar with no volume gets the cap.
* ``book_walk()`` — volume-weighted average over the book levels the order would consume; the part
  beyond the book's depth is priced at the last (worst) level. Without a book it is ``fixed 0``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sparkstacker.errors import ConfigError
from sparkstacker.model import OrderBook, Side


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FixedBpsParams(_Params):
    bps: float = Field(default=1.0, ge=0, le=10_000, description="Slippage in basis points")


class VolumeImpactParams(_Params):
    k: float = Field(default=0.1, ge=0, description="Impact (fraction of price) at 100% of volume")
    exponent: float = Field(default=0.5, gt=0, le=3, description="Power of the volume share")
    max_impact: float = Field(default=0.05, ge=0, lt=1, description="Cap on the impact fraction")
    bps: float = Field(default=0.0, ge=0, le=10_000, description="Fixed part (spread), in bps")


class BookWalkParams(_Params):
    pass


class _FractionAgainstTaker:
    """A model whose fill is the reference moved against the taker by a fraction of it."""

    def fraction(self, size: float, bar_volume: float) -> float:
        raise NotImplementedError

    def fill_price(
        self,
        side: Side,
        reference: float,
        size: float,
        bar_volume: float,
        book: OrderBook | None = None,
    ) -> float:
        fraction = self.fraction(size, bar_volume)
        return reference * (1.0 + fraction) if side is Side.BUY else reference * (1.0 - fraction)


class FixedBps(_FractionAgainstTaker):
    """Every taker fill pays ``bps`` basis points against the reference price."""

    def __init__(self, bps: float = 1.0) -> None:
        self.bps = float(bps)
        self._fraction = self.bps / 10_000.0

    def fraction(self, size: float, bar_volume: float) -> float:
        return self._fraction

    def __repr__(self) -> str:
        return f"FixedBps(bps={self.bps:g})"


class VolumeImpact(_FractionAgainstTaker):
    """Impact grows with the share of the bar's volume the order takes (power law, capped)."""

    def __init__(
        self, k: float = 0.1, exponent: float = 0.5, max_impact: float = 0.05, bps: float = 0.0
    ) -> None:
        self.k = float(k)
        self.exponent = float(exponent)
        self.max_impact = float(max_impact)
        self.bps = float(bps)

    def impact(self, size: float, bar_volume: float) -> float:
        """The impact fraction for ``size`` against ``bar_volume`` (both in base units)."""
        if size <= 0:
            return 0.0
        if bar_volume <= 0 or not math.isfinite(bar_volume):
            return self.max_impact
        return min(self.max_impact, self.k * (size / bar_volume) ** self.exponent)

    def fraction(self, size: float, bar_volume: float) -> float:
        return self.bps / 10_000.0 + self.impact(size, bar_volume)

    def __repr__(self) -> str:
        return (
            f"VolumeImpact(k={self.k:g}, exponent={self.exponent:g}, "
            f"max_impact={self.max_impact:g}, bps={self.bps:g})"
        )


class BookWalk:
    """VWAP over the opposite side of the book; no book means no slippage (``fixed 0``)."""

    def fill_price(
        self,
        side: Side,
        reference: float,
        size: float,
        bar_volume: float,
        book: OrderBook | None = None,
    ) -> float:
        if book is None or size <= 0:
            return reference
        levels = book.side_levels(side)
        if not levels:
            return reference
        left = size
        cost = 0.0
        price = reference
        for level in levels:
            price = float(level.price)
            take = min(left, float(level.size))
            cost += take * price
            left -= take
            if left <= 0:
                break
        if left > 0:  # deeper than the book: the rest at the worst level seen
            cost += left * price
        return cost / size

    def __repr__(self) -> str:
        return "BookWalk()"


def _validated(model: type[_Params], params: Mapping[str, Any], name: str) -> dict[str, Any]:
    try:
        return model.model_validate(dict(params)).model_dump()
    except ValidationError as exc:
        allowed = ", ".join(model.model_fields) or "none"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"slippage model {name!r}: {problems} (parameters: {allowed})") from None


def make_fixed_bps(params: Mapping[str, Any]) -> FixedBps:
    return FixedBps(**_validated(FixedBpsParams, params, "fixed_bps"))


def make_volume_impact(params: Mapping[str, Any]) -> VolumeImpact:
    return VolumeImpact(**_validated(VolumeImpactParams, params, "volume_impact"))


def make_book_walk(params: Mapping[str, Any]) -> BookWalk:
    _validated(BookWalkParams, params, "book_walk")
    return BookWalk()
