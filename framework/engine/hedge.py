"""Position groups: a main leg and an opposite hedge leg that succeed or unwind together.

The coordinator tracks one target per group: the hedge leg should hold
``-ratio × (the main leg's *filled* size)``, rounded down to the hedge instrument's lot. After
every main-leg order ends it compares the hedge with that target and sends the difference —
so an entry, a partial fill, an exit, a stop-out and a flip all follow from one rule, and a
restart resumes by recomputing the target. The protocol is:

    open main → confirm its filled size → size the hedge from it → open hedge → confirm

If the hedge is not filled within the rule's window, the rule decides: ``unwind`` closes the
main leg (and with it the hedge), ``retry n`` sends the missing part again up to n times,
``keep`` leaves the main unhedged and records a risk event. Every step is journaled as a group
event. A failed hedge is never counted as done (the original system's silent failure).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sparkstacker.engine.positions import Leg
from sparkstacker.engine.slots import StrategySlot
from sparkstacker.errors import ConfigError, LeverageMismatch, ModelError
from sparkstacker.lang.plan import HedgeSpec
from sparkstacker.model import ZERO, Instrument, MarginMode, Order, OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from sparkstacker.engine.engine import Engine

log = logging.getLogger("sparkstacker.engine.hedge")


class GroupState(StrEnum):
    FLAT = "flat"
    HEDGING = "hedging"  # a hedge order is working
    HEDGED = "hedged"
    UNHEDGED = "unhedged"  # ``keep`` after a failed hedge: main leg open without its hedge
    UNWINDING = "unwinding"  # closing the main leg because the hedge failed


@dataclass
class PositionGroup:
    """One main leg and its hedge leg, with one lifecycle."""

    group_id: str
    slot: StrategySlot
    spec: HedgeSpec
    venue: str  # the hedge leg's venue instance
    symbol: str
    instrument: Instrument
    leg: Leg
    state: GroupState = GroupState.FLAT
    order: Order | None = None
    deadline_ms: int | None = None
    attempts: int = 0
    failures: int = 0
    unhedged_at: Decimal | None = None  # main size when the group went UNHEDGED
    history: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def main(self) -> Leg:
        return self.slot.leg

    def target(self) -> Decimal:
        """The hedge size the filled main size calls for (signed, lot-rounded towards zero)."""
        raw = -self.main.size * self.spec.ratio
        lots = (abs(raw) / self.instrument.lot_size).to_integral_value(rounding=ROUND_DOWN)
        size = lots * self.instrument.lot_size
        return size if raw > 0 else -size

    def combined_pnl(self, engine: Engine) -> Decimal:
        """Realised and unrealised PnL of both legs (after fees and funding)."""
        total = ZERO
        for leg in (self.main, self.leg):
            total += leg.realized_pnl - leg.fees - leg.funding
            mark = engine.accounting.mark(leg.venue, leg.symbol)
            if mark is not None:
                total += leg.unrealized(mark)
        return total

    def exposure(self, engine: Engine) -> Decimal:
        """Net notional of the group: main minus hedge (what the pair is exposed to)."""
        total = ZERO
        for leg in (self.main, self.leg):
            mark = engine.accounting.mark(leg.venue, leg.symbol) or leg.entry_price or ZERO
            total += leg.size * mark
        return total


class HedgeCoordinator:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.groups: dict[str, PositionGroup] = {}  # by strategy name

    def group_of(self, slot: StrategySlot) -> PositionGroup | None:
        return self.groups.get(slot.name)

    # ---- set-up -------------------------------------------------------------------------------

    def register(self, slot: StrategySlot, venue: str) -> None:
        spec = slot.plan.hedge
        assert spec is not None
        if venue not in self.engine.venues:
            raise ConfigError(
                f"strategy {slot.name!r} hedges on {venue!r}, which is not connected "
                f"(connected: {', '.join(sorted(self.engine.venues))})"
            )
        symbol = spec.symbol or slot.symbol
        leg = self.engine.book.leg(venue, symbol, slot.name, "hedge")
        group_id = f"{self.engine.run.run_id[:12]}-{slot.name}"
        slot.extras["group_id"] = group_id
        self.groups[slot.name] = PositionGroup(
            group_id=group_id,
            slot=slot,
            spec=spec,
            venue=venue,
            symbol=symbol,
            instrument=slot.instrument,
            leg=leg,
        )

    async def start(self) -> None:
        """Bind the hedge instruments and apply + verify the hedge leverage on its venue."""
        for group in self.groups.values():
            instrument = self.engine.instruments.get((group.venue, group.symbol))
            if instrument is None:
                raise ConfigError(
                    f"strategy {group.slot.name!r}: hedge market {group.symbol} is not listed "
                    f"on {group.venue}"
                )
            group.instrument = instrument
            try:
                instrument.check_leverage(group.spec.leverage)
            except ModelError as exc:
                raise ConfigError(f"strategy {group.slot.name!r} hedge: {exc}") from exc
            mode = MarginMode.ISOLATED if instrument.only_isolated else MarginMode.CROSS
            venue = self.engine.venues[group.venue]
            setting = await venue.set_leverage(group.symbol, group.spec.leverage, mode)
            readback = await venue.leverage(group.symbol)
            for seen in (setting, readback):
                if seen.leverage != group.spec.leverage:
                    raise LeverageMismatch(
                        f"hedge of {group.slot.name!r} configured {group.spec.leverage}x on "
                        f"{group.symbol} but {group.venue} applies {seen.leverage}x; "
                        "refusing to trade",
                        venue=group.venue,
                    )

    # ---- the protocol -------------------------------------------------------------------------

    def _journal(self, group: PositionGroup, step: str, **data: Any) -> None:
        now = self.engine.clock.now_ms()
        group.history.append((now, step, data))
        journal = self.engine.journal
        if journal is not None:
            payload = {k: str(v) for k, v in data.items()}
            payload["state"] = group.state.value
            journal.record_group_event(self.engine.run.run_id, group.group_id, step, payload)

    async def sync(self, slot: StrategySlot) -> None:
        """Bring the hedge leg to its target after the main leg changed (or at start-up)."""
        group = self.groups.get(slot.name)
        if group is None:
            return
        if group.order is not None:
            current = self.engine.orders.get(group.order.client_order_id) or group.order
            if current.is_open:
                return  # the working hedge order decides first (see on_hedge_done / deadline)
            group.order = None
        target = group.target()
        delta = target - group.leg.size
        if delta == 0:
            new_state = GroupState.FLAT if group.main.size == 0 else GroupState.HEDGED
            if group.state is not new_state:
                group.state = new_state
                self._journal(group, "in_balance", main=group.main.size, hedge=group.leg.size)
            return
        if group.state is GroupState.UNHEDGED:
            if group.main.size == group.unhedged_at and group.main.size != 0:
                return  # ``keep`` / margin action: stay unhedged until the main leg changes
            group.unhedged_at = None
        await self._send(group, delta, reason="hedge to target")

    async def _send(self, group: PositionGroup, delta: Decimal, *, reason: str) -> None:
        engine = self.engine
        side = Side.BUY if delta > 0 else Side.SELL
        reduces = (
            group.leg.size != 0
            and (group.leg.size > 0) != (delta > 0)
            and abs(delta) <= abs(group.leg.size)
        )
        size = abs(delta)
        mark = engine.accounting.mark(group.venue, group.symbol)
        if not reduces and mark is not None:
            try:
                group.instrument.check_notional(size, mark)
            except ModelError as exc:
                await self._failed(group, f"hedge cannot be placed: {exc}")
                return
        order = Order(
            client_order_id=engine.orders.next_client_order_id("hg"),
            venue=group.venue,
            symbol=group.symbol,
            side=side,
            type=OrderType.MARKET,
            tif=TimeInForce.IOC,
            size=size,
            reduce_only=reduces,
            leverage=None if reduces else group.spec.leverage,
            margin_mode=None if reduces else MarginMode.CROSS,
            strategy=group.slot.name,
            leg="hedge",
            group_id=group.group_id,
            created_at=engine.clock.now(),
            annotations={"reason": reason, "origin": "hedge"},
        )
        group.attempts += 1
        group.state = GroupState.HEDGING
        group.deadline_ms = engine.clock.now_ms() + int(group.spec.within.total_seconds() * 1000)
        self._journal(
            group,
            "hedge_sent",
            client_order_id=order.client_order_id,
            side=side.value,
            size=size,
            main=group.main.size,
            target=group.target(),
            attempt=group.attempts,
        )
        group.order = order
        group.order = await engine.orders.submit(order, reason=reason)
        await self.on_order_update(group)

    async def on_order_update(self, group: PositionGroup) -> None:
        """The hedge order moved: settle it when it ended."""
        if group.order is None:
            return
        current = self.engine.orders.get(group.order.client_order_id) or group.order
        group.order = current
        if not current.is_terminal:
            return
        group.order = None
        if current.outcome == "filled":
            group.attempts = 0
            if group.unhedged_at is not None and group.main.size == group.unhedged_at:
                group.state = GroupState.UNHEDGED  # closed on purpose (margin action)
                self._journal(group, "hedge_closed", size=current.filled_size)
                return
            group.state = GroupState.HEDGED if group.main.size != 0 else GroupState.FLAT
            self._journal(
                group, "hedge_filled", size=current.filled_size, price=current.avg_fill_price
            )
            if group.target() != group.leg.size:
                await self.sync(group.slot)
            return
        why = current.reason or current.status.value
        self._journal(
            group, "hedge_incomplete", filled=current.filled_size, size=current.size, reason=why
        )
        if current.reduce_only:
            # Closing the hedge failed: try again next time the main leg moves or on the deadline.
            self.engine.record_risk_event(
                "hedge_close_incomplete",
                "warning",
                f"{group.slot.name}: closing the hedge left {group.leg.size} open ({why})",
                venue=group.venue,
                symbol=group.symbol,
            )
            return
        await self._failed(group, f"hedge order {current.outcome}: {why}")

    async def _failed(self, group: PositionGroup, why: str) -> None:
        """Apply the rule's ``else`` policy to a hedge that did not complete."""
        spec = group.spec
        group.failures += 1
        if spec.on_timeout == "retry" and group.attempts <= spec.retries:
            self._journal(group, "hedge_retry", reason=why, attempt=group.attempts)
            delta = group.target() - group.leg.size
            if delta != 0:
                await self._send(group, delta, reason=f"retry {group.attempts}/{spec.retries}")
                return
        if spec.on_timeout == "keep":
            group.state = GroupState.UNHEDGED
            group.unhedged_at = group.main.size
            self._journal(group, "hedge_kept_unhedged", reason=why)
            self.engine.record_risk_event(
                "hedge_failed",
                "warning",
                f"{group.slot.name}: hedge failed ({why}); keeping the main leg unhedged as the "
                "rule says",
                venue=group.venue,
                symbol=group.symbol,
            )
            return
        group.state = GroupState.UNWINDING
        self._journal(group, "unwind", reason=why)
        self.engine.record_risk_event(
            "hedge_failed",
            "critical",
            f"{group.slot.name}: hedge failed ({why}); unwinding the main leg",
            venue=group.slot.venue,
            symbol=group.slot.symbol,
        )
        await self.engine.executor.exit(group.slot, reason=f"unwind: {why}", origin="hedge")

    async def check_deadlines(self) -> None:
        """A hedge order still working after the rule's window: cancel it and apply the policy."""
        now = self.engine.clock.now_ms()
        for group in self.groups.values():
            if group.order is None or group.deadline_ms is None or now <= group.deadline_ms:
                continue
            current = self.engine.orders.get(group.order.client_order_id) or group.order
            if current.is_open:
                self._journal(group, "hedge_timeout", waited_ms=now - (group.deadline_ms or now))
                await self.engine.orders.cancel(current, reason="hedge window elapsed")
            await self.on_order_update(group)

    async def close(self, slot: StrategySlot, *, reason: str) -> None:
        """Close the hedge leg now (margin action); the group stays open on the main leg."""
        group = self.groups.get(slot.name)
        if group is None or group.leg.size == 0:
            return
        group.unhedged_at = group.main.size  # do not re-hedge until the main leg changes size
        self._journal(group, "closing_hedge", reason=reason)
        await self._send(group, -group.leg.size, reason=reason)
