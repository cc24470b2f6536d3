"""The engine: wires strategies, venues, the order manager, positions, risk and plugins together.

Drivers (the backtest runner, the paper/live runtime) feed it venue events, clock ticks and bar
closes; the engine never reads a clock or a venue on its own initiative, which is what lets one
engine run backtests, paper runs and live runs unchanged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pluggy
from sparkstacker.context import RunContext
from sparkstacker.engine.accounting import Accounting
from sparkstacker.engine.clock import Clock
from sparkstacker.engine.context import BarContext
from sparkstacker.engine.execution import Executor, has_protective_work
from sparkstacker.engine.hedge import HedgeCoordinator
from sparkstacker.engine.journaling import EngineJournal
from sparkstacker.engine.monitor import PositionMonitor
from sparkstacker.engine.orders import OrderManager, RiskCheck
from sparkstacker.engine.positions import PositionBook
from sparkstacker.engine.slots import StrategySlot
from sparkstacker.errors import ConfigError, LeverageMismatch, ModelError
from sparkstacker.exchange import Exchange, VenueEvent
from sparkstacker.lang.plan import PortfolioPlan, StrategyPlan, StrategyState
from sparkstacker.model import (
    TERMINAL_STATUSES,
    ZERO,
    Direction,
    Fill,
    Instrument,
    MarginMode,
    Order,
    OrderEventKind,
    Signal,
    SignalEvent,
)
from sparkstacker.model.members import FLAT
from sparkstacker.registry import Registry, suggest
from sparkstacker.risk.governor import Governor, GovernorChange, GovernorState
from sparkstacker.risk.pretrade import PreTradeRisk, PreTradeSettings
from sparkstacker.strategy import StrategyRuntime

log = logging.getLogger("sparkstacker.engine")

HALTED = GovernorState.HALTED  # read on every bar close (a class attribute read costs more)


@dataclass
class EngineEvents:
    """Counters and records the run summary, reports and tests read."""

    signals: int = 0
    signals_ignored: int = 0
    funding_events: int = 0
    funding_paid: Decimal = ZERO
    funding: list[tuple[Any, str, str, Decimal, Decimal]] = field(default_factory=list)
    liquidation_fills: list[Fill] = field(default_factory=list)
    liquidations: int = 0
    risk_events: list[dict[str, Any]] = field(default_factory=list)
    governor_changes: list[GovernorChange] = field(default_factory=list)
    ignored_reasons: dict[str, int] = field(default_factory=dict)


class Engine:
    """One run's engine. Build it, ``add_strategy`` each plan, ``await start()``, then feed it."""

    def __init__(
        self,
        *,
        run: RunContext,
        pm: pluggy.PluginManager,
        venues: Mapping[str, Exchange],
        clock: Clock,
        journal: EngineJournal | None = None,
        portfolio: PortfolioPlan | None = None,
        pretrade: PreTradeSettings | None = None,
        risk_checks: Iterable[RiskCheck] = (),
    ) -> None:
        self.run = run
        self.pm = pm
        self.hooks = pm.hook
        self.registry: Registry = run.registry
        self.venues = dict(venues)
        self.clock = clock
        self.journal = journal
        self.portfolio = portfolio
        self.book = PositionBook()
        self.accounting = Accounting(self.book)
        self.governor = Governor(portfolio) if portfolio is not None and portfolio.levels else None
        self.pretrade = PreTradeRisk(
            self, portfolio=portfolio, governor=self.governor, settings=pretrade
        )
        self.orders = OrderManager(
            run_id=run.run_id,
            venues=self.venues,
            clock=clock,
            hooks=pm.hook,
            journal=journal,
            risk_checks=(self.pretrade, *risk_checks),
            mode=run.mode,
        )
        self.executor = Executor(
            orders=self.orders,
            venues=self.venues,
            registry=self.registry,
            equity=self.accounting.equity,
            entry_block=self.entry_block,
        )
        self.hedges = HedgeCoordinator(self)
        self.monitor = PositionMonitor(self)
        self.slots: list[StrategySlot] = []
        self._slot_by_name: dict[str, StrategySlot] = {}
        self.instruments: dict[tuple[str, str], Instrument] = {}
        self.events = EngineEvents()
        self._block_entries: dict[tuple[str, str], str] = {}
        self._emit_signals = journal is not None or bool(pm.hook.on_signal.get_hookimpls())
        self.orders.add_fill_listener(self._on_fill)
        self.orders.add_order_listener(self._on_order)
        self._dirty: set[str] = set()  # strategies whose orders ended since the last settle
        self.started = False

    # ---- set-up -------------------------------------------------------------------------------

    def add_strategy(
        self, plan: StrategyPlan, runtime: StrategyRuntime, *, hedge_venue: str | None = None
    ) -> StrategySlot:
        if plan.venue not in self.venues:
            raise ConfigError(
                f"strategy {plan.name!r} trades on {plan.venue!r}, which is not connected "
                f"(connected: {', '.join(sorted(self.venues)) or 'none'})"
            )
        if plan.name in self._slot_by_name:
            raise ConfigError(f"two strategies are named {plan.name!r}")
        base, _, quote = plan.symbol.partition("-")
        placeholder = Instrument(
            symbol=plan.symbol,
            venue=plan.venue,
            base=base,
            quote=quote or "USD",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.001"),
        )
        slot = StrategySlot(
            plan=plan,
            runtime=runtime,
            instrument=placeholder,
            leg=self.book.leg(plan.venue, plan.symbol, plan.name, "main"),
        )
        self.slots.append(slot)
        self._slot_by_name[plan.name] = slot
        if plan.hedge is not None:
            self.hedges.register(slot, hedge_venue or plan.hedge.venue)
        return slot

    async def start(self) -> None:
        """Connect venues, bind instruments, apply and verify leverage, call ``startup``."""
        for venue in self.venues.values():
            await venue.connect()
            for instrument in await venue.instruments():
                self.instruments[(venue.name, instrument.symbol)] = instrument
        wanted: dict[tuple[str, str], tuple[Decimal, str]] = {}
        for slot in self.slots:
            key = (slot.venue, slot.symbol)
            listed = self.instruments.get(key)
            if listed is None:
                known = [s for (v, s) in self.instruments if v == slot.venue]
                close = suggest(slot.symbol, known)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ConfigError(
                    f"strategy {slot.name!r}: market {slot.symbol} is not listed on "
                    f"{slot.venue}{hint}"
                )
            slot.instrument = instrument = listed
            try:
                instrument.check_leverage(slot.plan.leverage)
            except ModelError as exc:
                raise ConfigError(f"strategy {slot.name!r}: {exc}") from exc
            if instrument.only_isolated:
                slot.margin_mode = MarginMode.ISOLATED
            previous = wanted.get(key)
            if previous is not None and previous[0] != slot.plan.leverage:
                raise ConfigError(
                    f"strategies {previous[1]!r} and {slot.name!r} want different leverage on "
                    f"{slot.symbol} ({previous[0]}x vs {slot.plan.leverage}x); one account has "
                    "one leverage per asset"
                )
            wanted[key] = (slot.plan.leverage, slot.name)
        for slot in self.slots:
            await self.apply_leverage(slot)
        await self.hedges.start()
        for venue in self.venues.values():
            self.accounting.set_anchor(venue.name, (await venue.account()).equity)
        self.hooks.startup(run=self.run)
        self.started = True

    async def apply_leverage(self, slot: StrategySlot) -> None:
        """Set the strategy's leverage on the venue and refuse to trade unless it reads back."""
        venue = self.venues[slot.venue]
        setting = await venue.set_leverage(slot.symbol, slot.plan.leverage, slot.margin_mode)
        readback = await venue.leverage(slot.symbol)
        for seen in (setting, readback):
            if seen.leverage != slot.plan.leverage or seen.margin_mode != slot.margin_mode:
                raise LeverageMismatch(
                    f"strategy {slot.name!r} configured {slot.plan.leverage}x "
                    f"{slot.margin_mode} on {slot.symbol} but the venue applies "
                    f"{seen.leverage}x {seen.margin_mode}; refusing to trade",
                    venue=slot.venue,
                )

    # ---- what risk checks may read (sparkstacker.risk.pretrade.RiskView) ---------------------

    def leg_position(self, order: Order) -> Decimal:
        return self.book.leg(
            order.venue, order.symbol, order.strategy or "", order.leg or "main"
        ).size

    def net_position(self, venue: str, symbol: str) -> Decimal:
        return self.book.net(venue, symbol)

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        return self.accounting.mark(venue, symbol)

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self.instruments.get((venue, symbol))

    def plan(self, strategy: str | None) -> StrategyPlan | None:
        slot = self._slot_by_name.get(strategy or "")
        return slot.plan if slot is not None else None

    def equity(self) -> Decimal:
        return self.accounting.equity()

    def gross_exposure(self) -> Decimal:
        return self.accounting.gross_exposure()

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def open_orders(self) -> list[Order]:
        return self.orders.working()

    # ---- decisions ----------------------------------------------------------------------------

    def entry_block(self, slot: StrategySlot, flipping: bool) -> str | None:
        """Why new exposure may not be opened for this slot now (None: allowed)."""
        plan = slot.plan
        halted = self.orders.halted(plan.venue)
        if halted:
            return f"venue halted: {halted}"
        if self._block_entries:
            blocked = self._block_entries.get((plan.venue, plan.symbol))
            if blocked:
                return blocked
        if self.governor is not None:
            return self.governor.entry_block()
        return None

    def block_entries(self, venue: str, symbol: str, reason: str) -> None:
        self._block_entries[(venue, symbol)] = reason

    def unblock_entries(self, venue: str, symbol: str) -> None:
        self._block_entries.pop((venue, symbol), None)

    async def signal(
        self,
        slot: StrategySlot,
        direction: Direction,
        bar: BarContext,
        *,
        confidence: float = 1.0,
        limit_price: float | None = None,
        post_only: bool = False,
        reason: str = "",
    ) -> None:
        events = self.events
        events.signals += 1
        governor = self.governor
        if governor is not None and governor.state >= HALTED:
            ignored: str | None = f"governor {governor.state.name}"
        elif direction is FLAT:
            ignored = await self.executor.exit(slot, reason=reason)
        else:
            ignored = await self.executor.enter(
                slot,
                direction,
                price=bar.close,
                confidence=confidence,
                limit_price=limit_price,
                post_only=post_only,
                reason=reason,
            )
        if ignored is not None:
            events.signals_ignored += 1
            key = ignored.split(":")[0]
            events.ignored_reasons[key] = events.ignored_reasons.get(key, 0) + 1
        if self._emit_signals:
            signal = Signal(
                strategy=slot.name,
                venue=slot.venue,
                symbol=slot.symbol,
                direction=direction,
                confidence=Decimal(repr(min(max(confidence, 0.0), 1.0))),
                timestamp=self.clock.now(),
                source=reason or direction.value,
                price=Decimal(repr(bar.close)) if math.isfinite(bar.close) else None,
            )
            # Journal and hooks after the bar's requests left, like the order events.
            self.orders.later(self._publish_signal, signal, ignored)

    def _publish_signal(self, signal: Signal, ignored: str | None) -> None:
        accepted = ignored is None
        if self.journal is not None:
            self.journal.record_signal(self.run.run_id, signal, accepted=accepted, reason=ignored)
        self.hooks.on_signal(
            event=SignalEvent(
                signal=signal, accepted=accepted, reason=ignored, run_id=self.run.run_id
            )
        )

    def strategy_state(self, slot: StrategySlot, bar_index: int, close: float) -> StrategyState:
        leg = slot.leg
        entry = float(leg.entry_price) if leg.entry_price is not None else float("nan")
        size = float(leg.size)
        held = bar_index - leg.opened_bar if leg.opened_bar is not None and size else 0
        return StrategyState(
            position=size,
            entry_price=entry,
            bars_held=held,
            unrealized_pnl=(close - entry) * size if size else 0.0,
            equity=self.accounting.equity_float(),
            mark_price=close,
        )

    async def on_bar_close(
        self,
        slot: StrategySlot,
        bar_index: int,
        timestamp_ms: int,
        bar: tuple[float, float, float, float, float],
    ) -> None:
        """The strategy's bar closed: monitor its position, then let it decide."""
        slot.bar_index = bar_index
        slot.last_close = bar[3]
        ctx = BarContext(self, slot, bar_index, timestamp_ms, bar)
        groups = self.hedges.groups
        if slot.leg.size != 0 or (groups and slot.plan.name in groups):
            await self.monitor.check(slot, ctx)
        governor = self.governor
        if governor is not None and governor.state >= HALTED:
            return
        await slot.runtime.on_bar(ctx)

    async def on_clock(self) -> None:
        """Time moved (a bar closed): governor, hedge windows. Cheap when nothing is due."""
        if self.governor is not None:
            change = self.governor.update(self.clock.now_ms(), self.accounting.equity_float())
            if change is not None:
                await self._on_governor(change)
        if self.hedges.groups:
            await self.hedges.check_deadlines()

    async def _on_governor(self, change: GovernorChange) -> None:
        self.events.governor_changes.append(change)
        severity = "critical" if change.state >= GovernorState.HALTED else "warning"
        self.record_risk_event(
            "governor",
            severity,
            f"governor {change.previous.name} → {change.state.name}: {change.reason}",
            data={
                "drawdown": change.drawdown,
                "daily_loss": change.daily_loss,
                "equity": change.equity,
            },
        )
        if change.state is GovernorState.FLATTEN:
            await self.flatten(reason=f"governor FLATTEN: {change.reason}", origin="governor")
        elif change.state is GovernorState.HALTED:
            await self.orders.cancel_all(
                keep=lambda o: o.reduce_only, reason=f"governor HALTED: {change.reason}"
            )

    async def flatten(self, *, reason: str, origin: str = "operator") -> None:
        """Kill switch: cancel every working order and close every position (main and hedge)."""
        await self.orders.cancel_all(reason=reason)
        for slot in self.slots:
            for protective in list(slot.protective.values()):
                await self.orders.cancel(protective, reason=reason)
            slot.protective.clear()
            await self.executor.exit(slot, reason=reason, origin=origin)
        for group in self.hedges.groups.values():
            if group.leg.size != 0 and group.slot.leg.size == 0:
                await self.hedges.close(group.slot, reason=reason)

    # ---- venue events -------------------------------------------------------------------------

    async def handle_events(self, events: Iterable[VenueEvent]) -> None:
        for event in events:
            kind = event.kind
            if kind == "order" and event.report is not None:
                self.orders.apply_report(event.report)
            elif kind == "funding":
                self._on_funding(event)
            elif kind == "liquidation":
                self._on_liquidation(event)
            elif kind == "mark" and event.symbol is not None:
                price = event.data.get("price")
                if price is not None:
                    self.accounting.set_mark(event.venue, event.symbol, Decimal(str(price)))
        await self.settle()

    async def settle(self) -> None:
        """After orders moved: protective orders for new positions, hedges to target, cleanup."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        for name in dirty:
            slot = self._slot_by_name.get(name)
            if slot is None:
                continue
            main_changed = False
            entry = slot.entry_order
            if entry is not None:
                current = self.orders.get(entry.client_order_id) or entry
                done = current.is_terminal
                slot.entry_order = None if done else current
                if done and current.filled_size > 0:
                    main_changed = True
                    if slot.leg.size != 0 and has_protective_work(slot):
                        await self.executor.place_protective(slot)
            exit_order = slot.exit_order
            if exit_order is not None:
                current = self.orders.get(exit_order.client_order_id) or exit_order
                done = current.is_terminal
                slot.exit_order = None if done else current
                main_changed = main_changed or (done and current.filled_size > 0)
            if slot.leg.size == 0 and slot.protective:
                # Flat (a stop or target filled): the other protective order is an orphan.
                main_changed = True
                await self.executor.cancel_protective(slot, reason="position closed")
            group = self.hedges.groups.get(name) if self.hedges.groups else None
            if group is not None:
                await self.hedges.on_order_update(group)
                if main_changed or group.target() != group.leg.size:
                    await self.hedges.sync(slot)

    def _on_fill(self, fill: Fill, order: Order) -> None:
        slot = self._slot_by_name.get(order.strategy or "")
        self.book.apply_fill(
            fill,
            order,
            now_ms=self.clock.now_ms(),
            bar=slot.bar_index if slot is not None else None,
        )
        self.accounting.set_mark(fill.venue, fill.symbol, fill.price)

    def _on_order(self, order: Order, kind: OrderEventKind) -> None:
        if order.status in TERMINAL_STATUSES:
            strategy = order.strategy
            if strategy:
                self._dirty.add(strategy)

    def _on_funding(self, event: VenueEvent) -> None:
        data = event.data
        symbol = str(data.get("symbol") or event.symbol)
        payment = Decimal(str(data.get("payment", "0")))
        rate = Decimal(str(data.get("rate", "0")))
        net = self.book.net(event.venue, symbol)
        if net != 0:
            self.book.apply_funding(event.venue, symbol, payment / net)
        self.events.funding_events += 1
        self.events.funding_paid += payment
        self.events.funding.append((event.timestamp, event.venue, symbol, rate, payment))
        if self.journal is not None:  # with the bar's other deferred appends
            self.orders.later(
                self.journal.record_funding,
                self.run.run_id,
                event.venue,
                symbol,
                event.timestamp,
                rate,
                payment,
            )

    def _on_liquidation(self, event: VenueEvent) -> None:
        self.events.liquidations += 1
        symbol = str(event.data.get("symbol") or event.symbol)
        self.record_risk_event(
            "liquidation",
            "critical",
            f"{symbol} position liquidated on {event.venue}",
            venue=event.venue,
            symbol=symbol,
            data={k: str(v) for k, v in event.data.items() if k != "fill"},
        )
        fill = event.data.get("fill")
        if isinstance(fill, Fill):
            self.events.liquidation_fills.append(fill)
            now_ms = self.clock.now_ms()
            for leg in self.book.apply_liquidation(fill, event.venue, symbol, now_ms=now_ms):
                if leg.strategy:
                    self._dirty.add(leg.strategy)
        for slot in self.slots:
            if slot.venue == event.venue and slot.symbol == symbol:
                slot.protective.clear()

    def record_risk_event(
        self,
        kind: str,
        severity: str,
        message: str,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        blocks_entries: bool = False,
        data: dict[str, Any] | None = None,
    ) -> None:
        log.warning("risk event %s (%s): %s", kind, severity, message)
        self.events.risk_events.append(
            {
                "kind": kind,
                "severity": severity,
                "message": message,
                "venue": venue,
                "symbol": symbol,
                "timestamp": self.clock.now().isoformat(),
                "data": dict(data) if data else {},
            }
        )
        if blocks_entries and venue and symbol:
            self.block_entries(venue, symbol, f"{kind}: {message}")
        if self.journal is not None:
            self.journal.record_risk_event(
                self.run.run_id,
                kind,
                severity,
                message,
                venue=venue,
                symbol=symbol,
                blocks_entries=blocks_entries,
                data={k: str(v) for k, v in (data or {}).items()},
            )

    # ---- shutdown -----------------------------------------------------------------------------

    async def stop(self, *, flatten: bool = False) -> None:
        """Stop: cancel non-protective orders, optionally flatten, then ``shutdown`` hooks."""
        if flatten:
            await self.flatten(reason="flatten on stop")
        else:
            protective = {o.client_order_id for s in self.slots for o in s.protective.values()}
            await self.orders.cancel_all(
                keep=lambda o: o.client_order_id in protective, reason="shutdown"
            )
        self.hooks.shutdown(run=self.run)
