"""Market-data event → order request latency, measured where the request leaves the engine.

The runtime calls :meth:`LatencyProbe.bar` when it starts handling a bar, lets the paper venues
process it (the simulated exchange filling resting orders and fsyncing its state: the
exchange's work, which a live venue does remotely), then calls :meth:`LatencyProbe.event` when
the engine receives the bar's events. :class:`TimedVenue` wraps each venue the engine sends to
and, when ``submit`` is called, reports the time since ``event`` to the probe's sink (the
Prometheus histogram ``spark_stacker_order_latency_seconds`` in a run, a list in the benchmark)
and the time since ``bar`` — the whole bar's handling, venues included — to ``bar_sink``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sparkstacker.exchange import Capabilities, EventHandler, Exchange, LeverageSetting, OrderReport
from sparkstacker.model import AccountState, Fill, Instrument, MarginMode, Order, OrderBook

Sink = Callable[[float, str], None]  # (seconds, venue)


class LatencyProbe:
    def __init__(self, sink: Sink | None = None, bar_sink: Sink | None = None) -> None:
        self.sink = sink
        self.bar_sink = bar_sink
        self.started: float | None = None
        self.bar_started: float | None = None
        self.samples = 0

    def bar(self) -> None:
        """A bar is being handled from now on (the paper venues process it first)."""
        self.bar_started = time.perf_counter()

    def event(self) -> None:
        """The engine receives a market-data event from now on (the timed window starts)."""
        self.started = time.perf_counter()
        if self.bar_started is None:
            self.bar_started = self.started

    def order_sent(self, venue: str) -> None:
        if self.started is None:
            return
        now = time.perf_counter()
        if self.sink is not None:
            self.samples += 1
            self.sink(now - self.started, venue)
        if self.bar_sink is not None and self.bar_started is not None:
            self.bar_sink(now - self.bar_started, venue)

    def idle(self) -> None:
        """No market-data event is in progress (orders sent now are not timed)."""
        self.started = None
        self.bar_started = None


class TimedVenue:
    """An Exchange that reports every ``submit`` to a :class:`LatencyProbe`, then forwards."""

    def __init__(self, inner: Exchange, probe: LatencyProbe) -> None:
        self.inner = inner
        self.probe = probe
        self.name = inner.name
        self.venue = inner.venue
        self.capabilities: Capabilities = inner.capabilities

    async def submit(self, order: Order) -> OrderReport:
        self.probe.order_sent(self.name)
        return await self.inner.submit(order)

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        await self.inner.close()

    async def instruments(self) -> list[Instrument]:
        return await self.inner.instruments()

    async def account(self) -> AccountState:
        return await self.inner.account()

    async def set_leverage(
        self, symbol: str, leverage: Decimal, margin_mode: MarginMode
    ) -> LeverageSetting:
        return await self.inner.set_leverage(symbol, leverage, margin_mode)

    async def leverage(self, symbol: str) -> LeverageSetting:
        return await self.inner.leverage(symbol)

    async def cancel(self, order: Order) -> OrderReport:
        return await self.inner.cancel(order)

    async def order_status(self, client_order_id: str, symbol: str) -> OrderReport | None:
        return await self.inner.order_status(client_order_id, symbol)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self.inner.open_orders(symbol)

    async def fills(self, since: datetime | None = None) -> list[Fill]:
        return await self.inner.fills(since)

    async def order_book(self, symbol: str) -> OrderBook:
        return await self.inner.order_book(symbol)

    def on_event(self, handler: EventHandler) -> None:
        self.inner.on_event(handler)
