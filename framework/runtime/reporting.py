"""What a run tells people: the start-up summary, the status snapshot, the end-of-run summary."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from sparkstacker.engine.setup import hedge_instance
from sparkstacker.model import ZERO, AccountState, from_millis
from sparkstacker.runtime.feeds import ReplayFeed
from sparkstacker.runtime.paper_venue import PaperVenue
from sparkstacker.runtime.rules import NOT_DEFAULT, trade_check
from sparkstacker.runtime.snapshot import account_row, engine_state
from sparkstacker.runtime.wiring import account_list

if TYPE_CHECKING:
    from sparkstacker.runtime.runtime import Runtime


class Reporter(Protocol):
    """Where the runtime tells a person what happens (the CLI prints; tests collect)."""

    def summary(self, title: str, lines: list[str]) -> None: ...
    def note(self, text: str) -> None: ...
    def progress(self, status: dict[str, Any]) -> None: ...


class QuietReporter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def summary(self, title: str, lines: list[str]) -> None:
        self.lines.extend([title, *lines])

    def note(self, text: str) -> None:
        self.lines.append(text)

    def progress(self, status: dict[str, Any]) -> None:
        return None


def start_lines(rt: Runtime) -> list[str]:
    """The start-up summary: rules, data, pace, strategies (and which cannot trade), accounts,
    recovery, where the journal, logs, metrics and state are."""
    engine, rules, observers = rt.engine, rt.rules, rt.observers
    assert engine is not None
    assert rules is not None
    assert observers is not None
    mode = rt.options.mode
    lines = [f"run {rt.run_id} ({mode}{', simulated accounts' if mode == 'paper' else ''})"]
    lines.append(
        f"rules: {', '.join(rules.refs)}" + (" (default example)" if rules.default else "")
    )
    if rules.default:
        lines.extend(f"  not run by default: {ref} — {why}" for ref, why in NOT_DEFAULT.items())
    lines.extend(f"data: {m.label or m.symbol}" for m in rt.markets)
    if isinstance(rt.feed, ReplayFeed):
        speed = rt.feed.speed
        pace = "as fast as possible" if speed is None else f"{speed:g}x real time"
        start = from_millis(min(m.start_ms for m in rt.markets)).isoformat()
        lines.append(f"replay: {rt.feed.pending()} bar(s) from {start} at {pace}")
    for slot in engine.slots:
        equity = engine.accounting.equity(slot.venue)
        mark = engine.accounting.mark(slot.venue, slot.symbol) or Decimal(1)
        why = trade_check(slot.plan, slot.instrument, mark, equity, rt.registry)
        text = (
            f"strategy {slot.name}: {slot.symbol} {slot.plan.timeframe} on {slot.venue}, "
            f"{slot.plan.leverage}x"
        )
        if slot.plan.hedge is not None:
            text += f", hedge {slot.plan.hedge.ratio:%} on {hedge_instance(slot.plan)}"
        lines.append(text)
        if why is not None:
            note = f"{slot.name} will not trade as configured: {why}"
            lines.append(f"  {note}")
            rt.notes.append(note)
    for name, venue in rt.venues.items():
        if isinstance(venue, PaperVenue):
            lines.append(
                f"account {name}: equity {venue.account_state().equity:.2f} USD (simulated)"
            )
    if rt.reconcile_report is not None:
        lines.extend(f"recovery: {line}" for line in rt.reconcile_report.lines())
    lines.append(f"journal: {rt.journal.display_url if rt.journal else ''}")
    lines.append(f"logs: {observers.files.log_dir}")
    if observers.metrics_url:
        lines.append(f"metrics: {observers.metrics_url}")
    lines.append(f"state: {rt.state.root} (spark-stacker status | stop [--flatten])")
    return lines


def governor_state(rt: Runtime) -> str:
    """The account governor's state to show: the governor's own when the rules configure one,
    else ACTIVE — or FLATTEN once the operator's kill switch engaged (it flattens with or
    without a governor)."""
    engine = rt.engine
    if engine is not None and engine.governor is not None:
        return engine.governor.state.name
    engaged = rt.kill_switch is not None and rt.kill_switch.engaged
    return "FLATTEN" if engaged else "ACTIVE"


def status_dict(rt: Runtime, state: str) -> dict[str, Any]:
    """What ``run.json`` holds (``spark-stacker status`` shows it)."""
    engine = rt.engine
    accounts: list[AccountState] = (
        account_list(rt.paper)
        if rt.paper
        else list(rt.observers.last_accounts.values() if rt.observers else [])
    )
    governor = engine.governor if engine is not None else None
    reloader = rt.reloader
    return {
        "status": state,
        "pid": os.getpid(),
        "run_id": rt.run_id,
        "mode": rt.options.mode,
        "feed": rt.options.feed if rt.options.mode == "paper" else "venue",
        "accounts": rt.account_ids(),
        "rules": list(rt.rules.refs) if rt.rules else [],
        "bars": rt.bars,
        "bars_total": getattr(rt.feed, "total", None),
        "bar_time": from_millis(rt.last_bar_ms).isoformat() if rt.last_bar_ms else None,
        "journal": rt.journal.display_url if rt.journal else None,
        "metrics_url": rt.observers.metrics_url if rt.observers else None,
        "log_dir": str(rt.observers.files.log_dir) if rt.observers else None,
        "data": {m.symbol: m.label for m in rt.markets},
        "equity": [account_row(a) for a in accounts],
        "engine": engine_state(engine, governor_state(rt)) if engine is not None else None,
        "governor_state": None
        if governor is None
        else {
            "peak": governor.peak if governor.peak != float("-inf") else 0.0,
            "day_start_equity": governor.day_start_equity,
            "next_reset_ms": governor.next_reset_ms,
            "manual": governor.manual.name if governor.manual is not None else None,
        },
        "reload": None
        if reloader is None
        else {
            "reloads": reloader.reloads,
            "refused": reloader.failures,
            "last_error": reloader.last_error,
        },
        "recovery": rt.reconcile_report.to_dict() if rt.reconcile_report else None,
        "notes": rt.notes,
        "stop_reason": rt.stop_reason or None,
    }


def run_summary(rt: Runtime, status: str) -> dict[str, Any]:
    """The end-of-run summary (kept in the journal's ``runs.summary``)."""
    engine = rt.engine
    summary: dict[str, Any] = {
        "status": status,
        "bars": rt.bars,
        "wall_seconds": round(time.monotonic() - rt.started_wall, 3),
        "stop_reason": rt.stop_reason or None,
        "notes": rt.notes,
    }
    if engine is not None:
        legs = engine.book.legs()
        summary.update(
            orders=engine.orders.summary(),
            fills=len(engine.orders.fills),
            signals=engine.events.signals,
            realized_pnl=str(sum((leg.realized_pnl for leg in legs), ZERO)),
            fees=str(sum((leg.fees for leg in legs), ZERO)),
            funding=str(engine.events.funding_paid),
            positions={
                f"{leg.strategy}/{leg.role} {leg.venue} {leg.symbol}": str(leg.size)
                for leg in legs
                if leg.size != 0
            },
        )
    if rt.paper:
        summary["equity"] = {a.venue: str(a.equity) for a in account_list(rt.paper)}
        summary["simulated"] = True
    if rt.reconcile_report is not None:
        summary["recovery"] = rt.reconcile_report.to_dict()
    return summary


def summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = [f"bars: {summary.get('bars')}  wall time: {summary.get('wall_seconds')} s"]
    orders = summary.get("orders")
    if orders:
        lines.append(
            f"this run: {orders['submitted']} orders sent, {orders['rejected']} rejected, "
            f"{orders['vetoed']} vetoed; {summary.get('fills')} fills; "
            f"{summary.get('signals')} signals"
        )
        pnl, fees = Decimal(summary["realized_pnl"]), Decimal(summary["fees"])
        funding = Decimal(summary["funding"])
        lines.append(
            f"account since it started: realised PnL {pnl:.2f} USD, fees {fees:.2f} USD, "
            f"funding {funding:.4f} USD"
        )
    for venue, equity in (summary.get("equity") or {}).items():
        lines.append(f"equity {venue}: {Decimal(equity):.2f} USD (simulated)")
    for name, size in (summary.get("positions") or {}).items():
        lines.append(f"open position {name}: {size} (left open)")
    if summary.get("stop_reason"):
        lines.append(f"stopped by: {summary['stop_reason']}")
    lines.extend(summary.get("notes") or [])
    return lines
