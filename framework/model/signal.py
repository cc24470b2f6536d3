"""Signals: what a strategy wants, before sizing and risk decide what is sent."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from sparkstacker.model.base import FrozenModel, UtcDatetime
from sparkstacker.model.enums import Direction


class Signal(FrozenModel):
    strategy: str
    venue: str
    symbol: str
    direction: Direction
    confidence: Decimal = Field(default=Decimal(1), ge=0, le=1)
    timestamp: UtcDatetime
    source: str = Field(description="What produced it, e.g. 'enter long' at macd_eth.rules:7")
    price: Decimal | None = Field(default=None, description="Reference price when it fired")
    reason: str | None = None
