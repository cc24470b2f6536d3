"""A retry after an ambiguous failure never doubles an order; signers never reuse a nonce.

These run the real SDK against a real HTTP server on localhost that can drop a connection after
reading the request — the one failure a cassette cannot replay.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sparkstacker.exchange import LeverageSetting
from sparkstacker.model import MarginMode, Order, OrderStatus, Side
from sparkstacker_plugins.exchanges.hyperliquid.ids import cloid_for
from sparkstacker_plugins.exchanges.hyperliquid.testing import body_kind

D = Decimal
META = {
    "universe": [
        {"name": "SOL", "szDecimals": 2, "maxLeverage": 20},
        {"name": "APT", "szDecimals": 2, "maxLeverage": 10},
        {"name": "ATOM", "szDecimals": 2, "maxLeverage": 10},
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 40},
        {"name": "ETH", "szDecimals": 4, "maxLeverage": 25},
    ]
}
DROP = "drop"
HEDGE = "0x" + "cd" * 20


def resting(oid: int) -> dict[str, Any]:
    return {
        "status": "ok",
        "response": {"type": "order", "data": {"statuses": [{"resting": {"oid": oid}}]}},
    }


def open_record(oid: int, cloid: str) -> dict[str, Any]:
    return {
        "status": "order",
        "order": {
            "order": {
                "coin": "ETH",
                "side": "B",
                "limitPx": "2400.0",
                "sz": "0.01",
                "oid": oid,
                "timestamp": 1767225600000,
                "triggerCondition": "N/A",
                "isTrigger": False,
                "triggerPx": "0.0",
                "children": [],
                "isPositionTpsl": False,
                "reduceOnly": False,
                "orderType": "Limit",
                "origSz": "0.01",
                "tif": "Gtc",
                "cloid": cloid,
            },
            "status": "open",
            "statusTimestamp": 1767225600000,
        },
    }


class ScriptedVenue:
    """A localhost HTTP server answering each request from a script, or dropping it."""

    def __init__(self) -> None:
        self.script: list[tuple[str, Any]] = []
        self.seen: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        venue = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                kind = (
                    f"exchange:{body['action']['type']}"
                    if self.path == "/exchange"
                    else body.get("type")
                )
                with venue.lock:
                    venue.seen.append(body)
                    if not venue.script:
                        venue.errors.append(f"unexpected request {kind}")
                        expected, answer = kind, {"status": "err", "response": "unscripted"}
                    else:
                        expected, answer = venue.script.pop(0)
                if expected != kind:
                    venue.errors.append(f"expected {expected}, got {kind}")
                if answer == DROP:
                    self.close_connection = True
                    self.connection.close()  # request read, no answer: ambiguous for the client
                    return
                status, payload = answer if isinstance(answer, tuple) else (200, answer)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def kinds(self) -> list[str]:
        return [body_kind(b) for b in self.seen]


@pytest.fixture
def venue() -> Iterator[ScriptedVenue]:
    server = ScriptedVenue()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    assert server.errors == []


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def order(client_order_id: str = "c-amb") -> Order:
    return Order(
        client_order_id=client_order_id,
        venue="hyperliquid",
        symbol="ETH-USD",
        side=Side.BUY,
        price=D("2400"),
        size=D("0.01"),
        leverage=D(3),
    )


@pytest.fixture
def local(make_exchange: Callable[..., Any], venue: ScriptedVenue) -> Any:
    venue.script.append(("meta", META))
    exchange = make_exchange(api_url=venue.url)
    run(exchange.markets())
    exchange.leverage_guard.confirm(
        LeverageSetting(symbol="ETH-USD", leverage=D(3), margin_mode=MarginMode.ISOLATED)
    )
    venue.seen.clear()
    return exchange


def test_dropped_order_found_by_cloid_is_not_sent_again(
    local: Any, venue: ScriptedVenue, clock: Any
) -> None:
    cloid = cloid_for("c-amb")
    venue.script += [("exchange:order", DROP), ("orderStatus", open_record(555, cloid))]
    report = run(local.submit(order()))
    assert report.status is OrderStatus.ACCEPTED
    assert report.venue_order_id == "555"
    assert venue.kinds() == ["exchange:order", "orderStatus"]  # exactly one order sent
    assert venue.seen[1]["oid"] == cloid
    # It waited for the order's expiresAfter to pass before asking (it can no longer land).
    sent = venue.seen[0]
    assert sent["expiresAfter"] - sent["nonce"] == 10_000
    assert clock.sleeps[0] >= local.settings.order_expiry_seconds


def test_expires_after_counts_from_the_signed_nonce_even_across_a_millisecond(
    local: Any, venue: ScriptedVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every clock reading here is a new millisecond: one reading must give nonce and expiry."""
    from sparkstacker_plugins.exchanges.hyperliquid import client

    ticks = itertools.count(int(time.time() * 1000) + 1)
    monkeypatch.setattr(client, "_wall_ms", lambda: next(ticks))
    venue.script.append(("exchange:order", resting(557)))
    report = run(local.submit(order()))
    assert report.status is OrderStatus.ACCEPTED
    sent = venue.seen[0]
    assert sent["expiresAfter"] - sent["nonce"] == 10_000


