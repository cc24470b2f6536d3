"""What the journal cannot explain blocks entries on that market until it reconciles or is resolved.

Between two runs, somebody trades the paper account by hand (an order the journal never saw):
the restarted run records risk events and opens nothing new on that market; ``spark-stacker
resolve`` accepts the position, a cancelled stray order reconciles by itself, and the next run
trades again.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from runkit import RULES, run_args, spark
from sparkstacker.data.source import load_frame
from sparkstacker.data.store import CandleStore
from sparkstacker.journal import Journal
from sparkstacker.model import Order, OrderType, Side, TimeInForce
from sparkstacker.registry import Registry
from sparkstacker.runtime.paper_venue import PaperVenue, read_venue_log
from sparkstacker_plugins.exchanges.sim.options import SimOptions

pytestmark = pytest.mark.slow
HEDGED = str(RULES / "hedged_flip.rules")


def trade_by_hand(state_dir: Path, store: Path) -> None:
    """Open the paper account outside the runtime: a market buy that fills, a far resting sell."""
    path = state_dir / "paper" / "hyperliquid.jsonl"
    header, _ = read_venue_log(path)
    venue = PaperVenue.open(
        path, "hyperliquid", SimOptions.model_validate(header.options), registry=Registry.load()
    )
    frame, _ = load_frame(CandleStore(store), "hyperliquid", "ETH-USD", "1m")
    last, _ = venue.market_time("ETH-USD")
    i = int(np.searchsorted(frame.timestamp, last, side="right"))
    manual = Order(
        client_order_id="manual-1",
        venue="hyperliquid",
        symbol="ETH-USD",
        side=Side.BUY,
        type=OrderType.MARKET,
        tif=TimeInForce.IOC,
        size=Decimal("0.05"),
    )
    stray = Order(
        client_order_id="manual-2",
        venue="hyperliquid",
        symbol="ETH-USD",
        side=Side.SELL,
        price=Decimal("3500"),
        size=Decimal("0.01"),
    )
    asyncio.run(venue.submit(manual))
    asyncio.run(venue.submit(stray))
    venue.on_bar_open(
        "ETH-USD",
        int(frame.timestamp[i]),
        float(frame.open[i]),
        float(frame.high[i]),
        float(frame.low[i]),
        float(frame.close[i]),
        float(frame.volume[i]),
    )
    venue.on_bar_close("ETH-USD")
    venue.log.close()


def cancel_by_hand(state_dir: Path) -> None:
    path = state_dir / "paper" / "hyperliquid.jsonl"
    header, _ = read_venue_log(path)
    venue = PaperVenue.open(
        path, "hyperliquid", SimOptions.model_validate(header.options), registry=Registry.load()
    )
    stray = [o for o in asyncio.run(venue.open_orders()) if o.client_order_id == "manual-2"]
    asyncio.run(venue.cancel(stray[0]))
    venue.log.close()


def new_main_entries(db: str, run_index: int) -> list[Order]:
    with Journal(db, durability="fast") as journal:
        run = sorted(journal.runs(mode="paper"), key=lambda r: r.started_at)[run_index]
        return [
            o
            for o in journal.orders(run.id)
            if o.leg == "main" and not o.reduce_only and o.annotations.get("origin") == "strategy"
        ]


def test_manual_trades_block_entries_until_resolved(tmp_path: Path, sample_store: Path) -> None:
    db = f"sqlite:///{tmp_path / 'spark_stacker.db'}"
    state = tmp_path / "spark_stacker_state"
    first = spark(tmp_path, *run_args(sample_store, db, HEDGED, bars=120))
    assert first.returncode == 0, first.stderr
    trade_by_hand(state, sample_store)

    second = spark(tmp_path, *run_args(sample_store, db, HEDGED, bars=200))
    assert second.returncode == 0, second.stderr
    with Journal(db, durability="fast") as journal:
        events = {e.kind: e for e in journal.risk_events(unresolved_only=True)}
    assert set(events) == {"unexplained_position", "unexplained_order"}
    position = events["unexplained_position"]
    assert (position.venue, position.symbol) == ("hyperliquid", "ETH-USD")
    assert position.blocks_entries
    assert position.data is not None
    assert Decimal(position.data["drift"]) == Decimal("0.05")  # the hand-made buy
    assert "manual-2" in events["unexplained_order"].message
    assert new_main_entries(db, 1) == [], "entries were opened on a blocked market"
    with Journal(db, durability="fast") as journal:
        blocked_run = sorted(journal.runs(mode="paper"), key=lambda r: r.started_at)[1]
    assert blocked_run.summary is not None
    assert blocked_run.summary["signals"] > 0

    resolved = spark(tmp_path, "resolve", str(position.id), "--db", db, "--note", "my test trade")
    assert resolved.returncode == 0, resolved.stderr
    cancel_by_hand(state)

    third = spark(tmp_path, *run_args(sample_store, db, HEDGED, bars=200))
    assert third.returncode == 0, third.stderr
    with Journal(db, durability="fast") as journal:
        left = journal.risk_events(unresolved_only=True)
        everything = {e.id: e for e in journal.risk_events()}
    assert left == []
    assert everything[position.id].resolution == "accepted by operator: my test trade"
    assert everything[events["unexplained_order"].id].resolution is not None
    assert new_main_entries(db, 2), "after resolving, the strategy trades again"
    status = json.loads((state / "run.json").read_text())
    assert status["recovery"]["unexplained"] == []
