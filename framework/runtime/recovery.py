"""Recovery and reconciliation: make the engine's picture agree with the journal and the venue.

On start-up, and after every reconnect, :func:`reconcile` walks the write-ahead journal against
each venue:

1. **Book.** (start-up only) The engine's positions per strategy leg are rebuilt by replaying
   the account's journaled fills (and funding) in time order.
2. **Intents and open orders.** Every order the journal does not know the outcome of — an
   intent never acknowledged, or an order still open — is tracked again and the venue is asked
   about it by client order id. An intent the venue never saw is marked rejected ("never
   reached the venue"); one it did see is adopted with the venue's status. Nothing is ever sent
   again, so an order is never doubled.
3. **Missed fills.** The venue's fills since the journal's last one are applied through the
   order manager; the journal deduplicates by fill id, so replaying them is harmless and a fill
   that happened while the engine was down is recorded exactly once.
4. **Unexplained state.** A venue order the journal did not place, or a venue position that the
   journaled fills do not add up to, is recorded as a risk event that blocks new entries on that
   market until it reconciles (resolved automatically) or an operator resolves it
   (``spark-stacker resolve ID``: the venue's position is then accepted as is, and later
   reconciliations count that difference as explained).
5. **Strategies.** Working entry, exit and protective orders are handed back to their
   strategies, missing stop-loss / take-profit orders are placed for open positions, and hedge
   groups are brought back to their target (``engine.hedges.sync``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sparkstacker.engine.engine import Engine
from sparkstacker.engine.hedge import GroupState
from sparkstacker.errors import ExchangeError, IllegalTransition, ModelError
from sparkstacker.exchange import Exchange, OrderReport
from sparkstacker.journal import Journal
from sparkstacker.model import (
    ZERO,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    to_millis,
)
from sparkstacker.runtime.history import (
    AccountHistory,
    Owns,
    apply_liquidation,
    load_history,
    rebuild_book,
)
from sparkstacker.runtime.risk_blocks import UNEXPLAINED_ORDER, UNEXPLAINED_POSITION, RiskBlocks

log = logging.getLogger("sparkstacker.runtime.recovery")

NEVER_REACHED = "never reached the venue (unacknowledged intent found at recovery)"
LOST_ON_VENUE = "not found on the venue at recovery"
PROTECTIVE = "protective"


@dataclass
class ReconcileReport:
    """What a reconciliation found and did (logged, shown at start-up, kept in the summary)."""

    replayed_fills: int = 0
    adopted: list[str] = field(default_factory=list)
    never_reached: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    missed_fills: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    protective_placed: list[str] = field(default_factory=list)
    drift: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.never_reached or self.missed_fills or self.unexplained or self.adopted)

    def lines(self) -> list[str]:
        out = []
        if self.replayed_fills:
            out.append(f"positions rebuilt from {self.replayed_fills} journaled fill(s)")
        if self.adopted:
            out.append(f"adopted {len(self.adopted)} order(s) found on the venue")
        if self.never_reached:
            out.append(f"{len(self.never_reached)} intent(s) never reached the venue: rejected")
        if self.closed:
            out.append(f"{len(self.closed)} order(s) finished while the engine was away")
        if self.missed_fills:
            out.append(f"recorded {len(self.missed_fills)} fill(s) missed while down")
        if self.protective_placed:
            out.append(f"placed {len(self.protective_placed)} missing protective order(s)")
        for message in self.unexplained:
            out.append(f"UNEXPLAINED: {message}")
        if self.resolved:
            out.append(f"risk event(s) {', '.join(map(str, self.resolved))} reconciled")
        if self.blocked:
            out.append(f"entries blocked on: {', '.join(self.blocked)}")
        return out or ["journal and venues agree"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "replayed_fills": self.replayed_fills,
            "adopted": self.adopted,
            "never_reached": self.never_reached,
            "closed": self.closed,
            "missed_fills": self.missed_fills,
            "unexplained": self.unexplained,
            "resolved": self.resolved,
            "blocked": self.blocked,
            "protective_placed": self.protective_placed,
            "drift": self.drift,
        }


# ---- 2..5 the reconciliation --------------------------------------------------------------


class Reconciler:
    """Reconciles one engine with its journal and venues (start-up and every reconnect)."""

    def __init__(
        self,
        engine: Engine,
        journal: Journal,
        *,
        mode: str,
        owns: Owns,
        on_drift: Callable[[str, str, Decimal], None] | None = None,
    ) -> None:
        self.engine = engine
        self.journal = journal
        self.mode = mode
        self.owns = owns
        self.on_drift = on_drift
        self.run_id = engine.run.run_id
        self.history: AccountHistory | None = None
        self.blocks = RiskBlocks(engine, journal, owns)

    def refresh_blocks(self) -> list[str]:
        return self.blocks.refresh_blocks()

    async def start(self) -> ReconcileReport:
        """Start-up: rebuild the book from the journal, then reconcile every venue."""
        report = ReconcileReport()
        self.history = load_history(self.journal, self.mode, self.owns, self.engine.venues)
        report.replayed_fills = rebuild_book(self.engine, self.history)
        for order in self.history.orders.values():
            if order.is_open:
                self.engine.orders.adopt(order)
        await self.reconcile(report, since=None)
        await self.restore_strategies(report)
        return report

    async def reconnect(self, venue: str) -> ReconcileReport:
        """After a venue reconnected: fills, orders and positions on that venue again."""
        report = ReconcileReport()
        await self.reconcile(report, since=None, only=venue)
        await self.restore_strategies(report)
        return report

    async def reconcile(
        self, report: ReconcileReport, *, since: datetime | None, only: str | None = None
    ) -> None:
        for name, venue in self.engine.venues.items():
            if only is not None and name != only:
                continue
            # Orders before fills: asking about every tracked order by its client order id is
            # also how an adapter whose fills carry only an id derived from it (Hyperliquid's
            # cloid) learns, in a fresh process, which fills are ours. The fills are read from
            # where the journal's fills end, fixed before the orders step applies any.
            wanted, since = self._fills_window(name)
            await self._orders(name, venue, report)
            if wanted:
                await self._fills(name, venue, report, since)
            await self._unknown_orders(name, venue, report)
            await self._positions(name, venue, report)
        self.blocks.apply(report)

    # ---- fills ------------------------------------------------------------------------------

    def _last_fill_time(self, venue: str) -> datetime | None:
        times = [f.timestamp for f in self.engine.orders.fills if f.venue == venue]
        if self.history is not None:
            last = self.history.last_fill_time(venue)
            if last is not None:
                times.append(last)
        return max(times) if times else None

    def _fills_window(self, name: str) -> tuple[bool, datetime | None]:
        """(whether to read the venue's fills, from when: None for all it still lists)."""
        since = self._last_fill_time(name)
        if since is None and self.mode == "live":
            tracked = [o.created_at for o in self.engine.orders.open_orders(venue=name)]
            if not tracked:
                return False, None  # nothing of ours can have filled: never import the past
            since = min(tracked)
        return True, since

    async def _fills(
        self, name: str, venue: Exchange, report: ReconcileReport, since: datetime | None
    ) -> None:
        orders = self.engine.orders
        for fill in await venue.fills(since):
            cloid = fill.client_order_id
            order = orders.get(cloid) if cloid else None
            if order is None and cloid and self.history is not None:
                known = self.history.orders.get(cloid)
                if known is not None and known.is_open:
                    orders.adopt(known)
                    order = known
            if order is not None and order.is_open:
                if order.status is OrderStatus.NEW:  # filled, so it did reach the venue
                    order = self._journaled_step(
                        order, order.transition(OrderStatus.SUBMITTED, at=fill.timestamp)
                    )
                    report.adopted.append(order.client_order_id)
                before = orders.stats.fills
                orders.apply_report(
                    OrderReport(
                        client_order_id=order.client_order_id,
                        status=order.status,
                        fills=(fill,),
                        timestamp=fill.timestamp,
                    )
                )
                if orders.stats.fills > before:
                    report.missed_fills.append(fill.fill_id)
                continue
            if not self.journal.record_fill(self.run_id, fill):
                continue  # already journaled: nothing was missed
            report.missed_fills.append(fill.fill_id)
            if fill.is_liquidation:
                apply_liquidation(self.engine, fill)
            elif order is not None:
                # A fill for an order the journal already closed: keep the position right.
                self.engine.book.apply_fill(fill, order, now_ms=to_millis(fill.timestamp))
                log.warning("fill %s arrived for finished order %s", fill.fill_id, cloid)
            else:
                log.warning(
                    "venue fill %s (%s) is not ours; see the position check", fill.fill_id, cloid
                )

    # ---- orders -----------------------------------------------------------------------------

    async def _orders(self, name: str, venue: Exchange, report: ReconcileReport) -> None:
        orders = self.engine.orders
        for order in list(orders.open_orders(venue=name)):
            try:
                answer = await venue.order_status(order.client_order_id, order.symbol)
            except ExchangeError as exc:
                log.warning("could not ask %s about %s: %s", name, order.client_order_id, exc)
                continue
            if answer is None:
                acknowledged = order.status not in (OrderStatus.NEW, OrderStatus.SUBMITTED)
                reason = LOST_ON_VENUE if acknowledged else NEVER_REACHED
                status = OrderStatus.CANCELLED if acknowledged else OrderStatus.REJECTED
                self._finish(order, status, reason)
                (report.closed if acknowledged else report.never_reached).append(
                    order.client_order_id
                )
                continue
            was_unacknowledged = order.status in (OrderStatus.NEW, OrderStatus.SUBMITTED)
            if order.status is OrderStatus.NEW:
                order = self._journaled_step(
                    order, order.transition(OrderStatus.SUBMITTED, at=answer.timestamp)
                )
            applied = len(orders.fills)
            try:
                current = orders.apply_report(answer)
            except (ExchangeError, IllegalTransition) as exc:
                log.warning("order %s: %s; its fills are read next", order.client_order_id, exc)
                if was_unacknowledged and order.client_order_id not in report.adopted:
                    report.adopted.append(order.client_order_id)
                continue
            report.missed_fills.extend(f.fill_id for f in orders.fills[applied:])
            if was_unacknowledged and order.client_order_id not in report.adopted:
                report.adopted.append(order.client_order_id)
            elif current.is_terminal:
                report.closed.append(order.client_order_id)

    def _journaled_step(self, old: Order, new: Order) -> Order:
        """Move a tracked order one step (journal, hooks, order manager) outside a venue answer."""
        kind = (
            OrderEventKind.SUBMITTED
            if new.status is OrderStatus.SUBMITTED
            else (
                OrderEventKind.REJECTED
                if new.status is OrderStatus.REJECTED
                else OrderEventKind.CANCELLED
            )
        )
        event = OrderEvent(
            kind=kind,
            order=new,
            timestamp=new.updated_at or self.engine.clock.now(),
            reason=new.reason,
            run_id=self.run_id,
        )
        self.journal.record_order_event(self.run_id, event)
        self.engine.hooks.on_order_event(event=event)
        self.engine.orders.adopt(new)
        return new

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        new = order.transition(status, at=self.engine.clock.now(), reason=reason)
        self._journaled_step(order, new)
        log.warning("order %s %s: %s", order.client_order_id, status.value, reason)

    async def _unknown_orders(self, name: str, venue: Exchange, report: ReconcileReport) -> None:
        try:
            on_venue = await venue.open_orders()
        except ExchangeError as exc:
            log.warning("could not list open orders on %s: %s", name, exc)
            return
        ours = self.engine.orders
        strangers: dict[str, list[Order]] = {}
        for order in on_venue:
            tracked = ours.get(order.client_order_id)
            if tracked is None:
                strangers.setdefault(order.symbol, []).append(order)
        for symbol, found in strangers.items():
            cloids = sorted(o.client_order_id for o in found)
            message = (
                f"{len(found)} open order(s) on {name} {symbol} that this account's journal did "
                f"not place: {', '.join(cloids)}"
            )
            self.blocks.raise_block(
                UNEXPLAINED_ORDER, name, symbol, message, {"orders": ",".join(cloids)}, report
            )
        for event in self.blocks.open_events(UNEXPLAINED_ORDER, name):
            if event.symbol not in strangers:
                self.blocks.resolve(
                    event, "reconciled: no unexplained order left on the venue", report
                )

    # ---- positions --------------------------------------------------------------------------

    def accepted_drift(self, venue: str, symbol: str) -> Decimal:
        """Position differences an operator accepted (resolved unexplained-position events)."""
        total = ZERO
        for event in self.journal.risk_events():
            if (
                event.kind == UNEXPLAINED_POSITION
                and event.venue == venue
                and event.symbol == symbol
                and event.is_resolved
                and (event.resolution or "").startswith("accepted")
                and self.blocks.ours(event.run_id, venue)
                and event.data
            ):
                total += Decimal(str(event.data.get("drift", "0")))
        return total

    async def _positions(self, name: str, venue: Exchange, report: ReconcileReport) -> None:
        account = await venue.account()
        venue_sizes = {p.symbol: p.size for p in account.positions if not p.is_flat}
        symbols = set(venue_sizes) | {
            leg.symbol for leg in self.engine.book.legs() if leg.venue == name
        }
        symbols |= {slot.symbol for slot in self.engine.slots if slot.venue == name}
        for symbol in sorted(symbols):
            on_venue = venue_sizes.get(symbol, ZERO)
            journal_size = self.engine.book.net(name, symbol)
            drift = on_venue - journal_size - self.accepted_drift(name, symbol)
            report.drift[f"{name} {symbol}"] = str(drift)
            if self.on_drift is not None:
                self.on_drift(name, symbol, drift)
            open_events = self.blocks.open_events(UNEXPLAINED_POSITION, name, symbol)
            if drift == 0:
                for event in open_events:
                    self.blocks.resolve(
                        event, "reconciled: venue and journal positions agree", report
                    )
                continue
            message = (
                f"{name} {symbol}: the venue holds {on_venue}, the journal's fills add up to "
                f"{journal_size}; difference {drift}"
            )
            data = {
                "venue_size": str(on_venue),
                "journal_size": str(journal_size),
                "drift": str(drift),
            }
            same = [e for e in open_events if (e.data or {}).get("drift") == str(drift)]
            for event in open_events:
                if event not in same:
                    self.blocks.resolve(event, f"superseded: difference is now {drift}", report)
            if same:
                report.unexplained.append(message + f" (risk event {same[0].id}, still open)")
                self.engine.block_entries(name, symbol, f"{UNEXPLAINED_POSITION}: {message}")
                report.blocked.append(f"{name} {symbol}")
                continue
            self.blocks.raise_block(UNEXPLAINED_POSITION, name, symbol, message, data, report)

    # ---- strategies -------------------------------------------------------------------------

    async def restore_strategies(self, report: ReconcileReport) -> None:
        engine = self.engine
        for slot in engine.slots:
            slot.entry_order = slot.exit_order = None
            slot.protective.clear()
            for order in engine.orders.open_orders(strategy=slot.name):
                if order.leg not in (None, slot.leg.role):
                    continue
                origin = order.annotations.get("origin")
                if origin == PROTECTIVE:
                    slot.protective[order.annotations.get("reason", order.type.value)] = order
                elif order.reduce_only:
                    slot.exit_order = order
                else:
                    slot.entry_order = order
        for slot in engine.slots:  # the pair first: an unhedged main leg is the larger risk
            group = engine.hedges.group_of(slot)
            if group is None:
                continue
            working = [
                o
                for o in engine.orders.open_orders(strategy=slot.name)
                if o.leg == "hedge" and o.venue == group.venue
            ]
            if working:
                group.order = working[0]
                group.state = GroupState.HEDGING
                group.deadline_ms = engine.clock.now_ms() + int(
                    group.spec.within.total_seconds() * 1000
                )
            await engine.hedges.sync(slot)
        for slot in engine.slots:
            if slot.leg.size != 0 and not slot.busy:
                await self._protect(slot, report)
        await engine.settle()

    async def _protect(self, slot: Any, report: ReconcileReport) -> None:
        report.protective_placed.extend(await ensure_protection(self.engine, slot))


async def ensure_protection(engine: Engine, slot: Any) -> list[str]:
    """A position without its venue-side stop / target (a crash after the fill, or a cancelled
    flip at shutdown): place them. Returns the client order ids placed."""
    risk = slot.plan.risk
    wanted = {
        role
        for role, value in (("stop_loss", risk.stop_loss), ("take_profit", risk.take_profit))
        if value is not None
    }
    if not wanted or slot.leg.size == 0:
        return []
    if not engine.venues[slot.venue].capabilities.trigger_orders:
        return []  # the position monitor enforces them at bar closes
    size = abs(slot.leg.size)
    have = {
        role
        for role, o in slot.protective.items()
        if (engine.orders.get(o.client_order_id) or o).is_open and o.size == size
    }
    if wanted <= have:
        return []
    try:
        await engine.executor.place_protective(slot)
    except ModelError as exc:
        log.warning("%s: could not place protective orders: %s", slot.name, exc)
        return []
    return [o.client_order_id for o in slot.protective.values()]
