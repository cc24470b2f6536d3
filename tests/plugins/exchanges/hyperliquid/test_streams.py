"""The websocket against a real websocket server on localhost speaking Hyperliquid's shapes.

The server drops the connection mid-stream; the adapter must reconnect with backoff,
re-subscribe, resync over REST, deliver every fill exactly once (snapshot, live and REST
overlap) and never let an order's terminal status run ahead of its fills.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sparkstacker.exchange import VenueEvent
from sparkstacker.model import OrderStatus
from sparkstacker_plugins.exchanges.hyperliquid.streams import HyperliquidStream

D = Decimal
MASTER = "0x" + "ab" * 20
WATERMARK = 1767225600000  # the fake clock's start: stream start time


def fill(tid: int, oid: int, sz: str, time: int, px: str = "2500.0") -> dict[str, Any]:
    return {
        "coin": "ETH",
        "px": px,
        "sz": sz,
        "side": "B",
        "time": time,
        "startPosition": "0.0",
        "dir": "Open Long",
        "closedPnl": "0.0",
        "hash": f"0x{tid:064x}",
        "oid": oid,
        "crossed": True,
        "fee": "0.01",
        "tid": tid,
        "feeToken": "USDC",
    }


BOOK = {
    "coin": "ETH",
    "time": WATERMARK + 50,
    "levels": [[{"px": "2499.9", "sz": "1.0", "n": 2}], [{"px": "2500.1", "sz": "2.0", "n": 1}]],
}
ORDER_FILLED = [
    {
        "order": {
            "coin": "ETH",
            "side": "B",
            "limitPx": "2501.0",
            "sz": "0.0",
            "oid": 700,
            "timestamp": WATERMARK,
            "origSz": "0.02",
        },
        "status": "filled",
        "statusTimestamp": WATERMARK + 200,
    }
]


class FakeHyperliquidWs:
    """Connection 1 streams and is dropped mid-stream; connection 2 replays a snapshot."""

    def __init__(self) -> None:
        self.connections = 0
        self.subscriptions: list[list[dict[str, Any]]] = []
        self.pings = 0
        self.done = asyncio.Event()

    async def handler(self, ws: Any) -> None:
        self.connections += 1
        number = self.connections
        subs: list[dict[str, Any]] = []
        self.subscriptions.append(subs)
        await ws.send("Websocket connection established.")
        while len(subs) < 4:  # orderUpdates, userFills, userEvents, l2Book
            message = json.loads(await ws.recv())
            if message.get("method") == "subscribe":
                subs.append(message["subscription"])
                ack = {"method": "subscribe", "subscription": message["subscription"]}
                await ws.send(json.dumps({"channel": "subscriptionResponse", "data": ack}))

        async def push(channel: str, data: Any) -> None:
            await ws.send(json.dumps({"channel": channel, "data": data}))

        if number == 1:
            await push(
                "userFills",
                {
                    "isSnapshot": True,
                    "user": MASTER,
                    "fills": [
                        fill(1, 690, "0.5", WATERMARK - 100_000),  # history: before the start
                        fill(2, 699, "0.01", WATERMARK + 10),
                    ],
                },
            )
            await push("l2Book", BOOK)
            await push("orderUpdates", ORDER_FILLED)  # terminal before its fills arrived
            await push(
                "userFills", {"user": MASTER, "fills": [fill(3, 700, "0.01", WATERMARK + 100)]}
            )
            await asyncio.sleep(0.05)
            ws.transport.abort()  # drop mid-stream, no close frame
            return
        await push(
            "userFills",
            {
                "isSnapshot": True,
                "user": MASTER,
                "fills": [
                    fill(1, 690, "0.5", WATERMARK - 100_000),
                    fill(2, 699, "0.01", WATERMARK + 10),
                    fill(3, 700, "0.01", WATERMARK + 100),
                    fill(4, 700, "0.01", WATERMARK + 150, px="2500.2"),
                ],
            },
        )
        await push(
            "user",
            {
                "funding": {
                    "time": WATERMARK + 3_600_000,
                    "coin": "ETH",
                    "usdc": "-0.0125",
                    "szi": "0.02",
                    "fundingRate": "0.0000125",
                }
            },
        )
        while True:  # answer pings; the last push waits for one
            message = json.loads(await ws.recv())
            if message == {"method": "ping"}:
                self.pings += 1
                await ws.send(json.dumps({"channel": "pong"}))
                break
        await push(
            "trades",
            [
                {
                    "coin": "ETH",
                    "side": "A",
                    "px": "2500.0",
                    "sz": "0.3",
                    "hash": "0x01",
                    "time": WATERMARK + 500,
                    "tid": 77,
                    "users": [MASTER, MASTER],
                }
            ],
        )
        await self.done.wait()


async def _serve(server: Any, scenario: Callable[[str], Any]) -> Any:
    from websockets.asyncio.server import serve

    async with serve(server.handler, "127.0.0.1", 0) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        return await scenario(f"ws://127.0.0.1:{port}")


def test_stream_survives_a_drop_with_every_fill_once_and_statuses_after_fills(
    make_exchange: Callable[..., Any], replay: Any, own: Callable[[str], Path]
) -> None:
    server = FakeHyperliquidWs()
    events: list[VenueEvent] = []

    async def scenario(url: str) -> Any:
        exchange = make_exchange(ws_url=url, ping_interval=0.05)
        with replay(own("meta_testnet")):
            await exchange.markets()
        replay.sent.clear()
        got_trade = asyncio.Event()

        async def handler(event: VenueEvent) -> None:
            events.append(event)
            if event.kind == "trade":
                got_trade.set()

        exchange.on_event(handler)
        with replay(own("stream_resync")):
            stream = await exchange.start_stream()
            await exchange.subscribe_market("ETH-USD", book=True)
            await asyncio.wait_for(got_trade.wait(), timeout=20)
        server.done.set()
        await exchange.close()
        return exchange, stream

    exchange, stream = asyncio.run(_serve(server, scenario))
    kinds = [e.kind for e in events]
    fills = [e.data["fill"] for e in events if e.kind == "fill"]
    # Every fill exactly once: snapshot (2), live (3), missed while down via REST (5), replayed
    # snapshot after the reconnect (4 new; 1-3 duplicates). Tid 1 predates the run: not news.
    assert [f.fill_id for f in fills] == ["2", "3", "5", "4"]
    assert exchange.ledger.duplicates >= 3
    # The terminal "filled" for oid 700 came before its fills: it is delivered after both.
    order_events = [e for e in events if e.kind == "order"]
    assert len(order_events) == 1
    assert order_events[0].report.status is OrderStatus.FILLED
    position = kinds.index("order")
    last_700_fill = max(
        i
        for i, e in enumerate(events)
        if e.kind == "fill" and e.data["fill"].venue_order_id == "700"
    )
    assert position > last_700_fill
    # Reconnected: two connections, identical subscriptions re-sent, backoff used, REST resync.
    assert server.connections == 2
    assert server.subscriptions[0] == server.subscriptions[1]
    assert {s["type"] for s in server.subscriptions[0]} == {
        "orderUpdates",
        "userFills",
        "userEvents",
        "l2Book",
    }
    assert all(s.get("user", MASTER) == MASTER for s in server.subscriptions[0])
    assert stream.backoff_delays == [0.5]
    assert kinds.count("connected") == 2
    assert kinds.count("disconnected") == 1
    assert replay.kinds() == ["userFillsByTime", "frontendOpenOrders"] * 2
    resynced = [e for e in events if e.kind == "open_orders"]
    assert [len(e.data["orders"]) for e in resynced] == [0, 1]
    assert resynced[1].data["orders"][0].filled_size == D("0.005")
    # Market data and user events became typed events.
    book = next(e for e in events if e.kind == "book")
    assert book.book.best_bid == D("2499.9")
    assert book.symbol == "ETH-USD"
    funding = next(e for e in events if e.kind == "funding")
    assert funding.data["usdc"] == D("-0.0125")
    trade = next(e for e in events if e.kind == "trade")
    assert trade.data["trade"].price == D("2500.0")
    # Heartbeat: pings went out and were answered.
    assert server.pings >= 1
    assert stream.pings_sent >= 1
    assert stream.pongs >= 1
    assert exchange.halted is None


class RefusingWs:
    """1 and 5 are healthy (a message) then dropped; 2-4 are dropped without a word; 6 stays."""

    def __init__(self) -> None:
        self.connections = 0
        self.up = asyncio.Event()

    async def handler(self, ws: Any) -> None:
        self.connections += 1
        if self.connections in (2, 3, 4):
            ws.transport.abort()
            return
        await ws.send(json.dumps({"channel": "subscriptionResponse", "data": {}}))
        if self.connections in (1, 5):
            await asyncio.sleep(0.02)
            ws.transport.abort()
            return
        self.up.set()
        with contextlib.suppress(Exception):
            await ws.wait_closed()


def test_reconnect_backoff_is_exponential_and_resets_after_a_healthy_connection(
    make_exchange: Callable[..., Any], replay: Any, own: Callable[[str], Path]
) -> None:
    server = RefusingWs()

    async def scenario(url: str) -> Any:
        exchange = make_exchange(ws_url=url)
        with replay(own("meta_testnet")):
            await exchange.markets()
        with replay(own("stream_resync_empty"), allow_playback_repeats=True):
            stream = await exchange.start_stream()
            await asyncio.wait_for(server.up.wait(), timeout=20)
            await asyncio.wait_for(stream.connected.wait(), timeout=20)
        await exchange.close()
        return stream

    stream = asyncio.run(_serve(server, scenario))
    assert server.connections == 6
    assert stream.backoff_delays == [0.5, 1.0, 2.0, 4.0, 0.5]


def test_ping_interval_must_stay_under_the_servers_60_seconds() -> None:
    async def noop(_: Any) -> None:
        return None

    with pytest.raises(ValueError, match="under 60"):
        HyperliquidStream("ws://127.0.0.1:1", on_message=noop, ping_interval=60)
    assert HyperliquidStream("ws://127.0.0.1:1", on_message=noop).ping_interval < 60


def test_a_malformed_push_halts_trading_and_says_why(
    make_exchange: Callable[..., Any], replay: Any, own: Callable[[str], Path]
) -> None:
    from sparkstacker_plugins.exchanges.hyperliquid.streams import (
        FillLedger,
        OrderIds,
        StreamTranslator,
    )

    exchange = make_exchange()
    with replay(own("meta_testnet")):
        asyncio.run(exchange.markets())
    events: list[VenueEvent] = []

    async def emit(event: VenueEvent) -> None:
        events.append(event)

    translator = StreamTranslator(
        venue="hyperliquid",
        account="main",
        symbols=exchange._require_symbols,
        ids=OrderIds(),
        ledger=FillLedger(),
        emit=emit,
        halt=exchange.halt,
        now=exchange.clock.now,
        watermark_ms=WATERMARK,
    )
    bad = {
        "coin": "ETH",
        "time": 1,
        "levels": [[{"px": "2500.1", "sz": "1", "n": 1}], [{"px": "2499.9", "sz": "1", "n": 1}]],
    }
    asyncio.run(translator.handle({"channel": "l2Book", "data": bad}))
    assert [e.kind for e in events] == ["halted"]
    assert "crossed" in events[0].data["reason"]
    assert exchange.halted is not None
