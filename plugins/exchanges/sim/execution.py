"""Executing on the simulated venue: fills, order outcomes, reduce-only upkeep, liquidations.

Prices here are ``Decimal``. A taker price comes from the slippage model (bar mode) or from the
book's levels (book mode); it is capped at the order's limit and put on the instrument's price
grid *against* the taker (a buy rounds up), because a venue only trades on its grid. Maker fills
happen at the order's own (valid) price. Fees are ``price × size × rate``.
"""

from __future__ import annotations

import math
from decimal import Decimal

from sparkstacker.exchange import VenueEvent
from sparkstacker.model import TERMINAL_STATUSES, ZERO, Fill, Liquidity, OrderStatus, from_millis
from sparkstacker.model.fast import Builder
from sparkstacker.model.members import (
    BUY,
    CANCELLED,
    CROSS,
    MAKER,
    REJECTED,
    SELL,
    TAKER,
)
from sparkstacker_plugins.exchanges.sim.core import SimCore, dec, dec12
from sparkstacker_plugins.exchanges.sim.ledger import FillOutcome, money
from sparkstacker_plugins.exchanges.sim.state import INF, MarketState, WorkingOrder

Out = list[VenueEvent]
# The venue's fills, built from its own Decimals (see ``Executor.execute``).
build_fill = Builder(
    Fill,
    given=(
        "fill_id",
        "client_order_id",
        "venue_order_id",
        "venue",
        "symbol",
        "side",
        "price",
        "size",
        "fee",
        "fee_currency",
        "liquidity",
        "timestamp",
        "closed_pnl",
        "account",
    ),
)


