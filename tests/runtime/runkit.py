"""Helpers for the runtime tests: real ``spark-stacker`` child processes and what they leave.

The checks read the two independent records a run leaves behind — the journal (the engine's
write-ahead record) and the paper venue's own input log (what the venue received) — and
compare them; neither is derived from the other.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sparkstacker.journal import Journal
from sparkstacker.model import Fill, Order, OrderStatus
from sparkstacker.registry import Registry
from sparkstacker.runtime.paper_venue import PaperVenue, read_venue_log
from sparkstacker.runtime.recovery import NEVER_REACHED

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"
SCRIPT = Path(sys.executable).with_name("spark-stacker")


def command(*args: str) -> list[str]:
    if SCRIPT.exists():
        return [str(SCRIPT), *args]
    return [sys.executable, "-c", "from sparkstacker.cli import main; main()", *args]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
    env["SPARKSTACKER_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(extra or {})
    return env


def spark(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), cwd=cwd, env=child_env(env), capture_output=True, text=True, timeout=timeout
    )


def spark_background(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args),
        cwd=cwd,
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_args(
    store: Path, db: str, *extra: str, bars: int = 300, speed: str = "max", quiet: bool = True
) -> list[str]:
    """``run <extra…>`` over ``store`` into ``db``, metrics on a free port."""
    return [
        "run",
        *extra,
        "--data",
        str(store),
        "--db",
        db,
        "--speed",
        speed,
        "--bars",
        str(bars),
        "--metrics-port",
        "0",
        *(["--quiet"] if quiet else []),
    ]


@dataclass
class VenueView:
    """A paper account rebuilt from its own log, independently of the journal."""

    name: str
    submissions: Counter[str]
    fills: list[Fill]
    orders: dict[str, Order]
    positions: dict[str, Decimal]


def venue_views(state_dir: Path) -> dict[str, VenueView]:
    registry = Registry.load(autoload=False)
    views = {}
    for path in sorted((state_dir / "paper").glob("*.jsonl")):
        header, records = read_venue_log(path)
        submissions = Counter(
            str(r["order"]["client_order_id"]) for r in records if r["k"] == "submit"
        )
        from sparkstacker_plugins.exchanges.sim.options import SimOptions

        venue = PaperVenue.open(
            path, header.venue, SimOptions.model_validate(header.options), registry=registry
        )
        try:
            fills = asyncio.run(venue.fills())
            orders = {cloid: wo.order for cloid, wo in venue.sim._core.orders.items()}
            account = venue.account_state()
            positions = {p.symbol: p.size for p in account.positions if not p.is_flat}
        finally:
            venue.log.close()
        views[header.venue] = VenueView(header.venue, submissions, fills, orders, positions)
    return views


@dataclass
class JournalView:
    orders: dict[str, Order]
    fills: list[Fill]
    unacknowledged: list[Order]
    runs: list[Any]


def journal_view(db: str) -> JournalView:
    with Journal(db, durability="fast") as journal:
        runs = journal.runs(mode="paper")
        orders: dict[str, Order] = {}
        fills: list[Fill] = []
        for run in runs:
            orders.update({o.client_order_id: o for o in journal.orders(run.id)})
            fills.extend(journal.fills(run.id))
        unack = journal.unacknowledged_intents(mode="paper")
    return JournalView(orders, fills, unack, runs)


def journal_positions(fills: list[Fill]) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    for fill in fills:
        key = (fill.venue, fill.symbol)
        out[key] = out.get(key, Decimal(0)) + fill.signed_size
    return {k: v for k, v in out.items() if v != 0}


def assert_consistent(state_dir: Path, db: str) -> tuple[dict[str, VenueView], JournalView]:
    """The invariants every crash/restart must leave, checked journal against venue."""
    venues = venue_views(state_dir)
    journal = journal_view(db)
    for view in venues.values():
        twice = {cloid: n for cloid, n in view.submissions.items() if n > 1}
        assert not twice, f"{view.name}: client order ids sent more than once: {twice}"
        for cloid in view.submissions:
            assert cloid in journal.orders, (
                f"{cloid} reached {view.name} without a journaled intent"
            )
    assert journal.unacknowledged == [], "intents whose venue outcome is still unknown"
    sent = {cloid for v in venues.values() for cloid in v.submissions}
    for cloid, order in journal.orders.items():
        if order.status is OrderStatus.REJECTED and order.reason == NEVER_REACHED:
            assert cloid not in sent, f"{cloid} marked never-reached but the venue has it"
        elif order.reason is None or "vetoed" not in order.reason:
            assert cloid in sent, f"journal order {cloid} ({order.status}) never reached a venue"
    venue_fills = {(f.venue, f.fill_id): f for v in venues.values() for f in v.fills}
    journal_fills = {(f.venue, f.fill_id): f for f in journal.fills}
    assert set(journal_fills) == set(venue_fills), (
        f"lost fills: {sorted(set(venue_fills) - set(journal_fills))}; "
        f"unknown fills: {sorted(set(journal_fills) - set(venue_fills))}"
    )
    assert len(journal.fills) == len(journal_fills), "a fill is journaled twice"
    for key, fill in venue_fills.items():
        mine = journal_fills[key]
        assert (mine.size, mine.price, mine.side, mine.client_order_id) == (
            fill.size,
            fill.price,
            fill.side,
            fill.client_order_id,
        )
    on_venue = {(v.name, s): size for v in venues.values() for s, size in v.positions.items()}
    assert journal_positions(journal.fills) == on_venue
    for cloid, order in journal.orders.items():
        venue_order = next((v.orders[cloid] for v in venues.values() if cloid in v.orders), None)
        if venue_order is None:
            continue
        assert order.filled_size == venue_order.filled_size, cloid
        assert order.is_open == venue_order.is_open, (cloid, order.status, venue_order.status)
    return venues, journal
