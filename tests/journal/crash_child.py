"""Child process for the durability tests: journals something, then dies by SIGKILL.

Usage: ``python crash_child.py URL [logged_]SCENARIO ORDER_JSON [COUNT]``. SIGKILL runs no
cleanup: no atexit, no finally, no connection close, so what the parent finds afterwards is
exactly what was committed. The ``writer`` scenario exits normally after writing COUNT orders.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sparkstacker.journal import Journal
from sparkstacker.model import Fill, Order, OrderEvent, OrderEventKind, OrderStatus
from sqlalchemy import event


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def step(journal: Journal, run_id: str, order: Order, kind: OrderEventKind, **kw: Any) -> Order:
    journal.record_order_event(
        run_id,
        OrderEvent(kind=kind, order=order, timestamp=order.updated_at or order.created_at, **kw),
    )
    return order


def main() -> None:
    url, scenario, order_json = sys.argv[1:4]
    order = Order.model_validate_json(order_json)
    # ``logged_<scenario>``: the journal a paper/live run opens (intents go to the intent log)
    logged = scenario.startswith("logged_")
    scenario = scenario.removeprefix("logged_")
    journal = Journal(url, intent_log=logged)
    run_id = journal.start_run("live", [], {"scenario": scenario})
    later = order.created_at + timedelta(seconds=1)
    if scenario == "writer":
        count = int(sys.argv[4])
        for n in range(count):
            write_one(journal, run_id, order.model_copy(update={"client_order_id": f"w{n}"}))
        journal.close()
        return
    journal.record_intent(run_id, order, strategy="crash", reason="test")
    if scenario == "intent":
        die()
    submitted = order.transition(OrderStatus.SUBMITTED, at=later)
    if scenario == "mid_event":

        def kill_on_order_update(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("UPDATE ORDERS"):
                die()

        event.listen(journal.engine, "after_cursor_execute", kill_on_order_update)
        step(journal, run_id, submitted, OrderEventKind.SUBMITTED)
        raise SystemExit("unreachable: the order update should have killed this process")
    step(journal, run_id, submitted, OrderEventKind.SUBMITTED)
    if scenario == "submitted":
        die()
    accepted = submitted.transition(OrderStatus.ACCEPTED, at=later, venue_order_id="v-1")
    step(journal, run_id, accepted, OrderEventKind.ACCEPTED, venue_status="resting")
    if scenario == "accepted":
        die()
    raise SystemExit(f"unknown scenario {scenario!r}")


def write_one(journal: Journal, run_id: str, order: Order) -> None:
    """Intent, submit, accept and a full fill: four commits, like the engine does per order."""
    journal.record_intent(run_id, order, strategy="writer", reason=None)
    at = order.created_at + timedelta(seconds=1)
    submitted = step(
        journal, run_id, order.transition(OrderStatus.SUBMITTED, at=at), OrderEventKind.SUBMITTED
    )
    accepted = step(
        journal, run_id, submitted.transition(OrderStatus.ACCEPTED, at=at), OrderEventKind.ACCEPTED
    )
    fill = Fill(
        fill_id=f"fill-{order.client_order_id}",
        client_order_id=order.client_order_id,
        venue=order.venue,
        symbol=order.symbol,
        side=order.side,
        price=order.price or Decimal(1),
        size=order.size,
        timestamp=at,
    )
    step(journal, run_id, accepted.apply_fill(fill), OrderEventKind.FILL, fill=fill)


if __name__ == "__main__":
    main()
