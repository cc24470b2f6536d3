"""A local stand-in for Hyperliquid's public market data, on real localhost sockets.

The paper runtime's ``--feed hyperliquid`` path runs unchanged against it through the adapter's
own ``api_url`` / ``ws_url`` settings: ``POST /info`` answers ``meta`` with the recorded
testnet-shaped response of tests/cassettes/hyperliquid_exchange/meta_testnet.yaml and
``candleSnapshot`` with candles in the venue's row format; the websocket accepts
``{"method": "subscribe", …}`` and pushes ``candle`` channel messages (one candle a minute of
*its* time, several a second of ours), ``ping`` gets ``pong`` — the wire format of
shared/research/hyperliquid.md. Only public market data: no order goes here.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import yaml

CASSETTE = (
    Path(__file__).resolve().parents[1] / "cassettes" / "hyperliquid_exchange" / "meta_testnet.yaml"
)
MINUTE = 60_000


def meta_body() -> str:
    data = yaml.safe_load(CASSETTE.read_text())
    [interaction] = data["interactions"]
    return str(interaction["response"]["body"]["string"])


def candle_row(coin: str, t: int) -> dict[str, Any]:
    """A deterministic candle for minute ``t`` (prices on ETH's tick, 4 size decimals)."""
    k = t // MINUTE
    base = 2500 + (k % 37) - 18 + ((k * 7919) % 11) * 0.5
    o = round(base, 1)
    c = round(base + ((k * 31) % 9 - 4) * 0.7, 1)
    h = round(max(o, c) + 1.3, 1)
    lo = round(min(o, c) - 1.1, 1)
    return {
        "t": t,
        "T": t + MINUTE - 1,
        "s": coin,
        "i": "1m",
        "o": str(o),
        "c": str(c),
        "h": str(h),
        "l": str(lo),
        "v": "250.5",
        "n": 40,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class LoopbackVenue:
    """A venue on localhost: HTTP (``_handler``) and a websocket (``_session``), each served
    from its own thread for the block of :meth:`running`."""

    def __init__(self) -> None:
        self.http_port = 0
        self.ws_port = 0
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self.server_class: type[ThreadingHTTPServer] = _Server

    @property
    def env(self) -> dict[str, str]:
        """The adapter settings that point a child process here."""
        return {
            "SPARKSTACKER_HYPERLIQUID_API_URL": f"http://127.0.0.1:{self.http_port}",
            "SPARKSTACKER_HYPERLIQUID_WS_URL": f"ws://127.0.0.1:{self.ws_port}/ws",
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    async def _session(self, ws: Any) -> None:
        raise NotImplementedError

    async def _serve_ws(self, ready: threading.Event) -> None:
        import websockets

        self._stop = asyncio.Event()
        async with websockets.serve(self._session, "127.0.0.1", 0) as server:
            self.ws_port = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            await self._stop.wait()

    @contextmanager
    def running(self) -> Iterator[Self]:
        http = self.server_class(("127.0.0.1", 0), self._handler())
        self.http_port = http.server_address[1]
        http_thread = threading.Thread(target=http.serve_forever, daemon=True)
        http_thread.start()
        ready = threading.Event()
        ws_thread = threading.Thread(
            target=lambda: self._loop.run_until_complete(self._serve_ws(ready)), daemon=True
        )
        ws_thread.start()
        if not ready.wait(10):
            raise RuntimeError("the local venue's websocket did not start")
        try:
            yield self
        finally:
            if self._stop is not None:
                self._loop.call_soon_threadsafe(self._stop.set)
            ws_thread.join(5)
            http.shutdown()
            http.server_close()


class LocalHyperliquid(LoopbackVenue):
    """``start_ms`` is the first pushed candle; candles before it are history."""

    def __init__(self, start_ms: int, *, push_every: float = 0.15) -> None:
        self.start_ms = start_ms
        self.push_every = push_every
        self.pushed: list[dict[str, Any]] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.info_requests: list[dict[str, Any]] = []
        super().__init__()

    # ---- REST ---------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        venue = self
        meta = meta_body()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                venue.info_requests.append(request)
                if self.path != "/info":
                    self.send_error(404)
                    return
                if request.get("type") == "meta":
                    body = meta
                elif request.get("type") == "candleSnapshot":
                    req = request["req"]
                    lo = req["startTime"] - req["startTime"] % MINUTE
                    hi = min(req["endTime"], venue.start_ms)
                    body = json.dumps([candle_row(req["coin"], t) for t in range(lo, hi, MINUTE)])
                else:
                    self.send_error(400, "unsupported request")
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return None

        return Handler

    # ---- websocket ----------------------------------------------------------------------------

    async def _session(self, ws: Any) -> None:
        pusher: asyncio.Task[None] | None = None
        async for raw in ws:
            message = json.loads(raw)
            if message.get("method") == "ping":
                await ws.send(json.dumps({"channel": "pong"}))
            elif message.get("method") == "subscribe":
                sub = message["subscription"]
                self.subscriptions.append(sub)
                await ws.send(json.dumps({"channel": "subscriptionResponse", "data": message}))
                if sub.get("type") == "candle" and pusher is None:
                    pusher = asyncio.create_task(self._push(ws, sub["coin"]))

    async def _push(self, ws: Any, coin: str) -> None:
        t = self.start_ms
        while True:
            row = candle_row(coin, t)
            self.pushed.append(row)
            await ws.send(json.dumps({"channel": "candle", "data": row}))
            t += MINUTE
            await asyncio.sleep(self.push_every)
