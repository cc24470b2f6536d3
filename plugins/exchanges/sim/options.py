"""Options of the simulated venue (the ``exchanges.sim`` settings model)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sparkstacker.exchange import Capabilities
from sparkstacker.model import MarginMode


class SimOptions(BaseModel):
    """How the simulated account and venue behave. Defaults mimic Hyperliquid's base tier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_equity: Decimal = Field(default=Decimal(10_000), gt=0)
    quote: str = "USD"
    account: str = "main"
    maker_fee: Decimal = Decimal("0.00015")
    taker_fee: Decimal = Decimal("0.00045")
    slippage: str = "fixed_bps"
    slippage_params: dict[str, Any] = Field(default_factory=lambda: {"bps": 1})
    volume_share: Decimal | None = Field(
        default=Decimal("0.1"),
        gt=0,
        le=1,
        description="Max share of a bar's volume one order may take per bar; None = unlimited",
    )
    fill_at: Literal["next_open", "close"] = "next_open"
    latency_ms: int = Field(default=0, ge=0)
    latency_jitter_ms: int = Field(
        default=0, ge=0, description="Extra uniform random delay 0..jitter (seeded by seed)"
    )
    seed: int = 0
    intrabar_path: Literal["ohlc", "olhc", "nearest"] = "nearest"
    touch_fills: bool = Field(
        default=True,
        description="A resting limit fills when the bar touches its price (False: must trade "
        "through it)",
    )
    default_leverage: Decimal = Field(default=Decimal(20), gt=0)
    default_margin_mode: MarginMode = MarginMode.CROSS
    funding_rate: Decimal | None = Field(
        default=None, description="Constant per-interval funding rate when no series is given"
    )
    venue_style: Literal["hyperliquid"] = "hyperliquid"
    order_history: int = Field(
        default=2_000,
        ge=10,
        description="Finished orders the venue still answers order_status for (Hyperliquid keeps "
        "about the last 2,000; older ones are unknown, as there)",
    )
    fill_history: int = Field(
        default=10_000,
        ge=10,
        description="Most recent fills the venue serves (Hyperliquid: 10,000)",
    )


CAPABILITIES = Capabilities(
    simulated=True,
    trigger_orders=True,
    post_only=True,
    reduce_only=True,
    fill_or_kill=True,
    modify=False,
    cancel_by_client_id=True,
    order_book=True,
    isolated_margin=True,
)
