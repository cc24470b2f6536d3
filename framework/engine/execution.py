"""Turning strategy intents into orders: entries, exits, flips and protective orders.

Entries are sized by the strategy's sizer at the bar's close, rounded to the instrument's lot
(a size that rounds to zero is a no-trade with a reason, never an empty order), and carry the
leverage the venue was verified to apply. A flip is an exit plus an entry in one decision.
Stop-loss and take-profit rest on the venue as reduce-only trigger orders where the venue
supports them; otherwise the position monitor enforces them at bar closes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from sparkstacker.engine.monitor import protective_distance
from sparkstacker.engine.orders import OrderManager
from sparkstacker.engine.slots import StrategySlot
from sparkstacker.errors import ModelError
from sparkstacker.exchange import Exchange
from sparkstacker.model import (
    Direction,
    Order,
    OrderType,
    Side,
)
from sparkstacker.model.members import ALO, BUY, FLAT, GTC, IOC, LIMIT, LONG, MARKET, SELL
from sparkstacker.model.order import TERMINAL_STATUSES, order_shape, trusted_order
from sparkstacker.registry import Registry
from sparkstacker.sizing import Sizer, sizing_request

log = logging.getLogger("sparkstacker.engine.execution")

EquitySource = Callable[[], Decimal]
BlockCheck = Callable[[StrategySlot, bool], str | None]


class Executor:
    def __init__(
        self,
        *,
        orders: OrderManager,
        venues: dict[str, Exchange],
        registry: Registry,
        equity: EquitySource,
        entry_block: BlockCheck,
    ) -> None:
        self.orders = orders
        self.venues = venues
        self.registry = registry
        self.equity = equity
        self.entry_block = entry_block
        self._sizers: dict[str, Sizer] = {}  # by name: the registry is fixed for a run

    # ---- entries and exits --------------------------------------------------------------------

    async def enter(
        self,
        slot: StrategySlot,
        direction: Direction,
        *,
        price: float,
        confidence: float = 1.0,
        limit_price: float | None = None,
        post_only: bool = False,
        reason: str = "",
    ) -> str | None:
        """Open (or flip into) ``direction``. Returns why nothing was sent, or None if sent."""
        if direction is FLAT:
            return await self.exit(slot, reason=reason)
        if slot.halted:
            return f"strategy halted: {slot.halted}"
        if slot.busy:
            return "an order of this strategy is still working"
        current = slot.leg.size
        long = direction is LONG
        if (current > 0) if long else (current < 0):
            return f"already {direction.value}"
        flipping = current != 0
        blocked = self.entry_block(slot, flipping)
        if blocked:
            if flipping:
                await self.exit(slot, reason=f"{reason} (flip; entry blocked: {blocked})")
            return blocked
        plan = slot.plan
        sizing = plan.sizing
        if sizing is None:
            return "strategy has no size clause"
        ref = Decimal(repr(price)) if limit_price is None else Decimal(repr(limit_price))
        sizer = self._sizers.get(sizing.sizer)
        if sizer is None:
            sizer = self._sizers[sizing.sizer] = self.registry.sizers.get(sizing.sizer)
        request = sizing_request(
            instrument=slot.instrument,
            direction=direction,
            price=ref,
            equity=self.equity(),
            leverage=plan.leverage,
            confidence=_confidence(confidence),
            stop_distance=plan.risk.stop_loss,
        )
        decision = sizer.size(request, sizing.params)
        if not decision.is_trade:
            if flipping:  # the old side is still wrong: close it even if the new one can't open
                await self.exit(slot, reason=f"{reason} (flip; no size for the new side)")
            return f"sizer {sizing.sizer}: {decision.reason}"
        size = decision.size
        tag = "entry"
        if flipping:
            # One order closes the old side and opens the new one, as a one-way venue nets it.
            if slot.protective:
                await self.cancel_protective(slot, reason="flip")
            size += abs(current)
            tag = "flip"
        order = self._order(
            slot,
            BUY if long else SELL,
            size,
            limit_price=limit_price,
            post_only=post_only,
            tag=tag,
            reason=reason,
        )
        if order is None:
            return "limit price could not be rounded to the instrument's grid"
        slot.entry_order = order
        slot.trail_anchor = None
        slot.entry_order = await self.orders.submit(order, reason=reason, mark_price=ref)
        return None

    async def exit(
        self,
        slot: StrategySlot,
        *,
        reason: str = "",
        fraction: Decimal | None = None,
        origin: str = "strategy",
    ) -> str | None:
        """Close the strategy's position (or a fraction of it) with a reduce-only market order."""
        size = abs(slot.leg.size)
        if size == 0:
            return "flat"
        working = slot.exit_order
        if working is not None and working.status not in TERMINAL_STATUSES:
            return "an exit is already working"
        if fraction is not None:
            try:
                size = slot.instrument.round_size(size * fraction)
            except ModelError as exc:
                return str(exc)
        await self.cancel_protective(slot, reason="position closing")
        side = SELL if slot.leg.size > 0 else BUY
        order = self._order(
            slot, side, size, reduce_only=True, tag="exit", reason=reason or "exit", origin=origin
        )
        assert order is not None
        slot.exit_order = order
        slot.exit_order = await self.orders.submit(order, reason=reason or "exit")
        return None

    # ---- protective orders --------------------------------------------------------------------

    async def place_protective(self, slot: StrategySlot) -> None:
        """Rest stop-loss / take-profit triggers on the venue for the current position."""
        if not has_protective_work(slot):
            return
        leg = slot.leg
        venue = self.venues[slot.venue]
        if leg.size == 0 or leg.entry_price is None or not venue.capabilities.trigger_orders:
            return
        await self.cancel_protective(slot, reason="position changed")
        long = leg.size > 0
        side = Side.SELL if long else Side.BUY
        size = abs(leg.size)
        targets: list[tuple[str, OrderType, Decimal]] = []
        stop, target = protective_distance(slot)
        if stop is not None:
            factor = (1 - stop) if long else (1 + stop)
            targets.append(("stop_loss", OrderType.STOP, leg.entry_price * factor))
        if target is not None:
            factor = (1 + target) if long else (1 - target)
            targets.append(("take_profit", OrderType.TAKE_PROFIT, leg.entry_price * factor))
        for role, kind, raw in targets:
            # Round away from the position's favour so the trigger is never tighter than asked.
            mode = "down" if (long == (role == "stop_loss")) else "up"
            trigger = slot.instrument.round_price(raw, mode)  # type: ignore[arg-type]
            order = Order(
                client_order_id=self.orders.next_client_order_id(role[:2]),
                venue=slot.venue,
                symbol=slot.symbol,
                side=side,
                type=kind,
                size=size,
                trigger_price=trigger,
                reduce_only=True,
                strategy=slot.name,
                leg=slot.leg.role,
                group_id=slot.extras.get("group_id"),
                created_at=self.orders.clock.now(),
                annotations={"reason": role, "origin": "protective"},
            )
            slot.protective[role] = await self.orders.submit(order, reason=role)

    async def cancel_protective(self, slot: StrategySlot, *, reason: str) -> None:
        for role, order in list(slot.protective.items()):
            current = self.orders.get(order.client_order_id) or order
            if current.is_open:
                await self.orders.cancel(current, reason=reason)
            slot.protective.pop(role, None)

    # ---- helpers ------------------------------------------------------------------------------

    def _order(
        self,
        slot: StrategySlot,
        side: Side,
        size: Decimal,
        *,
        limit_price: float | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        tag: str,
        reason: str = "",
        origin: str = "strategy",
    ) -> Order | None:
        price = None
        kind = MARKET
        tif = IOC
        if limit_price is not None:
            try:
                mode = "down" if side is BUY else "up"
                price = slot.instrument.round_price(Decimal(repr(limit_price)), mode)  # type: ignore[arg-type]
            except ModelError:
                return None
            kind = LIMIT
            tif = ALO if post_only else GTC
        plan = slot.plan
        return trusted_order(
            {
                "client_order_id": self.orders.next_client_order_id(tag[:2]),
                "venue": plan.venue,
                "symbol": plan.symbol,
                "side": side,
                "type": kind,
                "tif": tif,
                "size": size,
                "price": price,
                "reduce_only": reduce_only,
                "leverage": plan.leverage,
                "margin_mode": slot.margin_mode,
                "strategy": plan.name,
                "leg": slot.leg.role,
                "group_id": slot.extras.get("group_id"),
                "created_at": self.orders.clock.now(),
                "annotations": {"reason": reason, "origin": origin}
                if reason
                else {"origin": origin},
            },
            ENTRY_ORDER_SHAPE,
        )


def has_protective_work(slot: StrategySlot) -> bool:
    """Whether :meth:`Executor.place_protective` can do anything for ``slot``: a stop or target
    to rest, or resting ones to replace (no to both is the common case: callers skip the call)."""
    risk = slot.plan.risk
    return risk.stop_loss is not None or risk.take_profit is not None or bool(slot.protective)


# The names every order built by ``Executor._order`` passes (``trusted_order``'s shape).
ENTRY_ORDER_SHAPE = order_shape(
    (
        "client_order_id",
        "venue",
        "symbol",
        "side",
        "type",
        "tif",
        "size",
        "price",
        "reduce_only",
        "leverage",
        "margin_mode",
        "strategy",
        "leg",
        "group_id",
        "created_at",
        "annotations",
    )
)
_CONFIDENCE_ONE = Decimal("1.0")


def _confidence(value: float) -> Decimal:
    """A signal's confidence clamped to 0..1 as the Decimal it prints as (1.0 is the common
    case: no conversion)."""
    if type(value) is float and value == 1.0:
        return _CONFIDENCE_ONE
    return Decimal(repr(min(max(value, 0.0), 1.0)))
