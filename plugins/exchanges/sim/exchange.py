"""``SimExchange``: the simulated venue behind the same ``Exchange`` protocol as real adapters.

The driver (backtest engine or paper runner) feeds market data with :meth:`SimExchange.on_bar`,
:meth:`SimExchange.on_book` and :meth:`SimExchange.on_funding`; each returns the venue events
it caused (also pushed to ``on_event`` handlers). Everything else is the ``Exchange`` protocol.
See docs/simulation.md for the rules it reproduces.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sparkstacker.errors import DataError, ExchangeError
from sparkstacker.exchange import (
    EventHandler,
    LeverageSetting,
    OrderReport,
    VenueEvent,
)
from sparkstacker.model import (
    ZERO,
    AccountState,
    Balance,
    Fill,
    Instrument,
    InstrumentKind,
    MarginMode,
    Order,
    OrderBook,
    OrderStatus,
    Position,
    Timeframe,
    from_millis,
    to_decimal,
    to_millis,
)
from sparkstacker.model.fast import replace
from sparkstacker.model.members import ACCEPTED, CROSS, REJECTED
from sparkstacker.slippage import SlippageModel
from sparkstacker_plugins.exchanges.sim.arrival import OrderFlow
from sparkstacker_plugins.exchanges.sim.core import SimCore, dec
from sparkstacker_plugins.exchanges.sim.execution import Executor
from sparkstacker_plugins.exchanges.sim.funding import Funding
from sparkstacker_plugins.exchanges.sim.latency import LatencyModel, latency_from_options
from sparkstacker_plugins.exchanges.sim.ledger import Ledger
from sparkstacker_plugins.exchanges.sim.matching import Matcher
from sparkstacker_plugins.exchanges.sim.messages import STYLES
from sparkstacker_plugins.exchanges.sim.options import CAPABILITIES, SimOptions
from sparkstacker_plugins.exchanges.sim.quiet import BarSeries
from sparkstacker_plugins.exchanges.sim.state import FAR, MarketState, WorkingOrder
from sparkstacker_plugins.exchanges.sim.validation import (
    MarketView,
    check_order,
    reserved_margin,
)

if TYPE_CHECKING:
    from sparkstacker.registry import Registry

_EMPTY: list[VenueEvent] = []  # shared "nothing happened" answer of the hot path; never mutate
_PRICE_PLACES = Decimal("1e-8")
_SUBMITTABLE = frozenset({OrderStatus.NEW, OrderStatus.SUBMITTED})  # what submit accepts


class SimExchange:
    """One simulated account on one simulated venue (Hyperliquid rules by default)."""

    venue = "sim"
    capabilities = CAPABILITIES

    def __init__(
        self,
        name: str,
        options: SimOptions | None = None,
        *,
        slippage_model: SlippageModel | None = None,
        latency_model: LatencyModel | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.name = name
        self.options = options = options or SimOptions()
        slippage = slippage_model or _slippage_from_registry(options, registry)
        latency = latency_model or latency_from_options(
            options.latency_ms, options.latency_jitter_ms, options.seed
        )
        share = float(options.volume_share) if options.volume_share is not None else None
        self._core = core = SimCore(
            name=name,
            options=options,
            messages=STYLES[options.venue_style],
            slippage=slippage,
            latency=latency,
            ledger=Ledger(options.initial_equity),
            volume_share=share,
        )
        self._ex = Executor(core)
        self._flow = OrderFlow(core, self._ex)
        self._funding = Funding(core, self._ex)
        self._matcher = Matcher(core, self._ex, self._flow, self._funding)
        self._markets = core.markets
        self._handlers: list[EventHandler] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def slippage_model(self) -> SlippageModel:
        return self._core.slippage

    @property
    def latency_model(self) -> LatencyModel:
        return self._core.latency

    # ---- markets ------------------------------------------------------------------------------

    def add_market(self, instrument: Instrument, *, timeframe: str | None = None) -> None:
        """Make ``instrument`` tradable. ``timeframe`` (e.g. ``"1m"``) is the bar length; without
        it the length is inferred as the smallest gap between consecutive bars."""
        symbol = instrument.symbol
        if symbol in self._markets:
            raise ExchangeError(f"market {symbol} was already added", venue=self.name)
        if instrument.kind is InstrumentKind.SPOT or instrument.contract_size != 1:
            raise ExchangeError(
                f"{symbol}: the simulator trades linear perpetuals with contract size 1 "
                f"(got {instrument.kind}, contract size {instrument.contract_size})",
                venue=self.name,
            )
        core = self._core
        options = self.options
        position = core.ledger.add_market(symbol, instrument.maintenance_margin)
        interval_ms = int(instrument.funding_interval.total_seconds() * 1000)
        if interval_ms <= 0:
            raise ExchangeError(f"{symbol}: funding interval must be positive", venue=self.name)
        market = MarketState(
            instrument=instrument,
            position=position,
            maker_fee=_first(instrument.maker_fee, options.maker_fee),
            taker_fee=_first(instrument.taker_fee, options.taker_fee),
            funding_interval_ms=interval_ms,
            lot_f=float(instrument.lot_size),
        )
        if timeframe is not None:
            market.tf = Timeframe(timeframe).seconds * 1000
        leverage = min(options.default_leverage, instrument.max_leverage)
        mode = MarginMode.ISOLATED if instrument.only_isolated else options.default_margin_mode
        self._use_setting(
            market, LeverageSetting(symbol=symbol, leverage=leverage, margin_mode=mode)
        )
        position.leverage = leverage
        position.mode = mode
        self._markets[symbol] = market

    def _market(self, symbol: str) -> MarketState:
        market = self._markets.get(symbol)
        if market is None:
            known = ", ".join(sorted(self._markets)) or "none"
            raise ExchangeError(
                f"unknown market {symbol!r} (added: {known}); call add_market first",
                venue=self.name,
            )
        return market

    # ---- market data (the driver's API) -------------------------------------------------------

    def on_bar(
        self,
        symbol: str,
        ts_ms: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        funding_rate: float | None = None,
    ) -> list[VenueEvent]:
        """One bar opening at ``ts_ms``. Returns the events it caused (a shared empty list when
        none: do not mutate the result)."""
        m = self._next_bar(symbol, ts_ms)
        m.open = open
        m.high = high
        m.low = low
        m.close = close
        m.volume = volume
        if not m.busy:
            m.last = close
            return _EMPTY
        if (
            low > m.down
            and high < m.up
            and ts_ms + m.tf <= m.next_funding
            and not m.pending
            and not m.deferred
            and self._core.cross_positions < 2
        ):
            m.last = close
            return _EMPTY
        return self._finish(symbol, self._matcher.process_bar(m, funding_rate))

    def on_bar_open(
        self,
        symbol: str,
        ts_ms: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        funding_rate: float | None = None,
    ) -> list[VenueEvent]:
        """First half of a bar: what happens at its open (queued orders fill, gaps settle).

        Until :meth:`on_bar_close` the venue's time is the open, so an order submitted now (a
        hedge leg sent as soon as its main leg filled) meets the open price, as it would live,
        and then takes part in the rest of the bar. ``on_bar`` is both halves in one call.
        """
        m = self._next_bar(symbol, ts_ms)
        m.open, m.high, m.low, m.close, m.volume = open, high, low, close, volume
        m.at_open = True
        m.open_rate = funding_rate
        if not m.busy or (
            low > m.down
            and high < m.up
            and ts_ms + m.tf <= m.next_funding
            and not m.pending
            and not m.deferred
            and self._core.cross_positions < 2
        ):
            # Nothing in this bar can touch an order, a trigger, the liquidation price or a
            # funding boundary: unless an order arrives at the open, the bar is a no-op.
            m.quiet_open = True
            m.last = open
            return _EMPTY
        m.quiet_open = False
        return self._finish(symbol, self._matcher.open_phase(m, funding_rate))

    def _next_bar(self, symbol: str, ts_ms: int) -> MarketState:
        """The market a bar opening at ``ts_ms`` belongs to, its time moved there (the bar
        length shrinks to the smallest gap seen). Raises for an unknown market or a bar that
        is not after the previous one."""
        m = self._markets.get(symbol)
        if m is None:
            m = self._market(symbol)  # raises: unknown market
        gap = ts_ms - m.ts
        if gap < m.tf:
            if gap <= 0:
                raise DataError(
                    f"{symbol}: bar at {ts_ms} is not after the previous bar at {m.ts}; "
                    "bars must arrive in time order, once each"
                )
            m.tf = gap
        m.ts = ts_ms
        return m

    def on_bar_quiet(
        self,
        symbol: str,
        ts_ms: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        funding_rate: float | None = None,
    ) -> bool:
        """Both halves of a bar at once when it can touch nothing: True when the bar was
        taken (exactly as :meth:`on_bar_open` then :meth:`on_bar_close` with no order sent in
        between would have left the market), False — with nothing changed — when the driver
        must call those two. The backtest's per-bar fast path: most bars are quiet."""
        m = self._markets.get(symbol)
        if m is None or m.at_open:
            return False
        gap = ts_ms - m.ts
        tf = m.tf
        if gap < tf:
            if gap <= 0:
                return False  # on_bar_open raises the error
            tf = gap
        if m.busy and not (
            low > m.down
            and high < m.up
            and ts_ms + tf <= m.next_funding
            and not m.pending
            and not m.deferred
            and self._core.cross_positions < 2
        ):
            return False
        m.tf = tf
        m.ts = ts_ms
        m.open, m.high, m.low, m.close, m.volume = open, high, low, close, volume
        m.open_rate = funding_rate
        m.last = close
        return True

    def on_quiet_bars(self, symbol: str, bars: BarSeries, start: int, stop: int) -> int:
        """Take the quiet bars of ``bars[start:stop]`` at once (see :meth:`on_bar_quiet`):
        returns how many were taken from ``start`` on — the market is then exactly as that
        many quiet bars leave it — or 0, with nothing changed, when the driver must feed the
        next bar itself. A quiet bar changes no level a bar is judged by, so a run of them
        ends only at a funding boundary or at a bar that reaches a level."""
        m = self._markets.get(symbol)
        if m is None or m.at_open or stop <= start:
            return 0
        tf = m.tf
        ts = bars.timestamp
        if tf != bars.step or ts[start] - m.ts != tf or not bars.regular(start, stop):
            return 0  # the bar length is not settled yet, or a gap: bar by bar
        if m.busy:
            if m.pending or m.deferred or self._core.cross_positions >= 2:
                return 0
            # bars are one bar length apart: the last one ending by the next funding boundary
            stop = min(stop, start + (m.next_funding - ts[start]) // tf)
            if stop <= start or not bars.inside(start, stop, m.down, m.up):
                return 0
        last = stop - 1
        m.ts = ts[last]
        m.open, m.high, m.low = bars.open[last], bars.high[last], bars.low[last]
        m.close = m.last = bars.close[last]
        m.volume = bars.volume[last]
        if bars.funding is not None:
            rate = bars.funding[last]
            m.open_rate = rate if rate == rate else None
        else:
            m.open_rate = None
        return stop - start

    def on_bar_close(self, symbol: str) -> list[VenueEvent]:
        """Second half of the bar opened by :meth:`on_bar_open`: orders sent at the open, the
        intrabar path, funding inside the bar, liquidation; the venue's time becomes the close."""
        m = self._markets[symbol]
        if not m.at_open:
            raise ExchangeError(f"{symbol}: on_bar_close without on_bar_open", venue=self.name)
        m.at_open = False
        if m.quiet_open:
            m.quiet_open = False
            if not m.pending:
                m.last = m.close
                return _EMPTY
            m.bar_seq += 1
        return self._finish(symbol, self._matcher.close_phase(m, m.open_rate))

    def on_book(self, symbol: str, book: OrderBook) -> list[VenueEvent]:
        """A new L2 snapshot: from now on taker orders walk this book (book mode)."""
        m = self._market(symbol)
        if book.symbol != symbol:
            raise DataError(f"book for {book.symbol} delivered as {symbol}")
        prev = m.last
        m.book = book
        m.book_used = {}
        m.book_ts = to_millis(book.timestamp)
        mid = book.mid or book.best_bid or book.best_ask
        if mid is not None:
            m.last = float(mid)
        if not m.has_price:
            return _EMPTY
        if not m.busy:
            return _EMPTY
        out = self._matcher.process_book(m, book, prev if prev == prev else m.last)
        return self._finish(symbol, out)

    def on_funding(self, symbol: str, ts_ms: int, rate: Decimal) -> list[VenueEvent]:
        """An explicit funding print (a funding-rate series) for the boundary at ``ts_ms``."""
        m = self._market(symbol)
        out: list[VenueEvent] = []
        self._funding.on_event(m, ts_ms, to_decimal(rate, what="funding rate"), out)
        return self._finish(symbol, out)

    def _finish(self, symbol: str, out: list[VenueEvent]) -> list[VenueEvent]:
        self._dispatch(out)
        m = self._markets[symbol]
        if m.deferred:
            out = m.deferred + out
            m.deferred = []
            m.refresh()
        return out

    # ---- the Exchange protocol ----------------------------------------------------------------

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        for task in list(self._tasks):
            await task

    async def instruments(self) -> list[Instrument]:
        return [m.instrument for m in self._markets.values()]

    async def account(self) -> AccountState:
        return self.account_state()

    async def set_leverage(
        self, symbol: str, leverage: Decimal, margin_mode: MarginMode
    ) -> LeverageSetting:
        return self.apply_leverage(symbol, leverage, margin_mode)

    async def leverage(self, symbol: str) -> LeverageSetting:
        self._market(symbol)
        return self._core.settings[symbol]

    async def submit(self, order: Order) -> OrderReport:
        return self.submit_order(order)

    async def cancel(self, order: Order) -> OrderReport:
        return self.cancel_order(order.client_order_id, order.symbol)

    async def order_status(self, client_order_id: str, symbol: str) -> OrderReport | None:
        wo = self._core.orders.get(client_order_id)
        if wo is None or wo.symbol != symbol:
            return None
        return self._core.report(wo, self._market(symbol).clock_ms)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [
            wo.order
            for wo in self._core.orders.values()
            if wo.order.is_open and (symbol is None or wo.symbol == symbol)
        ]

    async def fills(self, since: datetime | None = None) -> list[Fill]:
        if since is None:
            return list(self._core.fills)
        return [fill for fill in self._core.fills if fill.timestamp >= since]

    async def order_book(self, symbol: str) -> OrderBook:
        m = self._market(symbol)
        if m.book is not None:
            return m.book
        return OrderBook(venue=self.name, symbol=symbol, timestamp=from_millis(m.clock_ms))

    def on_event(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    # ---- synchronous forms (the backtest engine may call these directly) ----------------------

    def submit_order(self, order: Order) -> OrderReport:
        """Validate and accept (or reject) ``order``; with ``fill_at="close"`` and no latency it
        also executes now. Resubmitting a known client order id returns that order's report."""
        core = self._core
        m = self._markets.get(order.symbol) or self._market(order.symbol)
        known = core.orders.get(order.client_order_id)
        if known is not None:
            return core.report(known, m.clock_ms)
        if m.last != m.last:  # no price yet
            raise ExchangeError(
                f"no market data for {order.symbol} yet: deliver a bar or a book first",
                venue=self.name,
            )
        now = m.clock_ms
        if order.status not in _SUBMITTABLE:
            raise ExchangeError(
                f"order {order.client_order_id} is already {order.status}; submit a new order",
                venue=self.name,
            )
        wo = WorkingOrder.of(order, core.next_order_seq(), core.latency.delay_ms(order))
        core.orders[wo.client_order_id] = wo
        core.forget_old_orders()
        reason = check_order(wo, m.instrument, core.messages, self._view(m))
        # NEW → SUBMITTED → ACCEPTED / REJECTED, legal per the state machine, in one copy.
        update: dict[str, Any] = {
            "updated_at": from_millis(now),
            "venue_order_id": wo.venue_order_id,
        }
        if reason is not None:
            update.update(status=REJECTED, reason=reason)
            wo.order = replace(order, update)
            return core.report(wo, now)
        update["status"] = ACCEPTED
        wo.order = replace(order, update)
        if wo.delay_ms == 0 and core.fill_at_close:
            out: list[VenueEvent] = []
            self._matcher.fill_now(m, wo, out)
            return self._own_report(m, wo, now, out)
        if m.tf < FAR or m.book is not None:
            wo.active_at = now + wo.delay_ms
        m.pending.append(wo)
        m.busy = True  # a pending order moves no level: all ``refresh`` would change
        return core.report(wo, now)

    def _own_report(
        self, m: MarketState, wo: WorkingOrder, now: int, out: list[VenueEvent]
    ) -> OrderReport:
        """Fold the events about ``wo`` into its report; defer the rest to the next data call."""
        cid = wo.client_order_id
        fills: list[Fill] = []
        others: list[VenueEvent] = []
        for event in out:
            if event.report is not None and event.report.client_order_id == cid:
                fills.extend(event.report.fills)
            else:
                others.append(event)
        if others:
            m.deferred.extend(others)
            m.busy = True
            self._dispatch(others)
        return self._core.report(wo, now, fills)

    def cancel_order(self, client_order_id: str, symbol: str) -> OrderReport:
        core = self._core
        m = self._market(symbol)
        now = m.clock_ms
        wo = core.orders.get(client_order_id)
        missing = core.messages.cancel_missing
        if wo is None or wo.symbol != symbol:
            return OrderReport(
                client_order_id=client_order_id,
                status=OrderStatus.REJECTED,
                reason=missing,
                timestamp=from_millis(now),
            )
        if wo.order.is_terminal:
            return core.report(wo, now).model_copy(update={"reason": missing})
        out: list[VenueEvent] = []
        self._ex.end(m, wo, OrderStatus.CANCELLED, core.messages.user_cancel, now, out)
        m.refresh()
        return core.report(wo, now)

    def apply_leverage(
        self, symbol: str, leverage: Decimal, margin_mode: MarginMode
    ) -> LeverageSetting:
        """Hyperliquid's ``updateLeverage``: per asset, integral, within the asset's maximum."""
        core = self._core
        msgs = core.messages
        m = self._market(symbol)
        instrument = m.instrument
        leverage = Decimal(leverage)
        if (
            leverage != leverage.to_integral_value()
            or leverage < 1
            or leverage > instrument.max_leverage
        ):
            raise ExchangeError(msgs.invalid_leverage, venue=self.name)
        if instrument.only_isolated and margin_mode is MarginMode.CROSS:
            raise ExchangeError(msgs.cross_not_allowed, venue=self.name)
        position = m.position
        current = core.settings[symbol]
        if position.size != 0:
            if margin_mode is not position.mode:
                raise ExchangeError(msgs.switch_mode_with_position, venue=self.name)
            if leverage < current.leverage:
                self._check_decrease(m, leverage)
        setting = LeverageSetting(symbol=symbol, leverage=leverage, margin_mode=margin_mode)
        self._use_setting(m, setting)
        if position.size == 0:
            position.mode = margin_mode
            position.leverage = leverage
        elif position.mode is MarginMode.CROSS:
            position.leverage = leverage
        return setting

    def _use_setting(self, m: MarketState, setting: LeverageSetting) -> None:
        """Make ``setting`` the market's (also kept on ``m``, which each fill reads)."""
        self._core.settings[m.symbol] = setting
        m.leverage = setting.leverage
        m.margin_mode = setting.margin_mode

    def _check_decrease(self, m: MarketState, leverage: Decimal) -> None:
        msgs = self._core.messages
        position = m.position
        mark = dec(m.last)
        needed = abs(position.size) * mark / leverage
        if position.mode is MarginMode.ISOLATED:
            if position.iso_margin + position.unrealized(mark) < needed:
                raise ExchangeError(msgs.isolated_decrease, venue=self.name)
            return
        held = abs(position.size) * mark / position.leverage
        if self._available() - (needed - held) < 0:
            raise ExchangeError(msgs.cross_decrease, venue=self.name)

    # ---- account ------------------------------------------------------------------------------

    def _available(self) -> Decimal:
        """Margin free for new orders: cross equity − cross initial margin − orders' margin."""
        free = self._core.ledger.cash
        for m in self._markets.values():
            position = m.position
            size = position.size
            orders = m.resting or m.pending
            if (not size and not orders) or m.last != m.last:  # nothing held, or no price yet
                continue
            last = m.last_dec()
            leverage = m.leverage
            if size and position.mode is CROSS:
                free += position.unrealized(last) - abs(size) * last / leverage
            if orders:
                free -= reserved_margin(m.resting + m.pending, size, leverage, last)
        return free

    def _view(self, m: MarketState) -> MarketView:
        last = m.last_dec()
        book = m.book
        if book is None:
            bid = ask = last
        else:
            bid = book.best_bid or last
            ask = book.best_ask or last
        leverage = m.leverage
        # positional (cheaper than keywords on this per-order path): position, last, bid, ask,
        # leverage, available (None: ask free_margin), book, free_margin
        return MarketView(
            m.position.size, last, bid, ask, leverage, None, book is not None, self._available
        )

    def account_state(self) -> AccountState:
        core = self._core
        ledger = core.ledger
        collateral = ledger.collateral
        equity = collateral
        margin_used = ZERO
        maintenance = ZERO
        positions: list[Position] = []
        clock = max((m.clock_ms for m in self._markets.values()), default=0)
        for m in self._markets.values():
            p = m.position
            if p.size == 0:
                continue
            mark = dec(m.last)
            upnl = p.unrealized(mark)
            equity += upnl
            cross = p.mode is MarginMode.CROSS
            used = abs(p.size) * mark / m.leverage if cross else p.iso_margin
            margin_used += used
            maintenance += p.maintenance(mark)
            positions.append(
                Position(
                    venue=self.name,
                    symbol=m.symbol,
                    size=p.size,
                    entry_price=p.entry,
                    leverage=p.leverage,
                    margin_mode=p.mode,
                    liquidation_price=p.liq.quantize(_PRICE_PLACES) if p.liq else None,
                    unrealized_pnl=upnl,
                    margin_used=used,
                    mark_price=mark,
                    realized_pnl=p.realized,
                    funding_paid=p.funding,
                    account=self.options.account,
                    opened_at=from_millis(p.opened_ms) if p.opened_ms is not None else None,
                )
            )
        return AccountState(
            venue=self.name,
            account=self.options.account,
            equity=equity,
            collateral=collateral,
            margin_used=margin_used,
            maintenance_margin=maintenance,
            positions=tuple(positions),
            balances=(
                Balance(
                    asset=self.options.quote,
                    total=collateral,
                    available=max(ZERO, equity - margin_used),
                ),
            ),
            timestamp=from_millis(clock),
            simulated=True,
        )

    def totals(self) -> dict[str, Decimal]:
        """Cumulative money flows: realised PnL, fees and funding (positive = paid)."""
        ledger = self._core.ledger
        return {
            "initial": ledger.initial,
            "collateral": ledger.collateral,
            "realized_pnl": ledger.realized_total,
            "fees": ledger.fees_total,
            "funding": ledger.funding_total,
        }

    # ---- events -------------------------------------------------------------------------------

    def _dispatch(self, events: list[VenueEvent]) -> None:
        if not self._handlers or not events:
            return
        for event in events:
            for handler in self._handlers:
                result = handler(event)
                if inspect.isawaitable(result):
                    self._schedule(result)

    def _schedule(self, awaitable: Awaitable[None]) -> None:
        async def wait() -> None:
            await awaitable

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(wait())
            return
        task = loop.create_task(wait())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _first(value: Decimal | None, default: Decimal) -> Decimal:
    return value if value is not None else default


def _slippage_from_registry(options: SimOptions, registry: Registry | None) -> SlippageModel:
    """The slippage model named in the options, built from the installed plugins."""
    if registry is None:
        from sparkstacker.registry import Registry

        registry = Registry.load()
    plugin = registry.slippage_models.get(options.slippage)
    return plugin.create(options.slippage_params)
