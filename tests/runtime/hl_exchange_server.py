"""A stateful local Hyperliquid on localhost sockets: ``/info``, ``/exchange`` and the websocket.

The crash/restart tests run it in the test process while ``spark-stacker run --live`` child
processes trade it through the real adapter, pointed here by the adapter's own settings
(``SPARKSTACKER_HYPERLIQUID_API_URL`` / ``…_WS_URL``). It outlives the children, so it really
remembers an order or a fill the engine never heard back about. The account itself (orders,
fills, positions, answers in the venue's format) is :mod:`hl_exchange_state`; this module serves
it, logs every request, and injects the faults:

* :meth:`LocalExchange.arm` ``("kill_after_accept")``: the next action holding an order that
  opens a position is executed, then the trading process is SIGKILLed before the answer leaves
  and before anything is pushed;
* :meth:`LocalExchange.arm` ``("slow_answer", delay=s)``: the same order is executed (and pushed
  at once, as the venue does) but answered only after ``s`` seconds — past the client's timeout;
* :meth:`LocalExchange.fire_trigger_and_kill`: a resting stop / take-profit fills, and the
  trading process is SIGKILLed before the fill is pushed.

A kill happens under the venue's lock and waits until the process is gone, so the venue answers
nothing in between. The websocket serves ``candle`` (one candle of venue time every
``push_every`` seconds: the candles ``hl_local`` serves), ``orderUpdates`` and ``userFills``
(with its snapshot on subscribe), and ``ping``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hl_exchange_state import LocalAccount, Push, VenueOrder
from hl_local import MINUTE, LoopbackVenue, candle_row


@dataclass
class Fault:
    kind: str  # kill_after_accept | slow_answer
    delay: float = 0.0
    fired: bool = False


@dataclass
class Request:
    path: str  # /info | /exchange
    kind: str  # the info type or the action type
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the point of these tests) is not a server error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalExchange(LoopbackVenue):
    """One Hyperliquid account on localhost. Every request is answered under one lock."""

    def __init__(self, *, push_every: float = 0.25) -> None:
        now = int(time.time() * 1000)
        self.start_ms = now - now % MINUTE
        self.push_every = push_every
        self.lock = threading.RLock()
        self.account = LocalAccount(mid=self.mid, venue_ms=self.venue_ms)
        self.requests: list[Request] = []
        self.target_pid: int | None = None  # the trading process a fault kills
        self._fault: Fault | None = None
        self._t0 = time.monotonic()
        self._user_queues: set[asyncio.Queue[str]] = set()
        super().__init__()
        self.server_class = _Server

    # ---- the market -------------------------------------------------------------------------

    def venue_ms(self) -> int:
        """The open time of the forming candle (venue time runs a minute per ``push_every``)."""
        return self.start_ms + MINUTE * int((time.monotonic() - self._t0) / self.push_every)

    def mid(self, coin: str) -> Decimal:
        return Decimal(candle_row(coin, self.venue_ms())["c"])

    # ---- what the test reads ----------------------------------------------------------------

    def open_orders(self, *, triggers: bool | None = None) -> list[VenueOrder]:
        with self.lock:
            return self.account.open_orders(triggers=triggers)

    def opening_orders(self) -> list[str]:
        """Cloids of the orders that were not reduce-only, in the order they arrived."""
        with self.lock:
            return [o.cloid or "" for o in self.account.orders.values() if not o.reduce_only]

    def position(self, coin: str = "ETH") -> Decimal:
        with self.lock:
            return self.account.position(coin)

    def request_kinds(self) -> list[tuple[str, Any]]:
        """(type, ``oid`` asked for or None) of every request, in arrival order."""
        with self.lock:
            return [(r.kind, r.body.get("oid")) for r in self.requests]

    def info_requests(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r.body for r in self.requests if r.path == "/info" and r.kind == kind]

    # ---- faults -----------------------------------------------------------------------------

    def arm(self, kind: str, *, delay: float = 0.0) -> None:
        """Fault on the next order action that opens a position (see the module docstring)."""
        with self.lock:
            self._fault = Fault(kind, delay)

    def fire_trigger_and_kill(self, tpsl: str) -> dict[str, Any]:
        """A resting ``sl`` / ``tp`` trigger fills; the process dies before hearing of it."""
        with self.lock:
            row = self.account.fire_trigger(tpsl)
            self._kill_target()
            return row

    def _kill_target(self) -> None:
        """SIGKILL the trading process and wait until it is gone (a zombie is gone enough)."""
        pid = self.target_pid
        if pid is None:
            raise RuntimeError("a fault fired but no target process was set")
        os.kill(pid, signal.SIGKILL)
        stat = Path(f"/proc/{pid}/stat")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                state = stat.read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return
            if state in ("Z", "X"):
                return
            time.sleep(0.005)
        raise RuntimeError(f"process {pid} survived SIGKILL")

    # ---- requests ---------------------------------------------------------------------------

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any, float]:
        """(HTTP status, JSON answer, seconds to hold the answer back) for one request."""
        with self.lock:
            if path == "/info":
                self.requests.append(Request(path, str(body.get("type")), body))
                try:
                    return 200, self.account.info(body), 0.0
                except LookupError as exc:
                    return 400, {"error": str(exc)}, 0.0
            if path != "/exchange":
                return 404, {"error": f"no such path {path}"}, 0.0
            action = body.get("action") or {}
            self.requests.append(Request(path, str(action.get("type")), body))
            pushes: list[Push] = []
            answer, opening = self.account.action(action, pushes)
            fault = self._fault
            delay = 0.0
            if opening and fault is not None and not fault.fired:
                fault.fired = True
                if fault.kind == "kill_after_accept":
                    self._kill_target()
                    return 200, answer, 0.0  # nobody is left to read it
                delay = fault.delay
            self._push(pushes)
            return 200, answer, delay

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        venue = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, answer, delay = venue.answer(self.path, body)
                if delay:
                    time.sleep(delay)  # executed already; the answer comes late
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except ConnectionError:
                    self.close_connection = True  # the client gave up or was killed

            def log_message(self, *_args: Any) -> None:
                return None

        return Handler

    # ---- websocket --------------------------------------------------------------------------

    def _push(self, messages: list[Push]) -> None:
        """Queue pushes, in order, for every session subscribed to the user's channels."""
        texts = [json.dumps(m) for m in messages]
        for queue in list(self._user_queues):
            for text in texts:
                self._loop.call_soon_threadsafe(queue.put_nowait, text)

    async def _session(self, ws: Any) -> None:
        import websockets

        queue: asyncio.Queue[str] = asyncio.Queue()

        async def sender() -> None:
            try:
                while True:
                    await ws.send(await queue.get())
            except websockets.ConnectionClosed:
                return

        tasks = [asyncio.create_task(sender())]
        try:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("method") == "ping":
                    queue.put_nowait(json.dumps({"channel": "pong"}))
                    continue
                if message.get("method") != "subscribe":
                    continue
                sub = message["subscription"]
                queue.put_nowait(json.dumps({"channel": "subscriptionResponse", "data": message}))
                if sub.get("type") == "candle":
                    tasks.append(asyncio.create_task(self._candles(queue, sub["coin"])))
                elif sub.get("type") in ("orderUpdates", "userFills", "userEvents"):
                    with self.lock:
                        if sub["type"] == "userFills":
                            account = self.account
                            snapshot = {"user": account.address, "isSnapshot": True}
                            data = {**snapshot, "fills": list(account.fills)}
                            queue.put_nowait(json.dumps({"channel": "userFills", "data": data}))
                        self._user_queues.add(queue)
        except websockets.ConnectionClosed:
            pass
        finally:
            with self.lock:
                self._user_queues.discard(queue)
            for task in tasks:
                task.cancel()

    async def _candles(self, queue: asyncio.Queue[str], coin: str) -> None:
        """The forming candle, each time a new one starts."""
        last = -1
        while True:
            t = self.venue_ms()
            if t != last:
                last = t
                queue.put_nowait(json.dumps({"channel": "candle", "data": candle_row(coin, t)}))
            await asyncio.sleep(self.push_every / 4)
