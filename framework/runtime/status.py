"""``spark-stacker status``: the running process's state file plus what the journal says.

Works whether or not a run is going: the state file (``run.json``) holds the last snapshot the
process wrote (positions per strategy and leg, open orders, equity with its simulated flag,
governor, blocks), and the journal adds unresolved risk events and the open orders it knows.
"""

from __future__ import annotations

from typing import Any

from sparkstacker.journal import Journal
from sparkstacker.runtime.state import StateDir


def collect_status(state: StateDir, journal: Journal | None) -> dict[str, Any]:
    snapshot = state.read_status() or {}
    holder = state.holder()
    running = holder is not None
    out: dict[str, Any] = {
        "running": running,
        "pid": holder if running else None,
        "state_dir": str(state.root),
        "snapshot": snapshot,
    }
    if not running and snapshot.get("status") == "running":
        out["note"] = (
            "the last run did not shut down cleanly (killed or crashed); the next "
            "`spark-stacker run` or `resume` recovers from the journal"
        )
    if journal is None:
        return out
    mode = snapshot.get("mode")
    runs = journal.runs(mode=mode, limit=5) if mode else journal.runs(limit=5)
    out["runs"] = [
        {
            "id": r.id,
            "mode": r.mode,
            "status": r.status,
            "started_at": r.started_at.isoformat(),
            "ended_at": r.ended_at.isoformat() if r.ended_at else None,
        }
        for r in runs
        if r.mode != "backtest"
    ]
    open_orders = []
    for run in journal.runs():
        if run.mode == "backtest":
            continue
        for o in journal.orders(run.id, open_only=True):
            open_orders.append(
                {
                    "client_order_id": o.client_order_id,
                    "venue": o.venue,
                    "symbol": o.symbol,
                    "side": o.side.value,
                    "type": o.type.value,
                    "size": str(o.size),
                    "status": o.status.value,
                    "strategy": o.strategy,
                    "mode": run.mode,
                }
            )
    out["journal_open_orders"] = open_orders
    out["risk_events"] = [
        {
            "id": e.id,
            "kind": e.kind,
            "severity": e.severity,
            "venue": e.venue,
            "symbol": e.symbol,
            "blocks_entries": e.blocks_entries,
            "message": e.message,
            "created_at": e.created_at.isoformat(),
        }
        for e in journal.risk_events(unresolved_only=True)
        if e.blocks_entries
    ]
    return out
