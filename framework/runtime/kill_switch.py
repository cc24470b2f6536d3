"""Stopping: the kill switch (``stop --flatten``) and what a graceful stop leaves behind."""

from __future__ import annotations

import logging

from sparkstacker.engine.engine import Engine
from sparkstacker.risk.governor import GovernorState
from sparkstacker.runtime.recovery import ensure_protection

log = logging.getLogger("sparkstacker.runtime")
FLATTEN_WAIT_BARS = 20


class KillSwitch:
    """Cancel every order, close every position (main and hedge legs), then let the run stop.

    The governor is forced to FLATTEN (so nothing re-opens) and entries are blocked on every
    market. Market orders need a bar (paper) or the venue (live) to fill, so the run keeps
    feeding bars until it is flat, at most :data:`FLATTEN_WAIT_BARS` bars.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.until: int | None = None

    @property
    def engaged(self) -> bool:
        """The operator flattened: FLATTEN whether or not the rules configure a governor."""
        return self.until is not None

    async def step(self, bars: int, *, needs_bar: bool) -> bool:
        """First call flattens; True once flat (or after the bounded wait)."""
        engine = self.engine
        if self.until is None:
            self.until = bars + FLATTEN_WAIT_BARS
            log.warning("kill switch: flattening (governor forced to FLATTEN)")
            if engine.governor is not None:
                engine.governor.force(GovernorState.FLATTEN)
            for slot in engine.slots:
                engine.block_entries(slot.venue, slot.symbol, "operator kill switch")
            await engine.flatten(reason="operator kill switch", origin="operator")
            engine.record_risk_event("kill_switch", "critical", "operator kill switch: flatten")
            return not needs_bar and self.flat()
        if self.flat():
            return True
        if bars >= self.until:
            log.error("kill switch: still not flat after %d bars; stopping", FLATTEN_WAIT_BARS)
            return True
        if not engine.orders.open_orders():
            await engine.flatten(reason="operator kill switch (retry)", origin="operator")
        return False

    def flat(self) -> bool:
        engine = self.engine
        open_legs = any(leg.size != 0 for leg in engine.book.legs())
        return not open_legs and not engine.orders.open_orders()


async def leave_protected(engine: Engine) -> None:
    """Cancel working entries and exits; every position left keeps its stop / target (a flip
    cancelled at shutdown had already taken the old side's protection away)."""
    await engine.orders.cancel_all(
        keep=lambda o: o.annotations.get("origin") == "protective", reason="shutdown"
    )
    for slot in engine.slots:
        slot.entry_order = slot.exit_order = None
        if await ensure_protection(engine, slot):
            log.info("%s: stop / target re-placed for the position left open", slot.name)
