"""Pre-trade checks: every order passes them before it is sent; a veto is journaled.

Checks: reduce-only correctness, leverage against the rule's and the venue's maximum, the
strategy's max position, the account's gross exposure, a price band around the mark for
aggressive limit prices, the order rate, duplicate intents, and the governor's state.

Position and exposure limits count working orders as if they filled completely: orders decided
at one bar close all fill at the next open, so each must be checked against the others.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sparkstacker.errors import OrderVetoed
from sparkstacker.lang.plan import PortfolioPlan, StrategyPlan
from sparkstacker.model import ZERO, Instrument, Order
from sparkstacker.model.members import BUY, LIMIT, MARKET, SELL
from sparkstacker.risk.governor import Governor


class RiskView(Protocol):
    """What the checks may read from the engine."""

    def leg_position(self, order: Order) -> Decimal: ...
    def net_position(self, venue: str, symbol: str) -> Decimal: ...
    def mark(self, venue: str, symbol: str) -> Decimal | None: ...
    def instrument(self, venue: str, symbol: str) -> Instrument | None: ...
    def plan(self, strategy: str | None) -> StrategyPlan | None: ...
    def equity(self) -> Decimal: ...
    def gross_exposure(self) -> Decimal: ...
    def now_ms(self) -> int: ...
    def open_orders(self) -> list[Order]: ...


@dataclass(frozen=True)
class PreTradeSettings:
    price_band: Decimal = Decimal("0.05")  # aggressive limit prices at most 5 % through the mark
    max_orders_per_minute: int = 120  # per strategy
    duplicate_window_ms: int = 5_000


Check = Callable[[Order], None]


class PreTradeRisk:
    """Callable as an order-manager risk check: raises :class:`OrderVetoed` with the reason."""

    def __init__(
        self,
        view: RiskView,
        *,
        portfolio: PortfolioPlan | None = None,
        governor: Governor | None = None,
        settings: PreTradeSettings | None = None,
    ) -> None:
        self.view = view
        self.portfolio = portfolio
        self.governor = governor
        self.settings = settings or PreTradeSettings()
        self._recent: dict[str, deque[int]] = {}
        self._position_of: tuple[str, Decimal] = ("", ZERO)
        self.checks: tuple[tuple[str, Check], ...] = (
            ("governor", self.check_governor),
            ("reduce_only", self.check_reduce_only),
            ("leverage", self.check_leverage),
            ("max_position", self.check_max_position),
            ("gross_exposure", self.check_gross_exposure),
            ("price_band", self.check_price_band),
            ("duplicate", self.check_duplicate),
            ("order_rate", self.check_rate),
        )
        self._applicable: dict[str | None, tuple[tuple[str, Check], ...]] = {}
        self._applicable_of: tuple[tuple[str, Check], ...] = self.checks

    def applicable(self, strategy: str | None) -> tuple[tuple[str, Check], ...]:
        """The checks that can veto an order of ``strategy``: the ones its configuration makes
        no-ops (no governor, no ``max_position``, no portfolio exposure limit) are left out.
        Plans, the portfolio and the governor are fixed for a run, so this is worked out once
        per strategy (and again if ``checks`` is replaced)."""
        if self._applicable_of is not self.checks:
            self._applicable = {}
            self._applicable_of = self.checks
        found = self._applicable.get(strategy)
        if found is None:
            found = self._applicable[strategy] = tuple(
                (name, check) for name, check in self.checks if not self._idle(name, strategy)
            )
        return found

    def _idle(self, name: str, strategy: str | None) -> bool:
        if name == "governor":
            return self.governor is None
        if name == "max_position":
            plan = self.view.plan(strategy)
            return plan is None or plan.risk.max_position is None
        if name == "gross_exposure":
            return self.portfolio is None or self.portfolio.max_gross_exposure is None
        return False

    def __call__(self, order: Order) -> None:
        self._position_of = (order.client_order_id, self.view.leg_position(order))
        for name, check in self.applicable(order.strategy):
            try:
                check(order)
            except OrderVetoed:
                raise
            except ArithmeticError as exc:  # a check must never let an order through by crashing
                raise OrderVetoed(f"could not evaluate: {exc}", check=name) from exc

    # ---- the checks ---------------------------------------------------------------------------

    def _position(self, order: Order) -> Decimal:
        """The order's leg position, read once per order (every check needs it)."""
        cached = self._position_of
        if cached[0] == order.client_order_id:
            return cached[1]
        return self.view.leg_position(order)

    def _reduces(self, order: Order) -> bool:
        position = self._position(order)
        return (
            position != 0 and (position > 0) != (order.side is BUY) and order.size <= abs(position)
        )

    def check_governor(self, order: Order) -> None:
        if self.governor is None:
            return
        origin = order.annotations.get("origin", "strategy")
        reason = self.governor.allows(reduces=self._reduces(order), origin=origin)
        if reason:
            raise OrderVetoed(reason, check="governor")

    def check_reduce_only(self, order: Order) -> None:
        if not order.reduce_only:
            return
        position = self._position(order)
        if position == 0:
            if order.type.is_trigger:
                return  # resting protective orders may outlive the position; the venue drops them
            raise OrderVetoed(
                f"reduce-only {order.side} with no position to reduce", check="reduce_only"
            )
        if (position > 0) == (order.side is BUY):
            raise OrderVetoed(
                f"reduce-only {order.side} would increase a {'long' if position > 0 else 'short'} "
                "position",
                check="reduce_only",
            )
        if order.size > abs(position):
            raise OrderVetoed(
                f"reduce-only size {order.size} exceeds the position {abs(position)}",
                check="reduce_only",
            )

    def check_leverage(self, order: Order) -> None:
        leverage = order.leverage
        if leverage is None or order.reduce_only:
            return
        instrument = self.view.instrument(order.venue, order.symbol)
        if instrument is not None and leverage > instrument.max_leverage:
            raise OrderVetoed(
                f"leverage {leverage}x exceeds {order.symbol}'s maximum "
                f"{instrument.max_leverage}x on {order.venue}",
                check="leverage",
            )
        plan = self.view.plan(order.strategy)
        limit = plan.risk.max_leverage if plan is not None else None
        if limit is not None and leverage > limit:
            raise OrderVetoed(
                f"leverage {leverage}x exceeds the rule's max_leverage {limit}x",
                check="leverage",
            )
        portfolio_limit = self.portfolio.max_leverage if self.portfolio is not None else None
        if portfolio_limit is not None and leverage > portfolio_limit:
            raise OrderVetoed(
                f"leverage {leverage}x exceeds the portfolio's max_leverage {portfolio_limit}x",
                check="leverage",
            )

    def _price(self, order: Order) -> Decimal | None:
        return order.price or self.view.mark(order.venue, order.symbol)

    def _working(self, order: Order) -> dict[tuple[str, str, str, str], list[Order]]:
        """Working orders that could add exposure (not reduce-only), by strategy leg."""
        out: dict[tuple[str, str, str, str], list[Order]] = {}
        for other in self.view.open_orders():
            if other.reduce_only or other.client_order_id == order.client_order_id:
                continue
            out.setdefault(_leg_key(other), []).append(other)
        return out

    def check_max_position(self, order: Order) -> None:
        """The leg's largest position on the order's side — its position plus every working
        order on that side filling completely, this one included — at the check price."""
        if order.reduce_only or self._reduces(order):
            return
        plan = self.view.plan(order.strategy)
        if plan is None or plan.risk.max_position is None:
            return
        price = self._price(order)
        if price is None:
            return
        low, high = _reach(self._position(order), self._working(order).get(_leg_key(order), []))
        size = order.size
        after = max(high + size, ZERO) if order.side is BUY else max(size - low, ZERO)
        value = after * price
        limit = plan.risk.max_position.resolve(self.view.equity())
        if value > limit:
            raise OrderVetoed(
                f"position would be worth {value:.2f}, over max_position {limit:.2f}",
                check="max_position",
            )

    def check_gross_exposure(self, order: Order) -> None:
        """Gross exposure in the worst case: every leg's position as if each working order
        (this one included) filled completely. Orders decided at one bar close fill together
        at the next open; each must see the others still working."""
        if self.portfolio is None or self.portfolio.max_gross_exposure is None:
            return
        if order.reduce_only or self._reduces(order):
            return
        price = self._price(order)
        if price is None:
            return
        key = _leg_key(order)
        pending = ZERO
        mine: list[Order] = []
        for leg, orders in self._working(order).items():
            if leg == key:
                mine = orders
                continue
            held = self.view.leg_position(orders[0])
            low, high = _reach(held, orders)
            mark = self.view.mark(leg[0], leg[1]) or orders[0].price or ZERO
            pending += (max(abs(low), abs(high)) - abs(held)) * mark
        position = self._position(order)
        low, high = _reach(position, mine)
        if order.side is BUY:
            high += order.size
        else:
            low -= order.size
        added = (max(abs(low), abs(high)) - abs(position)) * price
        gross = self.view.gross_exposure() + pending + max(added, ZERO)
        limit = self.portfolio.max_gross_exposure.resolve(self.view.equity())
        if gross > limit:
            raise OrderVetoed(
                f"gross exposure would be {gross:.2f}, over max_gross_exposure {limit:.2f}",
                check="gross_exposure",
            )

    def check_price_band(self, order: Order) -> None:
        if order.type is not LIMIT:
            return
        price = order.price
        if price is None:
            return
        mark = self.view.mark(order.venue, order.symbol)
        if mark is None or mark <= 0:
            return
        band = self.settings.price_band
        side = order.side
        if side is BUY and price > mark * (1 + band):
            raise OrderVetoed(
                f"buy limit {price} is more than {band:.1%} above the mark {mark}",
                check="price_band",
            )
        if side is SELL and price < mark * (1 - band):
            raise OrderVetoed(
                f"sell limit {price} is more than {band:.1%} below the mark {mark}",
                check="price_band",
            )

    def check_duplicate(self, order: Order) -> None:
        if order.type is MARKET:
            return  # a market (IOC) order never rests, so it cannot duplicate a working one
        window = self.settings.duplicate_window_ms
        now = self.view.now_ms()
        for other in self.view.open_orders():
            if (
                other.strategy == order.strategy
                and other.client_order_id != order.client_order_id
                and other.venue == order.venue
                and other.symbol == order.symbol
                and other.side is order.side
                and other.type is order.type
                and other.size == order.size
                and other.price == order.price
                and other.trigger_price == order.trigger_price
                and now - int(other.created_at.timestamp() * 1000) <= window
            ):
                raise OrderVetoed(
                    f"duplicate of working order {other.client_order_id} sent "
                    f"{(now - int(other.created_at.timestamp() * 1000)) / 1000:.1f}s ago",
                    check="duplicate",
                )

    def check_rate(self, order: Order) -> None:
        key = order.strategy or ""
        now = self.view.now_ms()
        recent = self._recent.setdefault(key, deque())
        while recent and now - recent[0] >= 60_000:
            recent.popleft()
        if len(recent) >= self.settings.max_orders_per_minute:
            raise OrderVetoed(
                f"{len(recent)} orders in the last minute, the limit is "
                f"{self.settings.max_orders_per_minute}",
                check="order_rate",
            )
        recent.append(now)


def _leg_key(order: Order) -> tuple[str, str, str, str]:
    return (order.venue, order.symbol, order.strategy or "", order.leg or "main")


def _reach(position: Decimal, working: list[Order]) -> tuple[Decimal, Decimal]:
    """The lowest and highest position the leg can reach if its working orders fill (any part
    of each): position minus every sell, position plus every buy."""
    low = high = position
    for other in working:
        if other.side is BUY:
            high += other.remaining
        else:
            low -= other.remaining
    return low, high
