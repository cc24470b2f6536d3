"""The position monitor: what the engine watches on every bar close of a strategy with a position.

* max duration and trailing stops (engine-side: they move with the price);
* stop-loss / take-profit when the venue cannot hold trigger orders (otherwise they rest on
  the venue and survive an engine outage);
* margin warnings from the rule (``margin_warning 80% close_hedge_if_profitable``): the account's
  margin ratio (maintenance margin / equity) crossing a level triggers its action once, until it
  falls back below the level — close a profitable hedge to free margin, reduce both legs by a
  fraction, or close the group. Each crossing acts once; the warning re-arms only after the ratio
  has fallen back below its level. Every crossing is a ``margin_warning`` risk event saying what
  was done (``data["acted"]``: whether an order was sent — the "liquidations avoided" count);
* liquidation distances per leg and per group (:mod:`.liquidation`), for status and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sparkstacker.engine.context import BarContext
from sparkstacker.engine.liquidation import LiquidationWatch
from sparkstacker.engine.slots import StrategySlot
from sparkstacker.model import ZERO

if TYPE_CHECKING:
    from sparkstacker.engine.engine import Engine


class PositionMonitor:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._fired: dict[tuple[str, int], bool] = {}  # (strategy, warning index) → active
        self.liquidation = LiquidationWatch(engine)
        self.margin_actions = 0  # margin-warning crossings that sent an order
        # strategy → its engine-side position rules (None: none), fixed per run
        self._watches: dict[str, _PositionRules | None] = {}

    def watches(self, slot: StrategySlot) -> bool:
        """Does the strategy have a rule this monitor enforces on a held position (duration,
        trailing stop, or stop / target on a venue without trigger orders)? Fixed per run."""
        return self._rules(slot) is not None

    def _rules(self, slot: StrategySlot) -> _PositionRules | None:
        """The slot's position rules, read from its plan once (None: nothing to enforce)."""
        name, known = slot.name, self._watches
        if name not in known:
            known[name] = _PositionRules.of(slot, self.engine)
        return known[name]

    def margin_ratio(self, venue: str) -> float:
        """Maintenance margin over equity for one venue account (1.0 = liquidation)."""
        engine = self.engine
        equity = engine.accounting.equity_float(venue)
        maintenance = 0.0
        for leg in engine.book.legs():
            if leg.venue != venue or not leg.size_f:
                continue
            instrument = engine.instruments.get((leg.venue, leg.symbol))
            mark = engine.accounting.mark_float(leg.venue, leg.symbol) or leg.entry_f
            rate = float(instrument.maintenance_margin) if instrument is not None else 0.05
            maintenance += abs(leg.size_f) * mark * rate
        if equity <= 0:
            return float("inf") if maintenance > 0 else 0.0
        return maintenance / equity

    async def check(self, slot: StrategySlot, ctx: BarContext) -> None:
        if slot.plan.risk.margin_warnings and await self._margin(slot):
            return
        if slot.leg.size == 0:
            return
        rules = self._rules(slot)
        if rules is not None:
            await self._position(slot, ctx, rules)

    async def _position(self, slot: StrategySlot, ctx: BarContext, rules: _PositionRules) -> None:
        leg = slot.leg
        exit_ = self.engine.executor.exit
        opened = leg.opened_bar
        if opened is not None and rules.bars is not None and ctx.bar_index - opened >= rules.bars:
            await exit_(slot, reason="max_duration", origin="monitor")
            return
        opened = leg.opened_ms
        if opened is not None and rules.ms is not None and ctx.timestamp_ms - opened >= rules.ms:
            await exit_(slot, reason="max_duration", origin="monitor")
            return
        entry = leg.entry_price
        if entry is None:
            return
        trail = rules.trail
        if trail is None and not rules.stops:
            return  # duration only (the bar's close is not needed)
        long = leg.size > 0
        close = Decimal(repr(ctx.close))
        if trail is not None:
            best = Decimal(repr(ctx.high if long else ctx.low))
            anchor = slot.trail_anchor
            if anchor is None or (best > anchor if long else best < anchor):
                slot.trail_anchor = anchor = best
            limit = anchor * trail[0] if long else anchor * trail[1]
            if (close <= limit) if long else (close >= limit):
                await exit_(slot, reason="trailing_stop", origin="monitor")
                return
        if not rules.stops:
            return
        distance = protective_distance(slot)
        move = (close - entry) / entry * (1 if long else -1)
        if distance[0] is not None and move <= -distance[0]:
            await exit_(slot, reason="stop_loss", origin="monitor")
        elif distance[1] is not None and move >= distance[1]:
            await exit_(slot, reason="take_profit", origin="monitor")

    async def _margin(self, slot: StrategySlot) -> bool:
        """Apply the rule's margin warnings; True when an action closed the position."""
        warnings = slot.plan.risk.margin_warnings
        if not warnings:
            return False
        engine = self.engine
        venues = {slot.venue}
        group = engine.hedges.group_of(slot)
        if group is not None:
            venues.add(group.venue)
        ratio = max(self.margin_ratio(v) for v in venues)
        acted = False
        for index, warning in enumerate(warnings):
            key = (slot.name, index)
            above = ratio >= float(warning.level)
            if not above:
                self._fired.pop(key, None)
                continue
            if self._fired.get(key) or (
                slot.leg.size == 0 and (group is None or group.leg.size == 0)
            ):
                continue
            self._fired[key] = True
            done = await self._act(slot, warning.action, warning.reduce_fraction)
            if done is not None:
                self.margin_actions += 1
            engine.record_risk_event(
                "margin_warning",
                "warning",
                f"{slot.name}: margin ratio {ratio:.1%} >= {warning.level:.0%}; "
                f"action {warning.action}: {done or 'nothing to do'}",
                venue=slot.venue,
                symbol=slot.symbol,
                data={
                    "ratio": ratio,
                    "level": float(warning.level),
                    "action": warning.action,
                    "acted": done is not None,
                },
            )
            if done is not None and warning.action == "close_all":
                acted = True
        return acted

    async def _act(self, slot: StrategySlot, action: str, fraction: Decimal | None) -> str | None:
        """Carry out one margin action; what was sent, or None when there was nothing to do."""
        engine = self.engine
        group = engine.hedges.group_of(slot)
        if action == "close_hedge_if_profitable":
            if group is None or group.leg.size == 0:
                return None
            mark = engine.accounting.mark(group.venue, group.symbol)
            if mark is None or group.leg.unrealized(mark) <= ZERO:
                return None
            await engine.hedges.close(slot, reason="margin: close profitable hedge")
            return f"closing the hedge ({group.leg.size})"
        if slot.leg.size == 0:
            return None
        if action == "reduce":
            share = fraction or Decimal("0.5")
            why = await engine.executor.exit(
                slot, reason=f"margin: reduce {share:.0%}", fraction=share, origin="monitor"
            )
            return None if why is not None else f"reducing the main leg by {share:.0%}"
        why = await engine.executor.exit(slot, reason="margin: close all", origin="monitor")
        return None if why is not None else "closing the group"


