"""Journal write throughput: orders journaled the way the engine journals a filled market order.

Per order: ``record_intent``, the engine's ``intent`` event (a no-op), ``submitted``,
``record_fill`` and the ``fill`` event — five calls, each its own committed transaction,
writing 6 rows (orders, order_intents, 3 × order_events, fills) plus 2 order updates.

    python benchmarks/bench_journal.py [--orders 2000] [--postgres postgresql://…/test]

PostgreSQL is measured when ``--postgres`` or SPARKSTACKER_TEST_POSTGRES_URL is given (a
scratch database is created and dropped). Numbers vary with the disk: ``full`` fsyncs every
commit.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sparkstacker.journal import Durability, Journal
from sparkstacker.journal.database import parse_url
from sparkstacker.model import (
    Fill,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    OrderType,
    Side,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CALLS_PER_ORDER = 5
ROWS_PER_ORDER = 6


def journal_orders(journal: Journal, count: int) -> float:
    """Journal ``count`` filled orders; returns elapsed seconds."""
    run_id = journal.start_run("backtest", [], {"bench": True})
    start = time.perf_counter()
    for n in range(count):
        at = T0 + timedelta(minutes=n)
        order = Order(
            client_order_id=f"{run_id[:12]}-o-{n}",
            venue="sim",
            symbol="ETH-USD",
            side=Side.BUY if n % 2 else Side.SELL,
            type=OrderType.MARKET,
            size=Decimal("0.5"),
            created_at=at,
        )
        journal.record_intent(run_id, order, strategy="bench", reason=None)
        journal.record_order_event(
            run_id, OrderEvent(kind=OrderEventKind.INTENT, order=order, timestamp=at)
        )
        submitted = order.transition(OrderStatus.SUBMITTED, at=at)
        journal.record_order_event(
            run_id, OrderEvent(kind=OrderEventKind.SUBMITTED, order=submitted, timestamp=at)
        )
        fill = Fill(
            fill_id=f"f{n}",
            client_order_id=order.client_order_id,
            venue="sim",
            symbol="ETH-USD",
            side=order.side,
            price=Decimal("2500.5"),
            size=order.size,
            fee=Decimal("0.625"),
            timestamp=at,
        )
        journal.record_fill(run_id, fill)
        journal.record_order_event(
            run_id,
            OrderEvent(
                kind=OrderEventKind.FILL, order=submitted.apply_fill(fill), timestamp=at, fill=fill
            ),
        )
    return time.perf_counter() - start


@contextmanager
def scratch_postgres(base: str) -> Iterator[str]:
    name = f"ssj_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(parse_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield parse_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def measure(label: str, url: str, durability: Durability, count: int) -> None:
    with Journal(url, durability=durability) as journal:
        journal_orders(journal, min(50, count))  # warm up connections and caches
        elapsed = journal_orders(journal, count)
    print(
        f"{label:<10} {durability:<5} {count / elapsed:9.0f} orders/s "
        f"{count * CALLS_PER_ORDER / elapsed:9.0f} record calls/s "
        f"{count * ROWS_PER_ORDER / elapsed:9.0f} rows/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--postgres", default=os.environ.get("SPARKSTACKER_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    durabilities: tuple[Durability, ...] = ("full", "fast")
    print(f"journaling {args.orders} filled orders ({CALLS_PER_ORDER} calls each)")
    with tempfile.TemporaryDirectory() as folder:
        for durability in durabilities:
            path = Path(folder) / f"{durability}.db"
            measure("sqlite", f"sqlite:///{path}", durability, args.orders)
    if args.postgres:
        for durability in durabilities:
            with scratch_postgres(args.postgres) as url:
                measure("postgresql", url, durability, args.orders)
    else:
        print("postgresql skipped: pass --postgres URL or set SPARKSTACKER_TEST_POSTGRES_URL")


if __name__ == "__main__":
    main()
