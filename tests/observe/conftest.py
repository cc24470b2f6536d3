"""Fixtures for the observability tests: log files in tmp_path, real model events, a manager."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sparkstacker.model import (
    Direction,
    Fill,
    FillEvent,
    Liquidity,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Signal,
    SignalEvent,
    TimeInForce,
)
from sparkstacker.observe import setup_logging
from sparkstacker.observe.logs import LogFiles
from sparkstacker.plugins import make_plugin_manager

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def log_files(tmp_path: Path) -> Iterator[LogFiles]:
    files = setup_logging(tmp_path / "_logs", fmt="text", level="DEBUG", run_id="run-1")
    yield files
    files.close()


@pytest.fixture
def manager() -> Callable[..., Any]:
    """A real pluggy manager with only the given plugin objects (no entry points)."""

    def make(*plugins: object) -> Any:
        return make_plugin_manager(autoload=False, builtins=False, plugins=plugins)

    return make


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def json_lines() -> Callable[[Path], list[dict[str, Any]]]:
    return read_json_lines


class Lifecycle:
    """Builds a realistic sequence of order events by driving the order state machine."""

    def __init__(self, order: Order, *, run_id: str | None = None) -> None:
        self.order = order
        self.run_id = run_id
        self.events: list[OrderEvent] = []
        self.fill_events: list[FillEvent] = []
        self.clock = T0

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def emit(self, kind: OrderEventKind, *, reason: str | None = None, fill: Fill | None = None):
        event = OrderEvent(
            kind=kind,
            order=self.order,
            timestamp=self.clock,
            reason=reason,
            fill=fill,
            run_id=self.run_id,
        )
        self.events.append(event)
        return event

    def intent(self) -> OrderEvent:
        self._tick()
        return self.emit(OrderEventKind.INTENT)

    def move(
        self, status: OrderStatus, kind: OrderEventKind, *, reason: str | None = None, **kw: Any
    ) -> OrderEvent:
        at = self._tick()
        self.order = self.order.transition(status, at=at, reason=reason, **kw)
        return self.emit(kind, reason=reason)

    def cancel_requested(self) -> OrderEvent:
        self._tick()
        return self.emit(OrderEventKind.CANCEL_REQUESTED, reason="strategy exit")

    def fill(
        self,
        size: str,
        price: str,
        fee: str = "0.05",
        *,
        position: Position | None = None,
        realized: Decimal | None = None,
        liquidity: Liquidity = Liquidity.TAKER,
    ) -> tuple[OrderEvent, FillEvent]:
        at = self._tick()
        fill = Fill(
            fill_id=f"f{len(self.fill_events) + 1}",
            client_order_id=self.order.client_order_id,
            venue_order_id=self.order.venue_order_id,
            venue=self.order.venue,
            symbol=self.order.symbol,
            side=self.order.side,
            price=Decimal(price),
            size=Decimal(size),
            fee=Decimal(fee),
            liquidity=liquidity,
            timestamp=at,
        )
        self.order = self.order.apply_fill(fill)
        kind = (
            OrderEventKind.FILL
            if self.order.status is OrderStatus.FILLED
            else OrderEventKind.PARTIAL_FILL
        )
        event = self.emit(kind, fill=fill)
        fill_event = FillEvent(
            fill=fill,
            order=self.order,
            position=position,
            realized_pnl=realized,
            run_id=self.run_id,
        )
        self.fill_events.append(fill_event)
        return event, fill_event


def make_order(**overrides: Any) -> Order:
    fields: dict[str, Any] = {
        "client_order_id": "ss-0001",
        "venue": "hyperliquid",
        "symbol": "ETH-USD",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "price": Decimal("2500.50"),
        "size": Decimal("0.4"),
        "tif": TimeInForce.GTC,
        "leverage": Decimal("10"),
        "strategy": "macd_eth_1m",
        "leg": "main",
        "group_id": "g-1",
        "created_at": T0,
    }
    fields.update(overrides)
    return Order(**fields)


@pytest.fixture
def lifecycle() -> Callable[..., Lifecycle]:
    def make(run_id: str | None = None, **overrides: Any) -> Lifecycle:
        return Lifecycle(make_order(**overrides), run_id=run_id)

    return make


@pytest.fixture
def signal_event() -> Callable[..., SignalEvent]:
    def make(
        direction: Direction = Direction.LONG,
        *,
        strategy: str = "macd_eth_1m",
        accepted: bool = True,
        reason: str | None = None,
    ) -> SignalEvent:
        signal = Signal(
            strategy=strategy,
            venue="hyperliquid",
            symbol="ETH-USD",
            direction=direction,
            timestamp=T0,
            source="enter long at macd_eth.rules:7",
            price=Decimal("2500"),
        )
        return SignalEvent(signal=signal, accepted=accepted, reason=reason)

    return make
