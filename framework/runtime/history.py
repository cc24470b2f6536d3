"""What the journal holds for the accounts a run trades, and the position book rebuilt from it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sparkstacker.engine.engine import Engine
from sparkstacker.journal import Journal
from sparkstacker.model import Fill, Order, to_millis

log = logging.getLogger("sparkstacker.runtime.recovery")

Owns = Callable[[str, str], bool]  # (run_id, venue instance) -> belongs to this account


@dataclass
class AccountHistory:
    """What the journal holds for the accounts of this run (the runs that traded them)."""

    orders: dict[str, Order]  # by client order id, newest state
    fills: list[Fill]  # time order
    funding: list[tuple[datetime, str, str, Decimal]]  # (time, venue, symbol, payment)
    run_ids: set[str]

    def last_fill_time(self, venue: str) -> datetime | None:
        times = [f.timestamp for f in self.fills if f.venue == venue]
        return max(times) if times else None


def load_history(journal: Journal, mode: str, owns: Owns, venues: Iterable[str]) -> AccountHistory:
    """Orders, fills and funding the journal holds for ``venues`` in runs of this account."""
    from sparkstacker.journal.schema import FundingPaymentRow
    from sqlalchemy import select

    names = set(venues)
    run_ids = {run.id for run in journal.runs(mode=mode)}
    orders: dict[str, Order] = {}
    fills: list[Fill] = []
    for run_id in sorted(run_ids):
        for order in journal.orders(run_id):
            if order.venue in names and owns(run_id, order.venue):
                orders[order.client_order_id] = order
        for fill in journal.fills(run_id):
            if fill.venue in names and owns(run_id, fill.venue):
                fills.append(fill)
    fills.sort(key=lambda f: (f.timestamp, f.fill_id))
    funding: list[tuple[datetime, str, str, Decimal]] = []
    query = select(FundingPaymentRow).where(FundingPaymentRow.run_id.in_(sorted(run_ids)))
    with journal._read("read funding payments") as session:
        for row in session.scalars(query):
            if row.venue in names and owns(row.run_id, row.venue):
                funding.append((row.timestamp, row.venue, row.symbol, row.payment))
    funding.sort(key=lambda item: item[0])
    owned = {r for r in run_ids if any(owns(r, v) for v in names)}
    return AccountHistory(orders=orders, fills=fills, funding=funding, run_ids=owned)


def rebuild_book(engine: Engine, history: AccountHistory) -> int:
    """Replay journaled fills and funding into the engine's position book; returns fills applied."""
    tf_ms = {slot.name: _tf_ms(slot.plan.timeframe) for slot in engine.slots}
    funding = list(history.funding)
    applied = 0
    for fill in history.fills:
        ts = to_millis(fill.timestamp)
        while funding and to_millis(funding[0][0]) <= ts:
            _apply_funding(engine, *funding.pop(0))
        order = history.orders.get(fill.client_order_id or "")
        if order is None:
            if fill.is_liquidation:
                apply_liquidation(engine, fill)
                applied += 1
            else:
                log.warning(
                    "journaled fill %s has no journaled order; not attributed", fill.fill_id
                )
            continue
        step = tf_ms.get(order.strategy or "")
        bar = ts // step - 1 if step else None
        engine.book.apply_fill(fill, order, now_ms=ts, bar=bar)
        engine.accounting.set_mark(fill.venue, fill.symbol, fill.price)
        applied += 1
    for item in funding:
        _apply_funding(engine, *item)
    return applied


def _apply_funding(
    engine: Engine, _at: datetime, venue: str, symbol: str, payment: Decimal
) -> None:
    net = engine.book.net(venue, symbol)
    if net != 0:
        engine.book.apply_funding(venue, symbol, payment / net)


def apply_liquidation(engine: Engine, fill: Fill) -> None:
    """Split a liquidation fill over the legs open on its market (as the engine does live)."""
    engine.book.apply_liquidation(fill, fill.venue, fill.symbol, now_ms=to_millis(fill.timestamp))


def _tf_ms(timeframe: str) -> int:
    from sparkstacker.model.timeframe import timeframe_seconds

    return timeframe_seconds(timeframe) * 1000
