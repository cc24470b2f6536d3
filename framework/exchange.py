"""The exchange contract every venue adapter implements (simulated and real alike).

Adapters validate venue responses into domain models at this boundary. A response they do not
understand raises :class:`~sparkstacker.errors.ExchangeFormatError`; it is never guessed at.
Leverage is applied with :meth:`Exchange.set_leverage`, which returns what the venue *reports*
afterwards, so the caller can refuse to trade on a mismatch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field
from sparkstacker.model import (
    ZERO,
    AccountState,
    Candle,
    Fill,
    FrozenModel,
    FundingRate,
    Instrument,
    MarginMode,
    Order,
    OrderBook,
    OrderStatus,
    UtcDatetime,
)


class Capabilities(FrozenModel):
    """What a venue supports; the engine falls back (e.g. engine-side stops) where it does not."""

    simulated: bool = False
    trigger_orders: bool = False
    post_only: bool = True
    reduce_only: bool = True
    fill_or_kill: bool = False
    modify: bool = False
    cancel_by_client_id: bool = True
    order_book: bool = True
    candle_history: bool = False
    max_history_candles: int | None = None
    funding_history: bool = False
    streaming: bool = False
    sub_accounts: bool = False
    isolated_margin: bool = True


class OrderReport(FrozenModel):
    """The venue's word on one order: its status now, cumulative fill, and new fills if any."""

    client_order_id: str
    venue_order_id: str | None = None
    status: OrderStatus
    filled_size: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    reason: str | None = Field(default=None, description="The venue's own words on a reject")
    fills: tuple[Fill, ...] = ()
    timestamp: UtcDatetime


class LeverageSetting(FrozenModel):
    symbol: str
    leverage: Decimal
    margin_mode: MarginMode


class VenueEvent(FrozenModel):
    """Something the venue pushed: an order report, a fill, a book, a funding payment."""

    kind: str
    venue: str
    timestamp: UtcDatetime
    report: OrderReport | None = None
    book: OrderBook | None = None
    candle: Candle | None = None
    symbol: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


EventHandler = Callable[[VenueEvent], Awaitable[None] | None]


@runtime_checkable
class Exchange(Protocol):
    """One account on one venue. ``name`` is the instance (``hyperliquid.hedge``), ``venue`` the
    plugin (``hyperliquid``)."""

    name: str
    venue: str
    capabilities: Capabilities

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def instruments(self) -> list[Instrument]: ...
    async def account(self) -> AccountState: ...
    async def set_leverage(
        self, symbol: str, leverage: Decimal, margin_mode: MarginMode
    ) -> LeverageSetting: ...
    async def leverage(self, symbol: str) -> LeverageSetting: ...
    async def submit(self, order: Order) -> OrderReport: ...
    async def cancel(self, order: Order) -> OrderReport: ...
    async def order_status(self, client_order_id: str, symbol: str) -> OrderReport | None: ...
    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...
    async def fills(self, since: datetime | None = None) -> list[Fill]: ...
    async def order_book(self, symbol: str) -> OrderBook: ...
    def on_event(self, handler: EventHandler) -> None: ...


@runtime_checkable
class MarketHistory(Protocol):
    """Optional: venues that serve candle and funding history (feeds ``data download``)."""

    async def candles(
        self, symbol: str, timeframe: str, start: datetime, end: datetime
    ) -> list[Candle]: ...
    async def funding_history(
        self, symbol: str, start: datetime, end: datetime | None = None
    ) -> list[FundingRate]: ...


@dataclass(frozen=True)
class ExchangePlugin:
    """What ``register_exchanges`` returns: a named factory for exchange instances.

    ``create(instance_name, options)`` builds one account connection; ``settings_model`` is the
    pydantic model of the options (credentials come from the environment, never from rule files).
    """

    name: str
    summary: str
    create: Callable[[str, Mapping[str, Any]], Exchange]
    settings_model: type[BaseModel] | None = None
    capabilities: Capabilities = field(default_factory=Capabilities)
    live: bool = True