@dataclass(frozen=True, slots=True)
class _PositionRules:
    """What the monitor enforces on a held position, from the rule's risk clause."""

    bars: int | None  # max_duration in bars
    ms: float | None  # max_duration in milliseconds
    trail: tuple[Decimal, Decimal] | None  # trailing stop: (1 - distance, 1 + distance)
    stops: bool  # stop-loss / take-profit enforced here (the venue cannot rest triggers)

    @classmethod
    def of(cls, slot: StrategySlot, engine: Engine) -> _PositionRules | None:
        risk = slot.plan.risk
        protective = risk.stop_loss is not None or risk.take_profit is not None
        venue = engine.venues.get(slot.venue)
        triggers = venue is not None and venue.capabilities.trigger_orders
        trailing = risk.trailing_stop
        rules = cls(
            bars=risk.max_duration_bars,
            ms=risk.max_duration.total_seconds() * 1000 if risk.max_duration is not None else None,
            trail=(1 - trailing, 1 + trailing) if trailing is not None else None,
            stops=protective and not triggers,
        )
        if rules.bars is None and rules.ms is None and rules.trail is None and not rules.stops:
            return None
        return rules


def protective_distance(slot: StrategySlot) -> tuple[Decimal | None, Decimal | None]:
    """Stop and target distances for the main leg, as fractions of the entry price.

    For a hedged strategy the rule's stop_loss / take_profit apply to the *group*: at a price
    move m the pair makes m × (1 − ratio) of the main notional, so the main leg's triggers sit
    at stop / (1 − ratio). They still rest on the venue, so they hold if the engine is down.
    """
    risk = slot.plan.risk
    hedge = slot.plan.hedge
    scale = Decimal(1) / (1 - hedge.ratio) if hedge is not None and hedge.ratio < 1 else Decimal(1)
    stop = risk.stop_loss * scale if risk.stop_loss is not None else None
    target = risk.take_profit * scale if risk.take_profit is not None else None
    return stop, target
