"""Market-maker strategy plugin: quotes both sides around a reference price with inventory skew.

The params model is the contract a rule file's ``uses market_maker { params … }`` block is
validated against; :class:`MarketMakerRuntime` is what the engine runs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sparkstacker import hookimpl
from sparkstacker.errors import ModelError
from sparkstacker.model import Side
from sparkstacker.strategy import StrategyContext, StrategyPlugin


class MarketMakerParams(BaseModel):
    """Quoting parameters. Units: ``fraction`` values are written as % or bps in rule files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spread: Decimal = Field(
        gt=0,
        lt=Decimal("0.5"),
        description="Full quoted spread around the reference price",
        json_schema_extra={"unit": "fraction"},
    )
    levels: int = Field(default=1, ge=1, le=20, description="Quote levels per side")
    level_spacing: Decimal = Field(
        default=Decimal("0.0005"),
        gt=0,
        description="Distance between levels",
        json_schema_extra={"unit": "fraction"},
    )
    order_size: Decimal = Field(
        gt=0, description="Size per level, USD", json_schema_extra={"unit": "USD"}
    )
    max_inventory: Decimal = Field(
        gt=0, description="Absolute inventory cap, USD", json_schema_extra={"unit": "USD"}
    )
    inventory_skew: Decimal = Field(
        default=Decimal("0.5"),
        ge=0,
        le=1,
        description="How far quotes lean against inventory (0 none, 1 full spread at the cap)",
        json_schema_extra={"unit": "fraction"},
    )
    refresh_tolerance: Decimal = Field(
        default=Decimal("0.0002"),
        ge=0,
        description="Keep a resting quote while the ideal price moved less than this",
        json_schema_extra={"unit": "fraction"},
    )
    reference: Literal["mid", "microprice", "mark"] = "mid"
    post_only: bool = Field(default=True, json_schema_extra={"unit": "bool"})
    min_quote_interval: int = Field(
        default=1, ge=1, description="Bars between re-quotes", json_schema_extra={"unit": "bars"}
    )

    @model_validator(mode="after")
    def _inventory_above_size(self) -> MarketMakerParams:
        if self.max_inventory < self.order_size:
            raise ValueError(
                f"max_inventory {self.max_inventory} USD is below order_size {self.order_size} USD"
            )
        return self


class MarketMakerRuntime:
    """Quotes ``levels`` bids and asks around the reference price, leaning against inventory.

    Each quoting bar it computes the ideal ladder; a resting quote whose price is within
    ``refresh_tolerance`` of its ideal keeps its queue place, others are cancelled and
    replaced. The side that would grow inventory beyond ``max_inventory`` is not quoted.
    Every order goes through the engine's risk checks and journal like any other.
    """

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.name = plan.name
        params = plan.params
        if not isinstance(params, MarketMakerParams):
            params = MarketMakerParams.model_validate(params)
        self.params = params
        self._last_quote_bar: int | None = None

    def ladder(self, reference: Decimal, inventory_usd: Decimal) -> list[tuple[Side, Decimal]]:
        """Ideal (side, price) quotes for this reference price and inventory."""
        p = self.params
        half = p.spread / 2
        lean = max(min(inventory_usd / p.max_inventory, Decimal(1)), Decimal(-1))
        shift = lean * p.inventory_skew * half
        quotes: list[tuple[Side, Decimal]] = []
        for level in range(p.levels):
            offset = half + p.level_spacing * level
            if inventory_usd < p.max_inventory:
                quotes.append((Side.BUY, reference * (1 - offset - shift)))
            if inventory_usd > -p.max_inventory:
                quotes.append((Side.SELL, reference * (1 + offset - shift)))
        return quotes

    async def on_bar(self, ctx: StrategyContext) -> None:
        p = self.params
        if (
            self._last_quote_bar is not None
            and ctx.bar_index - self._last_quote_bar < p.min_quote_interval
        ):
            return
        self._last_quote_bar = ctx.bar_index
        reference = Decimal(repr(ctx.close))
        inventory = ctx.position * reference
        wanted = self.ladder(reference, inventory)
        resting = [o for o in ctx.open_orders() if o.leg != "protective" and o.price is not None]
        keep: set[str] = set()
        unmet: list[tuple[Side, Decimal]] = []
        for side, price in wanted:
            match = next(
                (
                    o
                    for o in resting
                    if o.side is side
                    and o.client_order_id not in keep
                    and o.price is not None
                    and abs(o.price - price) / price <= p.refresh_tolerance
                ),
                None,
            )
            if match is not None:
                keep.add(match.client_order_id)
            else:
                unmet.append((side, price))
        for order in resting:
            if order.client_order_id not in keep:
                await ctx.cancel(order, reason="requote")
        for side, price in unmet:
            size = p.order_size / price
            try:
                await ctx.place(side, size, price, post_only=p.post_only, tag="quote")
            except ModelError:
                continue  # below the lot or minimum at this price: skip this level


@hookimpl
def register_strategies() -> list[StrategyPlugin]:
    return [
        StrategyPlugin(
            name="market_maker",
            summary="Quotes both sides around mid: levels, inventory skew, refresh tolerance.",
            params_model=MarketMakerParams,
            create=MarketMakerRuntime,
        )
    ]
