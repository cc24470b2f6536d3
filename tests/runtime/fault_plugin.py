"""Fault injection for the crash/restart tests: a plugin that kills the process at named points.

Loaded into a real ``spark-stacker run`` with ``--plugin fault_plugin`` (tests/runtime on
PYTHONPATH) and armed only by ``FAULT_POINT`` in that process's environment, so restarts run
clean. ``os._exit`` runs no cleanup at all — no finally, no atexit, no journal close, no log
flush — which is what a kill -9 or a power loss leaves behind. ``FAULT_AFTER=n`` picks the n-th
time the point is reached. Points:

* ``after_intent`` — the order's intent is journaled, the request has not left the engine;
* ``after_accept`` — the venue accepted the order, the engine never saw the answer;
* ``after_fill`` — the venue filled an order, the engine never journaled the fill;
* ``mid_hedge`` — the engine applied the main leg's fill (its journal append still queued until
  the bar's end), its hedge was never sent;
* ``hedge_intent`` — the hedge order's intent is journaled, the hedge was never sent;
* ``before_flush`` — a bar's requests left with a fill's journal append still queued behind
  them (``OrderManager.deferring``): the process dies before the queue is written.

Hooks only: ``submit_order``, plus ``startup``, which wraps the run's venues and the engine's
order manager (``RunContext.extras``) for the other points.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from sparkstacker.hookspecs import hookimpl
from sparkstacker.model import Fill, Order, OrderEventKind, OrderSubmission

_FILLS = (OrderEventKind.FILL, OrderEventKind.PARTIAL_FILL)

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


def _crash_before_flush(deferring: Any, orders: Any) -> Any:
    """The bar's block ends with a fill queued and a request sent: die before the queue runs."""

    @contextlib.contextmanager
    def wrapped() -> Iterator[None]:
        with deferring():
            yield
            kinds = {event.kind for event in orders.queued()}
            if kinds & set(_FILLS) and OrderEventKind.SUBMITTED in kinds:
                _reached("before_flush")

    return wrapped


def _main_leg_filled(fill: Fill, order: Order) -> None:
    """A fill listener (runs at once, unlike the journal append and the hooks)."""
    if order.leg == "main" and order.group_id is not None and not order.reduce_only:
        _reached("mid_hedge")


@hookimpl
def startup(run: Any) -> None:
    engine = run.extras.get("engine")
    if POINT == "after_accept":
        for name in list(engine.venues):
            engine.venues[name] = _CrashAfterSubmit(engine.venues[name])
    if POINT == "after_fill":
        for venue in run.extras["paper"].values():
            venue.on_bar_open = _crash_after_fills(venue.on_bar_open)
            venue.on_bar_close = _crash_after_fills(venue.on_bar_close)
    if POINT == "mid_hedge":
        engine.orders.add_fill_listener(_main_leg_filled)
    if POINT == "before_flush":
        orders = engine.orders
        orders.deferring = _crash_before_flush(orders.deferring, orders)


@hookimpl(tryfirst=True)
def submit_order(submission: OrderSubmission) -> None:
    order = submission.order
    if order.leg == "hedge":
        _reached("hedge_intent")
    elif not order.reduce_only:
        _reached("after_intent")
