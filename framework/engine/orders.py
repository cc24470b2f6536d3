"""The order manager: every order goes intent → journal → risk → hooks → venue → reports.

It is the only place that changes an order's state. Each venue answer (an ``OrderReport``) is
applied through the order state machine; fills update positions and reach plugins. An intent is
journaled before the request leaves the engine, with its client order id, so a crash or a retry
never doubles an order: after an ambiguous failure the venue is asked about that id first.

Inside :meth:`OrderManager.deferring` (the runtime wraps each market-data event in it) the
journal appends other than the intent and the ``on_order_event`` / ``on_fill`` hooks are
queued and run, in their original order, when the block ends — after the requests left.
Positions, accounting and every other listener still see each change at once.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import pluggy
from sparkstacker.engine.clock import Clock
from sparkstacker.engine.journaling import EngineJournal
from sparkstacker.errors import (
    ExchangeError,
    ExchangeFormatError,
    IllegalTransition,
    ModelError,
    OrderVetoed,
    RetryableExchangeError,
)
from sparkstacker.exchange import Exchange, OrderReport
from sparkstacker.model import (
    TERMINAL_STATUSES,
    Fill,
    FillEvent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    OrderSubmission,
)
from sparkstacker.model.members import (
    FILL_EVENT,
    FILLED,
    PARTIAL_FILL_EVENT,
    PARTIALLY_FILLED,
    REJECTED,
    SUBMITTED,
)

log = logging.getLogger("sparkstacker.engine.orders")

FillListener = Callable[[Fill, Order], None]
OrderListener = Callable[[Order, OrderEventKind], None]
RiskCheck = Callable[[Order], None]

_STATUS_EVENT = {
    OrderStatus.SUBMITTED: OrderEventKind.SUBMITTED,
    OrderStatus.ACCEPTED: OrderEventKind.ACCEPTED,
    OrderStatus.TRIGGERED: OrderEventKind.TRIGGERED,
    OrderStatus.PARTIALLY_FILLED: OrderEventKind.PARTIAL_FILL,
    OrderStatus.FILLED: OrderEventKind.FILL,
    OrderStatus.CANCELLED: OrderEventKind.CANCELLED,
    OrderStatus.REJECTED: OrderEventKind.REJECTED,
    OrderStatus.EXPIRED: OrderEventKind.EXPIRED,
}


_PROGRESS = {
    OrderStatus.NEW: 0,
    OrderStatus.SUBMITTED: 1,
    OrderStatus.ACCEPTED: 2,
    OrderStatus.TRIGGERED: 3,
    OrderStatus.PARTIALLY_FILLED: 4,
}


def _is_stale(current: OrderStatus, reported: OrderStatus) -> bool:
    """A non-terminal status behind what we already know (reports can arrive out of order)."""
    if reported in TERMINAL_STATUSES or current in TERMINAL_STATUSES:
        return False
    return _PROGRESS[reported] < _PROGRESS[current]


@dataclass
class OrderManagerStats:
    submitted: int = 0
    rejected: int = 0
    vetoed: int = 0
    fills: int = 0
    duplicate_fills: int = 0
    lookups_after_failure: int = 0


class _Tracked:
    """An order and the ids of the fills already applied to it (to drop duplicates).

    Most orders get one fill, so the ids start as a tuple and become a set only for orders
    with many partial fills: a million tracked orders do not hold a million sets.
    """

    __slots__ = ("order", "seen_fills")

    def __init__(self, order: Order) -> None:
        self.order = order
        self.seen_fills: tuple[str, ...] | set[str] = ()

    def seen(self, fill_id: str) -> bool:
        return fill_id in self.seen_fills

    def add(self, fill_id: str) -> None:
        seen = self.seen_fills
        if type(seen) is tuple:
            self.seen_fills = (*seen, fill_id) if len(seen) < 8 else {*seen, fill_id}
        else:
            seen.add(fill_id)  # type: ignore[union-attr]


class _Step(NamedTuple):
    """An order lifecycle step waiting to be published (see ``OrderManager.deferring``)."""

    kind: OrderEventKind
    order: Order
    reason: str | None
    fill: Fill | None
    at: datetime


class OrderManager:
    """Owns the live ``Order`` objects of one run and every change to them."""

    def __init__(
        self,
        *,
        run_id: str,
        venues: Mapping[str, Exchange],
        clock: Clock,
        hooks: pluggy.HookRelay,
        journal: EngineJournal | None = None,
        risk_checks: tuple[RiskCheck, ...] = (),
        mode: str = "backtest",
        retries: int = 3,
    ) -> None:
        self.run_id = run_id
        self.venues = venues
        self.clock = clock
        self.hooks = hooks
        self.journal = journal
        self.risk_checks = list(risk_checks)
        self.mode = mode
        self.retries = retries
        self.stats = OrderManagerStats()
        self._orders: dict[str, _Tracked] = {}
        self.fills: list[Fill] = []  # every fill applied, in order (reports, results)
        self._open: dict[str, Order] = {}
        self._sequence = itertools.count(1)
        self._fill_listeners: list[FillListener] = []
        self._order_listeners: list[OrderListener] = []
        self._halted: dict[str, str] = {}
        # Building event objects costs time; skip it when nobody listens (fast backtests).
        self._emit_events = journal is not None or bool(hooks.on_order_event.get_hookimpls())
        self._emit_fills = bool(hooks.on_fill.get_hookimpls())
        self._has_submit_wrappers = len(hooks.submit_order.get_hookimpls()) > 1
        # Journal appends and lifecycle hooks waiting for the end of a market-data event
        # (None: not deferring, everything runs at once).
        self._deferred: list[tuple[Callable[..., Any], tuple[Any, ...]]] | None = None
        # Orders adopted by recovery: their earlier fills are in the journal, not in
        # ``_Tracked.seen_fills``, so the journal must judge their fills before they apply.
        self._adopted: set[str] = set()

    # ---- wiring -------------------------------------------------------------------------------

    def add_fill_listener(self, listener: FillListener) -> None:
        self._fill_listeners.append(listener)

    def add_order_listener(self, listener: OrderListener) -> None:
        self._order_listeners.append(listener)

    def next_client_order_id(self, tag: str = "o") -> str:
        """Unique per run and deterministic: ``<run>-<tag>-<n>`` (the cloid derives from it)."""
        return f"{self.run_id[:12]}-{tag}-{next(self._sequence)}"

    def halt_venue(self, venue: str, reason: str) -> None:
        """Stop sending to a venue (e.g. after a response we could not understand)."""
        self._halted[venue] = reason
        log.error("trading halted on %s: %s", venue, reason)

    def halted(self, venue: str) -> str | None:
        return self._halted.get(venue)

    # ---- queries ------------------------------------------------------------------------------

    def all_orders(self) -> list[Order]:
        return [t.order for t in self._orders.values()]

    def get(self, client_order_id: str) -> Order | None:
        tracked = self._orders.get(client_order_id)
        return tracked.order if tracked else None

    def open_orders(
        self, *, venue: str | None = None, symbol: str | None = None, strategy: str | None = None
    ) -> list[Order]:
        return [
            o
            for o in self._open.values()
            if (venue is None or o.venue == venue)
            and (symbol is None or o.symbol == symbol)
            and (strategy is None or o.strategy == strategy)
        ]

    def working(self) -> list[Order]:
        """Every open order, unfiltered (cheap: the risk checks ask on every order)."""
        return list(self._open.values())

    def adopt(self, order: Order) -> None:
        """Track an order found on the venue or in the journal (recovery)."""
        self._orders[order.client_order_id] = _Tracked(order)
        self._adopted.add(order.client_order_id)
        if order.is_open:
            self._open[order.client_order_id] = order
        else:  # adopted as finished (recovery): never leave an older open copy behind
            self._open.pop(order.client_order_id, None)

    # ---- deferral -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        """Queue journal appends (all but the intent) and lifecycle hooks until the block ends.

        Then they run in their original order; a journal error among them is raised from here,
        the rest of the queue dropped (what a crash at that point would leave: reconciliation
        recovers it from the venue). Not re-entrant: an inner block just joins the outer one.
        """
        if self._deferred is not None:
            yield
            return
        self._deferred = []
        try:
            yield
        finally:
            queue, self._deferred = self._deferred, None
            self._drain(queue)

    @property
    def is_deferring(self) -> bool:
        return self._deferred is not None

    def queued(self) -> list[OrderEvent]:
        """The order events waiting for the end of the current deferral block (oldest first)."""
        return [
            self._event(args[0])
            for work, args in self._deferred or ()
            if getattr(work, "__func__", None) is OrderManager._publish
        ]

    def later(self, work: Callable[..., Any], *args: Any) -> None:
        """Run ``work(*args)`` now, or when the current deferral block ends (in order)."""
        if self._deferred is None:
            work(*args)
        else:
            self._deferred.append((work, args))

    def _flush_now(self) -> None:
        """Run what is queued so far and keep deferring (a write that needs an answer now)."""
        if self._deferred:
            queue, self._deferred = self._deferred, []
            self._drain(queue)

    def _drain(self, queue: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
        if not queue:
            return
        # One journal transaction (one fsync) for the whole queue.
        with self.journal.batch() if self.journal is not None else contextlib.nullcontext():
            for work, args in queue:
                work(*args)

    # ---- submission ---------------------------------------------------------------------------

    async def submit(
        self, order: Order, *, reason: str | None = None, mark_price: Decimal | None = None
    ) -> Order:
        """Journal the intent, run risk checks and submit wrappers, send, apply the answer."""
        cid = order.client_order_id
        if cid in self._orders:
            raise IllegalTransition(f"client order id {cid} was already used")
        self._orders[cid] = _Tracked(order)
        self._open[cid] = order
        if self.journal is not None:
            self.journal.record_intent(
                self.run_id, order, strategy=order.strategy or "", reason=reason
            )
        if self._emit_events:
            # record_intent above is the journal's copy of this step: hooks only here.
            self._emit(OrderEventKind.INTENT, order, reason, journal=False)
        venue = order.venue
        halted = self._halted.get(venue)
        if halted:
            return self._reject(order, f"trading halted on {venue}: {halted}")
        try:
            for check in self.risk_checks:
                check(order)
            if self._has_submit_wrappers:
                approved = self.hooks.submit_order(
                    submission=OrderSubmission(order=order, mark_price=mark_price, mode=self.mode)
                )
                if approved is not None and approved.annotations:
                    order = order.annotate(**approved.annotations)
        except OrderVetoed as veto:
            self.stats.vetoed += 1
            return self._reject(order, str(veto))
        sent_at = self.clock.now()
        order = self._set(order.transition(SUBMITTED, at=sent_at))
        self.stats.submitted += 1
        # Only the intent must be committed before the request leaves (write-ahead); the
        # "submitted" step is journaled right after the venue call, before its answer is applied,
        # which keeps one commit — not two — between market data and the request.
        report = await self._send(order, sent_at)
        if report is None:
            return self._orders[cid].order
        return self.apply_report(report)

    async def _send(self, order: Order, sent_at: datetime) -> OrderReport | None:
        """Submit to the venue (``sent_at``: when the order became submitted), retrying what
        may be retried; None when the order ended rejected instead."""
        venue = self.venues[order.venue]
        attempt = 0
        while True:
            try:
                report = await venue.submit(order)
            except ModelError as exc:
                # The adapter refused to build the request (lot, tick or minimum value on the
                # price it would really send, e.g. off a fresh book): nothing left, so the order
                # ends rejected with that reason instead of staying "submitted" forever.
                self._reject(order, f"not sent: {exc}")
                return None
            except ExchangeFormatError as exc:
                self._announce(order, sent_at, attempt)
                self.halt_venue(order.venue, str(exc))
                self._reject(order, f"venue response not understood: {exc}")
                return None
            except RetryableExchangeError as exc:
                self._announce(order, sent_at, attempt)
                attempt += 1
                # The request may have reached the venue: ask before sending again.
                self.stats.lookups_after_failure += 1
                try:
                    known = await venue.order_status(order.client_order_id, order.symbol)
                except ExchangeError:
                    known = None
                if known is not None:
                    return known
                if attempt > self.retries:
                    self._reject(order, f"gave up after {attempt} attempts: {exc}")
                    return None
            except ExchangeError as exc:
                self._announce(order, sent_at, attempt)
                self._reject(order, str(exc))
                return None
            else:
                if self._emit_events:
                    self._announce(order, sent_at, attempt)
                return report

    def _announce(self, order: Order, sent_at: datetime, attempt: int) -> None:
        """The "submitted" step, once per order, stamped with when the request left."""
        if attempt == 0 and self._emit_events:
            self._emit(OrderEventKind.SUBMITTED, order, None, at=sent_at)

    async def cancel(self, order: Order, *, reason: str = "cancel requested") -> Order:
        current = self.get(order.client_order_id) or order
        if current.is_terminal:
            return current
        if self._emit_events:
            self._emit(OrderEventKind.CANCEL_REQUESTED, current, reason)
        try:
            report = await self.venues[current.venue].cancel(current)
        except ExchangeError as exc:
            log.warning("cancel of %s failed: %s", current.client_order_id, exc)
            return current
        return self.apply_report(report, default_reason=reason)

    async def cancel_all(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        keep: Callable[[Order], bool] | None = None,
        reason: str = "cancel all",
    ) -> int:
        count = 0
        for order in self.open_orders(venue=venue, symbol=symbol, strategy=strategy):
            if keep is not None and keep(order):
                continue
            await self.cancel(order, reason=reason)
            count += 1
        return count

    # ---- venue answers ------------------------------------------------------------------------

    def apply_report(self, report: OrderReport, *, default_reason: str | None = None) -> Order:
        """Apply one venue report: new fills first, then the terminal status if any."""
        tracked = self._orders.get(report.client_order_id)
        if tracked is None:
            raise ExchangeError(
                f"venue reported unknown order {report.client_order_id}; reconciliation needed"
            )
        order = tracked.order
        venue_id = report.venue_order_id
        fills = report.fills
        if venue_id and order.venue_order_id != venue_id and not fills:
            # fills carry the venue id themselves; otherwise the transition below records it
            venue_id_pending: str | None = venue_id
        else:
            venue_id_pending = None
            if venue_id and order.venue_order_id != venue_id:
                order = order.model_copy(update={"venue_order_id": venue_id})
                tracked.order = order
        for fill in fills:
            order = self._apply_fill(tracked, fill)
        status, current = report.status, order.status
        if current in TERMINAL_STATUSES or status == current or _is_stale(current, status):
            if venue_id_pending is not None and order.venue_order_id != venue_id_pending:
                order = self._set(order.model_copy(update={"venue_order_id": venue_id_pending}))
            return order
        if status in (FILLED, PARTIALLY_FILLED):
            if report.filled_size > order.filled_size:
                raise ExchangeError(
                    f"{order.venue} reports {report.filled_size} filled for "
                    f"{order.client_order_id} but only {order.filled_size} arrived as fills",
                    venue=order.venue,
                )
            return order
        if status is SUBMITTED:
            return order
        reason = default_reason or report.reason  # a cancel we asked for keeps our reason
        order = self._set(
            order.transition(
                status, at=report.timestamp, reason=reason, venue_order_id=venue_id_pending
            )
        )
        if status is REJECTED:
            self.stats.rejected += 1
        if self._emit_events:
            self._emit(_STATUS_EVENT[status], order, reason)
        self._notify(order, _STATUS_EVENT[status])
        return order

    def _apply_fill(self, tracked: _Tracked, fill: Fill) -> Order:
        fill_id = fill.fill_id
        if tracked.seen(fill_id):
            self.stats.duplicate_fills += 1
            return tracked.order
        if self.journal is not None:
            if self._deferred is None or tracked.order.client_order_id in self._adopted:
                self._flush_now()
                if not self.journal.record_fill(self.run_id, fill):
                    tracked.add(fill_id)
                    self.stats.duplicate_fills += 1
                    return tracked.order
            else:  # every earlier fill of this order went through ``tracked``: it judges alone
                self._deferred.append((self._journal_fill, (fill,)))
        tracked.add(fill_id)
        order = self._set(tracked.order.apply_fill(fill))
        self.fills.append(fill)
        self.stats.fills += 1
        kind = FILL_EVENT if order.status is FILLED else PARTIAL_FILL_EVENT
        if self._emit_events:
            self._emit(kind, order, None, fill)
        for listener in self._fill_listeners:
            listener(fill, order)
        if self._emit_fills:
            self.later(self._fill_hook, FillEvent(fill=fill, order=order, run_id=self.run_id))
        self._notify(order, kind)
        return order

    def _journal_fill(self, fill: Fill) -> None:
        assert self.journal is not None
        if not self.journal.record_fill(self.run_id, fill):
            log.error("fill %s was already in the journal when its append ran", fill.fill_id)

    def _fill_hook(self, event: FillEvent) -> None:
        self.hooks.on_fill(event=event)

    def _reject(self, order: Order, reason: str) -> Order:
        order = self._set(
            order.transition(OrderStatus.REJECTED, at=self.clock.now(), reason=reason)
        )
        self.stats.rejected += 1
        if self._emit_events:
            self._emit(OrderEventKind.REJECTED, order, reason)
        self._notify(order, OrderEventKind.REJECTED)
        return order

    # ---- helpers ------------------------------------------------------------------------------

    def _set(self, order: Order) -> Order:
        cid = order.client_order_id
        self._orders[cid].order = order
        if order.status in TERMINAL_STATUSES:
            self._open.pop(cid, None)
        else:
            self._open[cid] = order
        return order

    def _notify(self, order: Order, kind: OrderEventKind) -> None:
        for listener in self._order_listeners:
            listener(order, kind)

    def _emit(
        self,
        kind: OrderEventKind,
        order: Order,
        reason: str | None,
        fill: Fill | None = None,
        *,
        at: datetime | None = None,
        journal: bool = True,
    ) -> None:
        # The event object is built when it is published (after the bar's requests left,
        # when deferring): only its time is taken now.
        step = _Step(kind, order, reason, fill, at or self.clock.now())
        self.later(self._publish, step, journal)

    def _event(self, step: _Step) -> OrderEvent:
        return OrderEvent(
            kind=step.kind,
            order=step.order,
            timestamp=step.at,
            reason=step.reason,
            fill=step.fill,
            run_id=self.run_id,
        )

    def _publish(self, step: _Step, journal: bool) -> None:
        """Journal one lifecycle step (unless it is the intent) and hand it to the plugins."""
        event = self._event(step)
        if journal and self.journal is not None:
            self.journal.record_order_event(self.run_id, event)
        self.hooks.on_order_event(event=event)

    def summary(self) -> dict[str, Any]:
        return {
            "submitted": self.stats.submitted,
            "rejected": self.stats.rejected,
            "vetoed": self.stats.vetoed,
            "fills": self.stats.fills,
            "duplicate_fills": self.stats.duplicate_fills,
            "open": len(self._open),
        }