@pytest.mark.parametrize("failure", [DROP, (502, {"error": "bad gateway"})])
def test_unknown_after_an_ambiguous_failure_is_resent_with_the_same_cloid(
    local: Any, venue: ScriptedVenue, failure: Any
) -> None:
    venue.script += [
        ("exchange:order", failure),
        ("orderStatus", {"status": "unknownOid"}),
        ("exchange:order", resting(556)),
    ]
    report = run(local.submit(order()))
    assert report.status is OrderStatus.ACCEPTED
    assert report.venue_order_id == "556"
    assert venue.kinds() == ["exchange:order", "orderStatus", "exchange:order"]
    first, second = venue.seen[0], venue.seen[2]
    assert (
        first["action"]["orders"][0]["c"]
        == second["action"]["orders"][0]["c"]
        == cloid_for("c-amb")
    )
    assert second["nonce"] > first["nonce"]


def test_concurrent_orders_from_two_accounts_sharing_an_agent_never_share_a_nonce(
    make_exchange: Callable[..., Any], venue: ScriptedVenue
) -> None:
    venue.script += [("meta", META), ("meta", META)]
    main = make_exchange(api_url=venue.url)
    hedge = make_exchange(
        "hyperliquid.hedge", api_url=venue.url, account="hedge", sub_accounts={"hedge": HEDGE}
    )
    for exchange in (main, hedge):
        run(exchange.markets())
        exchange.leverage_guard.confirm(
            LeverageSetting(symbol="ETH-USD", leverage=D(3), margin_mode=MarginMode.ISOLATED)
        )
    venue.seen.clear()
    venue.script += [("exchange:order", resting(600 + i)) for i in range(8)]

    async def both() -> list[Any]:
        orders = [
            (main if i % 2 == 0 else hedge).submit(
                order(f"c-{i}").model_copy(
                    update={"venue": "hyperliquid" if i % 2 == 0 else "hyperliquid.hedge"}
                )
            )
            for i in range(8)
        ]
        return await asyncio.gather(*orders)

    reports = run(both())
    assert all(r.status is OrderStatus.ACCEPTED for r in reports)
    nonces = [b["nonce"] for b in venue.seen]
    assert len(set(nonces)) == 8
    assert nonces == sorted(nonces)
    vaults = {b["action"]["orders"][0]["c"]: b["vaultAddress"] for b in venue.seen}
    assert vaults[cloid_for("c-0")] is None
    assert vaults[cloid_for("c-1")] == HEDGE


def test_a_dropped_modify_is_looked_up_not_repeated(local: Any, venue: ScriptedVenue) -> None:
    resting_order = order().model_copy(
        update={"venue_order_id": "555", "status": OrderStatus.ACCEPTED}
    )
    venue.script += [
        ("exchange:batchModify", DROP),
        ("orderStatus", open_record(777, cloid_for("c-amb"))),
    ]
    report = run(local.modify(resting_order, price=D("2390")))
    assert report.status is OrderStatus.ACCEPTED
    assert report.venue_order_id == "777"
    assert venue.kinds() == ["exchange:batchModify", "orderStatus"]
