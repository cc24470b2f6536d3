"""What live venues push while a run goes: order reports, fills, funding, reconnects, halts.

Each venue's pushed events are applied under the runtime's engine lock, so they never interleave
with a bar being handled. An order report the engine cannot place, and every reconnect after
the first connection, start a reconciliation of that venue (:mod:`.recovery`). Account state is
read from the venues every balance interval and re-anchors the engine's equity.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from sparkstacker.errors import ExchangeError
from sparkstacker.exchange import VenueEvent
from sparkstacker.runtime.feeds import CandleFeed

if TYPE_CHECKING:
    from sparkstacker.runtime.runtime import Runtime

log = logging.getLogger("sparkstacker.runtime.live")


class LiveEvents:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._tasks: set[asyncio.Task[Any]] = set()
        self._next_account_read = 0.0

    def subscribe(self) -> None:
        for name, venue in self.rt.venues.items():
            venue.on_event(self.handler(name))

    def handler(self, name: str) -> Callable[[VenueEvent], Coroutine[Any, Any, None]]:
        async def handle(event: VenueEvent) -> None:
            engine = self.rt.engine
            if engine is None:
                return
            kind = event.kind
            if kind == "candle":
                if isinstance(self.rt.feed, CandleFeed):
                    self.rt.feed.on_event(event)
                return
            if kind in ("order", "fill") and event.report is not None:
                async with self.rt.engine_lock:
                    try:
                        await engine.handle_events([event.model_copy(update={"kind": "order"})])
                    except ExchangeError as exc:
                        log.warning("%s: %s; reconciling", name, exc)
                        self.spawn(self.reconcile(name))
            elif kind in ("funding", "liquidation"):
                async with self.rt.engine_lock:
                    await engine.handle_events([event])
            elif kind == "connected" and int(event.data.get("connects", 1)) > 1:
                if self.rt.observers is not None:
                    self.rt.observers.plugin.record_reconnect(venue=name)
                self.spawn(self.reconcile(name))
            elif kind == "halted":
                reason = str(event.data.get("reason", "venue halted"))
                engine.orders.halt_venue(name, reason)
                engine.record_risk_event(
                    "venue_halted", "critical", f"{name}: {reason}", venue=name
                )

        return handle

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reconcile(self, name: str) -> None:
        reconciler = self.rt.reconciler
        if reconciler is None:
            return
        async with self.rt.engine_lock:
            report = await reconciler.reconnect(name)
        for line in report.lines():
            log.info("reconciliation after reconnect of %s: %s", name, line)

    async def read_accounts(self) -> None:
        """The venues' own account state, re-anchoring equity, every balance interval."""
        now = time.monotonic()
        engine, observers = self.rt.engine, self.rt.observers
        if now < self._next_account_read or engine is None or observers is None:
            return
        self._next_account_read = now + self.rt.options.balance_interval_ms / 1000
        accounts = []
        for venue in self.rt.venues.values():
            try:
                accounts.append(await venue.account())
            except ExchangeError as exc:
                log.warning("account read failed on %s: %s", venue.name, exc)
        engine.accounting.reanchor(accounts)
        engine.monitor.liquidation.note_accounts(accounts)
        observers.accounts(accounts, engine.clock.now_ms(), force=True)
