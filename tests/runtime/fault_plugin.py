"""Fault injection for the crash/restart tests: a plugin that kills the process at named points.

Loaded into a real ``spark-stacker run`` with ``--plugin fault_plugin`` (tests/runtime on
PYTHONPATH) and armed only by ``FAULT_POINT`` in that process's environment, so restarts run
clean. ``os._exit`` runs no cleanup at all — no finally, no atexit, no journal close, no log
flush — which is what a kill -9 or a power loss leaves behind. ``FAULT_AFTER=n`` picks the n-th
time the point is reached. Points:

* ``after_intent`` — the order's intent is journaled, the request has not left the engine;
* ``after_accept`` — the venue accepted the order, the engine never saw the answer;
* ``after_fill`` — the venue filled an order, the engine never journaled the fill;
* ``mid_hedge`` — the main leg's fill is journaled, its hedge was never sent;
* ``hedge_intent`` — the hedge order's intent is journaled, the hedge was never sent.

Hooks only: ``submit_order`` and ``on_order_event``, plus ``startup``, which wraps the run's
venues (``RunContext.extras``) for the two venue-side points.
"""

from __future__ import annotations

import os
from typing import Any

from sparkstacker.hookspecs import hookimpl
from sparkstacker.model import OrderEvent, OrderEventKind, OrderSubmission

POINT = os.environ.get("FAULT_POINT", "")
AFTER = int(os.environ.get("FAULT_AFTER", "1"))
EXIT_CODE = 77
_seen: dict[str, int] = {}


def _reached(point: str) -> None:
    if point != POINT:
        return
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] >= AFTER:
        os._exit(EXIT_CODE)


class _CrashAfterSubmit:
    """The venue answers, then the process dies before the engine reads the answer."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def submit(self, order: Any) -> Any:
        report = await self._inner.submit(order)
        if order.leg != "hedge" and not order.reduce_only:
            _reached("after_accept")
        return report


def _crash_after_fills(method: Any) -> Any:
    def wrapped(*args: Any) -> Any:
        events = method(*args)
        if any(e.report is not None and e.report.fills for e in events):
            _reached("after_fill")
        return events

    return wrapped


@hookimpl
def startup(run: Any) -> None:
    if POINT == "after_accept":
        engine = run.extras["engine"]
        for name in list(engine.venues):
            engine.venues[name] = _CrashAfterSubmit(engine.venues[name])
    if POINT == "after_fill":
        for venue in run.extras["paper"].values():
            venue.on_bar_open = _crash_after_fills(venue.on_bar_open)
            venue.on_bar_close = _crash_after_fills(venue.on_bar_close)


@hookimpl(tryfirst=True)
def submit_order(submission: OrderSubmission) -> None:
    order = submission.order
    if order.leg == "hedge":
        _reached("hedge_intent")
    elif not order.reduce_only:
        _reached("after_intent")


@hookimpl
def on_order_event(event: OrderEvent) -> None:
    order = event.order
    if (
        event.kind in (OrderEventKind.FILL, OrderEventKind.PARTIAL_FILL)
        and order.leg == "main"
        and order.group_id is not None
        and not order.reduce_only
    ):
        _reached("mid_hedge")