class Executor:
    """Turns decisions of the matching loop into fills, reports and ledger changes."""

    def __init__(self, core: SimCore) -> None:
        self.core = core

    # ---- sizes --------------------------------------------------------------------------------

    def bar_allowance(self, m: MarketState, wo: WorkingOrder) -> Decimal:
        """How much of ``wo`` may still fill in the current bar (volume cap, lot-floored)."""
        remaining = wo.remaining
        share = self.core.volume_share
        if share is None or m.book is not None:
            return remaining
        if wo.bar_seq != m.bar_seq:
            wo.bar_seq = m.bar_seq
            wo.bar_filled = 0.0
        allowed = share * m.volume - wo.bar_filled
        lots = math.floor(allowed / m.lot_f + 1e-9) if allowed > 0 else 0
        if lots <= 0:
            return ZERO
        cap = m.lot_size * lots
        return cap if cap < remaining else remaining

    def reducible(self, m: MarketState, wo: WorkingOrder) -> Decimal | None:
        """For a reduce-only order: the size it may still take (None: not reduce-only)."""
        if not wo.reduce_only:
            return None
        size = m.position.size
        if not size or (size > 0) == (wo.sign > 0):
            return ZERO
        return abs(size)

    def capped(self, m: MarketState, wo: WorkingOrder, size: Decimal) -> Decimal:
        """``size``, cut for a reduce-only order to what it may still take."""
        limit = self.reducible(m, wo)
        return size if limit is None else min(size, limit)

    # ---- fills --------------------------------------------------------------------------------

    def execute(
        self,
        m: MarketState,
        wo: WorkingOrder,
        price: Decimal,
        size: Decimal,
        liquidity: Liquidity,
        ts_ms: int,
        out: Out,
    ) -> Fill | None:
        """Fill ``size`` of ``wo`` at ``price``; the caller cut a reduce-only order's size
        (:meth:`capped`)."""
        if size <= 0:
            return None
        core = self.core
        rate = m.maker_fee if liquidity is MAKER else m.taker_fee
        fee = money(price * size * rate)
        outcome = core.ledger.apply_fill(
            m.position,
            size if wo.sign > 0 else -size,
            price,
            fee,
            m.leverage,
            m.margin_mode,
            ts_ms,
        )
        values = {
            "fill_id": core.next_fill_id(),
            "client_order_id": wo.client_order_id,
            "venue_order_id": wo.venue_order_id,
            "venue": core.name,
            "symbol": wo.symbol,
            "side": wo.side,
            "price": price,
            "size": size,
            "fee": fee,
            "fee_currency": core.quote,
            "liquidity": liquidity,
            "timestamp": from_millis(ts_ms),
            "closed_pnl": outcome.realized,
            "account": core.account,
        }
        # Built from the venue's own Decimals: validated only if a price is somehow not > 0.
        fill: Fill = build_fill(values) if price > 0 else Fill(**values)
        wo.order = wo.order.apply_fill(fill)
        if core.volume_share is not None:  # the per-bar volume cap's bookkeeping
            wo.bar_filled += float(size)
        core.fills.append(fill)
        self.after_position_change(m, outcome, ts_ms, out, skip=wo)
        return fill

    def taker_price(
        self, m: MarketState, wo: WorkingOrder, ref_f: float, ref_d: Decimal, size: Decimal
    ) -> Decimal:
        raw = self.core.slippage.fill_price(wo.side, ref_f, float(size), m.volume, None)
        price = ref_d if raw == ref_f else dec12(raw)
        limit = wo.price
        if limit is not None and (price - limit) * wo.sign > 0:
            price = limit
        return m.round_price(price, "up" if wo.sign > 0 else "down")

    def take(
        self, m: MarketState, wo: WorkingOrder, ref_f: float, ref_d: Decimal, ts_ms: int, out: Out
    ) -> list[Fill]:
        """Take liquidity for ``wo`` now: from the book's levels, or at ``ref`` + slippage."""
        if m.book is not None:
            return self._take_book(m, wo, ts_ms, out)
        size = self.capped(m, wo, self.bar_allowance(m, wo))
        if size <= 0:
            return []
        price = self.taker_price(m, wo, ref_f, ref_d, size)
        fill = self.execute(m, wo, price, size, TAKER, ts_ms, out)
        return [fill] if fill else []

    def book_depth(self, m: MarketState, wo: WorkingOrder, limit: Decimal | None) -> Decimal:
        """Size available to ``wo`` on the book at prices no worse than ``limit``."""
        assert m.book is not None
        total = ZERO
        for level in m.book.side_levels(wo.side):
            if limit is not None and (level.price - limit) * wo.sign > 0:
                break
            total += level.size - m.book_used.get(level.price, ZERO)
        return total

    def _take_book(self, m: MarketState, wo: WorkingOrder, ts_ms: int, out: Out) -> list[Fill]:
        assert m.book is not None
        fills: list[Fill] = []
        limit = wo.price
        lot = m.lot_size
        # a reduce-only order's fills shrink the position as much as they shrink ``want``
        want = self.capped(m, wo, wo.remaining)
        for level in m.book.side_levels(wo.side):
            if want <= 0:
                break
            if limit is not None and (level.price - limit) * wo.sign > 0:
                break
            free = level.size - m.book_used.get(level.price, ZERO)
            size = min(want, free)
            size -= size % lot
            if size <= 0:
                continue
            fill = self.execute(m, wo, level.price, size, TAKER, ts_ms, out)
            if fill is None:
                break
            m.book_used[level.price] = m.book_used.get(level.price, ZERO) + fill.size
            want -= fill.size
            fills.append(fill)
        return fills

    def maker_fill(self, m: MarketState, wo: WorkingOrder, ts_ms: int, out: Out) -> None:
        """A resting limit was reached: fill at its own price as maker (up to the caps)."""
        price = wo.price
        assert price is not None
        if m.book is not None:
            size = min(wo.remaining, self._book_cross_size(m, wo, price))
        else:
            size = self.bar_allowance(m, wo)
        size = self.capped(m, wo, size)
        fill = self.execute(m, wo, price, size, MAKER, ts_ms, out) if size > 0 else None
        if fill is not None and m.book is not None:
            self._consume_crossing(m, wo, price, fill.size)
        self.finish_step(m, wo, [fill] if fill else [], ts_ms, out, keep_resting=True)

    def _book_cross_size(self, m: MarketState, wo: WorkingOrder, price: Decimal) -> Decimal:
        assert m.book is not None
        total = ZERO
        for level in m.book.side_levels(wo.side):
            if (level.price - price) * wo.sign > 0:
                break
            total += level.size - m.book_used.get(level.price, ZERO)
        return total - total % m.lot_size

    def _consume_crossing(
        self, m: MarketState, wo: WorkingOrder, price: Decimal, size: Decimal
    ) -> None:
        assert m.book is not None
        left = size
        for level in m.book.side_levels(wo.side):
            if left <= 0 or (level.price - price) * wo.sign > 0:
                break
            used = m.book_used.get(level.price, ZERO)
            take = min(left, level.size - used)
            m.book_used[level.price] = used + take
            left -= take

    # ---- outcomes -----------------------------------------------------------------------------

    def finish_step(
        self,
        m: MarketState,
        wo: WorkingOrder,
        fills: list[Fill],
        ts_ms: int,
        out: Out,
        *,
        keep_resting: bool,
    ) -> None:
        """After fills: end a reduce-only order that has nothing left to reduce, drop a filled
        order from the book, and emit the order's report."""
        order = wo.order
        terminal = order.status in TERMINAL_STATUSES
        if wo.reduce_only and not terminal and self.reducible(m, wo) == ZERO:
            wo.order = order.transition(
                CANCELLED,
                at=from_millis(ts_ms),
                reason=self.core.messages.reduce_only_cancel,
            )
            terminal = True
        if terminal or not keep_resting:
            self.unrest(m, wo)
        if fills or terminal:
            out.append(self.core.order_event(wo, ts_ms, fills))

    def rest(self, m: MarketState, wo: WorkingOrder) -> None:
        if not wo.resting:
            wo.resting = True
            m.resting.append(wo)

    def unrest(self, m: MarketState, wo: WorkingOrder) -> None:
        if wo.resting:
            wo.resting = False
            m.resting.remove(wo)

    def end(
        self,
        m: MarketState,
        wo: WorkingOrder,
        status: OrderStatus,
        reason: str,
        ts_ms: int,
        out: Out,
        fills: list[Fill] | None = None,
    ) -> None:
        """Cancel or reject ``wo`` with the venue's words and emit its report."""
        order = wo.order
        if order.status not in TERMINAL_STATUSES:
            if status is REJECTED and order.filled_size > 0:
                status = CANCELLED
            wo.order = order.transition(status, at=from_millis(ts_ms), reason=reason)
        self.unrest(m, wo)
        if wo in m.pending:
            m.pending.remove(wo)
        out.append(self.core.order_event(wo, ts_ms, fills or []))

    # ---- position upkeep ----------------------------------------------------------------------

    def after_position_change(
        self,
        m: MarketState,
        outcome: FillOutcome,
        ts_ms: int,
        out: Out,
        skip: WorkingOrder | None = None,
    ) -> None:
        if outcome.opened:
            interval = m.funding_interval_ms
            boundary = ts_ms - ts_ms % interval
            m.funding_scanned = max(m.funding_scanned, boundary)
            m.funding_paid = max(m.funding_paid, boundary)
        if outcome.closed:
            position = m.position
            for wo in list(m.resting):
                if wo is skip or not wo.reduce_only:
                    continue
                if position.size == 0 or position.sign == wo.sign:
                    self.end(
                        m,
                        wo,
                        CANCELLED,
                        self.core.messages.reduce_only_cancel,
                        ts_ms,
                        out,
                    )
        self.refresh_risk()

    def refresh_risk(self) -> None:
        """Recompute every open position's liquidation price and the markets' hot levels."""
        core = self.core
        ledger = core.ledger
        cross = 0
        mark_of = core.mark_of
        for position in ledger.positions.values():
            if not position.size:
                continue
            cross += position.mode is CROSS
            liq = ledger.liquidation_price(position, mark_of)
            position.liq = liq
            if liq is None:
                position.liq_f = -INF if position.size > 0 else INF
            else:
                position.liq_f = float(liq)
        core.cross_positions = cross
        for market in core.markets.values():
            market.refresh()

    # ---- liquidation --------------------------------------------------------------------------

    def breached(self, m: MarketState, price_f: float) -> bool:
        position = m.position
        if position.size > 0:
            return price_f < position.liq_f
        if position.size < 0:
            return price_f > position.liq_f
        return False

    def liquidate(self, m: MarketState, price: Decimal, ts_ms: int, out: Out) -> None:
        """Close ``m``'s position at ``price`` (its liquidation price, or worse after a gap)."""
        core = self.core
        position = m.position
        long = position.size > 0
        price = m.instrument.round_price(price, "down" if long else "up")
        size = abs(position.size)
        fee = money(price * size * m.taker_fee)
        mark = dec(m.last) if m.has_price else price
        liq_price = position.liq
        mode = position.mode
        outcome = core.ledger.apply_fill(
            position, -position.size, price, fee, position.leverage, position.mode, ts_ms
        )
        fill = Fill(
            fill_id=core.next_fill_id(),
            venue=core.name,
            symbol=m.symbol,
            side=SELL if long else BUY,
            price=price,
            size=size,
            fee=fee,
            fee_currency=core.quote,
            liquidity=TAKER,
            timestamp=from_millis(ts_ms),
            is_liquidation=True,
            closed_pnl=outcome.realized,
            account=core.account,
        )
        core.fills.append(fill)
        for wo in list(m.resting) + list(m.pending):
            self.end(m, wo, CANCELLED, core.messages.liquidated_cancel, ts_ms, out)
        collateral = core.ledger.collateral
        out.append(
            core.event(
                "liquidation",
                m.symbol,
                ts_ms,
                {
                    "symbol": m.symbol,
                    "side": fill.side.value,
                    "size": size,
                    "price": price,
                    "liquidation_price": liq_price,
                    "mark": mark,
                    "margin_mode": mode.value,
                    "fee": fee,
                    "realized_pnl": outcome.realized,
                    "collateral_after": collateral,
                    "bankrupt": collateral < 0,
                    "fill": fill,
                },
            )
        )
        self.refresh_risk()
        self._cascade(ts_ms, out)

    def _cascade(self, ts_ms: int, out: Out) -> None:
        """Cross margin is account-wide: liquidate other cross positions still under water."""
        core = self.core
        for market in core.markets.values():
            position = market.position
            if position.size == 0 or position.mode is not CROSS or not market.has_price:
                continue
            if core.ledger.is_breached(position, core.mark_of(market.symbol), core.mark_of):
                self.liquidate(market, core.mark_of(market.symbol), ts_ms, out)
                return
