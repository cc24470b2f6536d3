"""Websocket: subscriptions, heartbeat, reconnect with backoff, and pushes → VenueEvents.

Why not the SDK's ``WebsocketManager``: it is a thread around ``websocket-client`` that never
reconnects (a dropped socket silently ends every subscription), has no way to re-subscribe or
resync, allows one ``userEvents``/``orderUpdates`` subscription per manager, and prints unknown
messages to stdout. This client runs on the engine's asyncio loop (``websockets``), pings every
``ping_interval`` (< 60 s: the server drops silent connections after 60 s), reconnects with
exponential backoff, re-subscribes everything, and calls a REST resync after every connect so a
fill that happened while the socket was down is still delivered (once: fills are deduped by id).

Event kinds delivered to ``on_event`` handlers (``VenueEvent.kind``):
``book`` (``book``), ``trade`` (``data["trade"]``), ``candle`` (``candle``), ``order`` (``report``
from ``orderUpdates`` / ``nonUserCancel``), ``fill`` (``report`` with one fill, and
``data["fill"]``), ``funding`` / ``liquidation`` (``data``), ``open_orders`` (``data["orders"]``
after a resync), ``connected`` / ``disconnected`` (``data["attempt"]``) and ``halted``
(``data["reason"]``). An order report never runs ahead of its fills: a terminal order update
is held back until the fills it implies were delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sparkstacker.errors import ExchangeFormatError
from sparkstacker.exchange import OrderReport, VenueEvent
from sparkstacker.model import ZERO, Fill, OrderStatus, from_millis
from sparkstacker_plugins.exchanges.hyperliquid.ids import external_client_id
from sparkstacker_plugins.exchanges.hyperliquid.parsing import (
    fill_from_row,
    parse_book,
    parse_candle_row,
    parse_trades,
    status_from_word,
)
from sparkstacker_plugins.exchanges.hyperliquid.retry import RetryPolicy
from sparkstacker_plugins.exchanges.hyperliquid.schemas import (
    WsFunding,
    WsOrderUpdate,
    WsUserFills,
    format_error,
    validate,
)
from sparkstacker_plugins.exchanges.hyperliquid.symbols import SymbolMap

log = logging.getLogger(__name__)
Emit = Callable[[VenueEvent], Awaitable[None]]
RECONNECT_BACKOFF = RetryPolicy(attempts=1_000_000, base_delay=0.5, factor=2.0, max_delay=30.0)


def subscription_key(subscription: dict[str, Any]) -> str:
    return json.dumps(subscription, sort_keys=True)


class HyperliquidStream:
    """One websocket connection that stays subscribed across drops."""

    def __init__(
        self,
        url: str,
        *,
        on_message: Callable[[dict[str, Any]], Awaitable[None]],
        on_connect: Callable[[int], Awaitable[None]] | None = None,
        on_disconnect: Callable[[int, str], Awaitable[None]] | None = None,
        ping_interval: float = 50.0,
        backoff: RetryPolicy = RECONNECT_BACKOFF,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0 < ping_interval < 60:
            raise ValueError("ping_interval must be under 60 s (the server drops silent sockets)")
        self.url = url
        self.on_message = on_message
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.ping_interval = ping_interval
        self.backoff = backoff
        self.sleep = sleep
        self._subscriptions: dict[str, dict[str, Any]] = {}
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connects = 0
        self.pings_sent = 0
        self.pongs = 0
        self.backoff_delays: list[float] = []
        self.acks: list[dict[str, Any]] = []
        self.connected = asyncio.Event()

    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        return list(self._subscriptions.values())

    async def subscribe(self, subscription: dict[str, Any]) -> None:
        key = subscription_key(subscription)
        if key in self._subscriptions:
            return
        self._subscriptions[key] = subscription
        if self._ws is not None:
            await self._send({"method": "subscribe", "subscription": subscription})

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="hl-stream")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if self._ws is not None:
            with contextlib.suppress(Exception):  # closing a socket that may already be dead
                await self._ws.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        attempt = 0
        while not self._stopping:
            reason = "closed by the server"
            try:
                async with connect(
                    self.url, ping_interval=None, open_timeout=10, max_size=2**24
                ) as ws:
                    self._ws = ws
                    for subscription in self._subscriptions.values():
                        await self._send({"method": "subscribe", "subscription": subscription})
                    self.connects += 1
                    self.connected.set()
                    if self.on_connect is not None:
                        await self.on_connect(self.connects)
                    pinger = asyncio.get_running_loop().create_task(self._ping(ws))
                    try:
                        async for message in ws:
                            attempt = 0
                            await self._dispatch(message)
                    finally:
                        pinger.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await pinger
            except (OSError, WebSocketException, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:
                # A bug in a callback must not end the stream silently: log it in full and
                # reconnect like after any other failure.
                log.exception("hyperliquid websocket loop failed")
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
                self.connected.clear()
            if self._stopping:
                break
            attempt += 1
            delay = self.backoff.delay(attempt)
            self.backoff_delays.append(delay)
            log.warning("hyperliquid websocket down (%s); reconnecting in %.1fs", reason, delay)
            if self.on_disconnect is not None:
                await self.on_disconnect(attempt, reason)
            await self.sleep(delay)

    async def _ping(self, ws: Any) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            await ws.send(json.dumps({"method": "ping"}))
            self.pings_sent += 1

    async def _dispatch(self, message: str | bytes) -> None:
        text = message.decode() if isinstance(message, bytes) else message
        try:
            data = json.loads(text)
        except ValueError:
            log.debug("hyperliquid websocket text message: %s", text[:200])
            return
        if not isinstance(data, dict):
            log.warning("hyperliquid websocket message is not an object: %s", text[:200])
            return
        channel = data.get("channel")
        if channel == "pong":
            self.pongs += 1
            return
        if channel == "subscriptionResponse":
            self.acks.append(data.get("data") or {})
            return
        if channel == "error":
            log.warning("hyperliquid websocket error: %s", str(data.get("data"))[:300])
            return
        await self.on_message(data)


# ---- translation -----------------------------------------------------------------------------


class OrderIds:
    """cloid → client order id and oid → client order id, learned as orders come and go."""

    def __init__(self) -> None:
        self.by_cloid: dict[str, str] = {}
        self.by_oid: dict[int, str] = {}

    def remember(self, client_order_id: str, cloid: str, oid: int | str | None = None) -> None:
        self.by_cloid[cloid] = client_order_id
        if oid is not None:
            self.by_oid[int(oid)] = client_order_id

    def client_id(self, oid: int, cloid: str | None) -> str:
        if cloid and cloid in self.by_cloid:
            return self.by_cloid[cloid]
        if oid in self.by_oid:
            return self.by_oid[oid]
        return external_client_id(oid, cloid)


class FillLedger:
    """Which fills were delivered (by fill id, bounded) and how much each order filled."""

    def __init__(self, max_fills: int = 100_000) -> None:
        self.max_fills = max_fills
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._filled: dict[str, Decimal] = {}
        self.last_time_ms = 0
        self.duplicates = 0

    def add(self, fill: Fill) -> bool:
        """Record a fill; False when it was already delivered."""
        if fill.fill_id in self._seen:
            self.duplicates += 1
            return False
        self._seen[fill.fill_id] = None
        if len(self._seen) > self.max_fills:
            self._seen.popitem(last=False)
        oid = fill.venue_order_id or ""
        self._filled[oid] = self._filled.get(oid, ZERO) + fill.size
        self.last_time_ms = max(self.last_time_ms, int(fill.timestamp.timestamp() * 1000))
        return True

    def filled(self, oid: str) -> Decimal:
        return self._filled.get(oid, ZERO)


class StreamTranslator:
    """Hyperliquid pushes → VenueEvents, with fill dedupe and fill-before-status ordering."""

    def __init__(
        self,
        *,
        venue: str,
        account: str,
        symbols: Callable[[], SymbolMap],
        ids: OrderIds,
        ledger: FillLedger,
        emit: Emit,
        halt: Callable[[str], None],
        now: Callable[[], datetime],
        watermark_ms: int,
    ) -> None:
        self.venue = venue
        self.account = account
        self.symbols = symbols
        self.ids = ids
        self.ledger = ledger
        self.emit = emit
        self.halt = halt
        self.now = now
        self.watermark_ms = watermark_ms
        self._held: dict[str, OrderReport] = {}

    async def handle(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        data = message.get("data")
        try:
            if channel == "l2Book":
                book = parse_book(data, self.symbols(), venue=self.venue)
                await self._event("book", book=book, symbol=book.symbol, timestamp=book.timestamp)
            elif channel == "trades":
                for trade in parse_trades(data, self.symbols(), venue=self.venue):
                    await self._event(
                        "trade",
                        symbol=trade.symbol,
                        data={"trade": trade},
                        timestamp=trade.timestamp,
                    )
            elif channel == "candle":
                coin, interval, candle = parse_candle_row(data)
                symbol = self.symbols().symbol_for_coin(coin, "candle", "s")
                await self._event(
                    "candle", candle=candle, symbol=symbol, data={"interval": interval}
                )
            elif channel == "orderUpdates":
                await self._order_updates(data)
            elif channel == "userFills":
                raw = validate(WsUserFills, data, "userFills(ws)")
                await self._fills(
                    raw.fills, snapshot=bool(raw.isSnapshot), endpoint="userFills(ws)"
                )
            elif channel == "user":
                await self._user_event(data)
            else:
                log.debug("hyperliquid websocket channel %r ignored", channel)
        except ExchangeFormatError as exc:
            self.halt(str(exc))
            await self._event("halted", data={"reason": str(exc)})

    async def _event(self, kind: str, *, timestamp: datetime | None = None, **fields: Any) -> None:
        await self.emit(
            VenueEvent(kind=kind, venue=self.venue, timestamp=timestamp or self.now(), **fields)
        )

    async def _fills(self, rows: list[Any], *, snapshot: bool, endpoint: str) -> None:
        symbols = self.symbols()
        fills = [
            fill_from_row(
                row,
                symbols,
                venue=self.venue,
                account=self.account,
                client_ids=self.ids.by_cloid,
                endpoint=endpoint,
                path=f"fills[{i}]",
            )
            for i, row in enumerate(rows)
        ]
        for fill in sorted(fills, key=lambda f: f.timestamp):
            if snapshot and int(fill.timestamp.timestamp() * 1000) < self.watermark_ms:
                self.ledger.add(fill)  # history from before this run: known, not news
                continue
            await self.deliver_fill(fill)

    async def deliver_fill(self, fill: Fill) -> None:
        """Emit a fill once (deduped), then any order report that was waiting for it."""
        if not self.ledger.add(fill):
            return
        oid = fill.venue_order_id or ""
        client_id = fill.client_order_id or self.ids.client_id(int(oid), None)
        if fill.client_order_id is None:
            fill = fill.model_copy(update={"client_order_id": client_id})
        report = OrderReport(
            client_order_id=client_id,
            venue_order_id=oid,
            status=OrderStatus.PARTIALLY_FILLED,
            filled_size=fill.size,
            avg_fill_price=fill.price,
            reason="fill",
            fills=(fill,),
            timestamp=fill.timestamp,
        )
        await self._event(
            "fill", report=report, symbol=fill.symbol, data={"fill": fill}, timestamp=fill.timestamp
        )
        await self.release(oid)

    async def release(self, oid: str) -> None:
        held = self._held.get(oid)
        if held is not None and self.ledger.filled(oid) >= held.filled_size:
            del self._held[oid]
            await self._event("order", report=held, timestamp=held.timestamp)

    async def release_all(self) -> None:
        for oid in list(self._held):
            await self.release(oid)

    async def _order_updates(self, data: Any) -> None:
        updates = validate(list[WsOrderUpdate], data, "orderUpdates")
        for i, update in enumerate(updates):
            row = update.order
            filled = row.origSz - row.sz
            if filled < 0:
                raise format_error("orderUpdates", f"[{i}].order.sz", "remaining exceeds origSz")
            status, reason = status_from_word(
                update.status,
                filled=filled,
                size=row.origSz,
                tif=None,
                endpoint="orderUpdates",
                path=f"[{i}].status",
            )
            report = OrderReport(
                client_order_id=self.ids.client_id(row.oid, row.cloid),
                venue_order_id=str(row.oid),
                status=status,
                filled_size=filled,
                reason=reason,
                timestamp=from_millis(update.statusTimestamp),
            )
            oid = str(row.oid)
            if filled > self.ledger.filled(oid):
                self._held[oid] = report  # fills first, then the status
                continue
            await self._event("order", report=report, timestamp=report.timestamp)

    async def _user_event(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise format_error("user", "", "expected an object")
        if "fills" in data:
            raw = validate(WsUserFills, {"fills": data["fills"]}, "user")
            await self._fills(raw.fills, snapshot=False, endpoint="user")
        if "funding" in data:
            funding = validate(WsFunding, data["funding"], "user", prefix="funding")
            symbol = self.symbols().symbol_for_coin(funding.coin, "user", "funding.coin")
            await self._event(
                "funding",
                symbol=symbol,
                data={"usdc": funding.usdc, "size": funding.szi, "rate": funding.fundingRate},
            )
        if "liquidation" in data:
            await self._event("liquidation", data={"liquidation": data["liquidation"]})
        if "nonUserCancel" in data:
            cancels = data["nonUserCancel"]
            if not isinstance(cancels, list):
                raise format_error("user", "nonUserCancel", "expected a list")
            for j, item in enumerate(cancels):
                if not isinstance(item, dict) or not isinstance(item.get("oid"), int):
                    raise format_error("user", f"nonUserCancel[{j}].oid", "expected an integer")
                oid = item["oid"]
                report = OrderReport(
                    client_order_id=self.ids.client_id(oid, None),
                    venue_order_id=str(oid),
                    status=OrderStatus.CANCELLED,
                    reason="nonUserCancel",
                    timestamp=self.now(),
                )
                await self._event("order", report=report)
