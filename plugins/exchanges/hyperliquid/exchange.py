"""``HyperliquidExchange``: one account on Hyperliquid behind the framework's Exchange protocol.

The class orchestrates; the work lives in small modules: :mod:`.client` (SDK, rate limit,
retries), :mod:`.schemas` / :mod:`.parsing` / :mod:`.responses` (validation), :mod:`.orders`
(rounding, reports), :mod:`.order_flow` (send / look up by cloid / cancel / modify),
:mod:`.leverage` (verified leverage), :mod:`.history` (paging) and :mod:`.streams` (websocket).
A response the adapter does not understand halts trading on this instance (every further
submit refuses with the reason) instead of being guessed at.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

from sparkstacker.errors import (
    ConfigError,
    ExchangeError,
    ExchangeFormatError,
    LeverageLimitError,
    LeverageMismatch,
    OrderRejected,
)
from sparkstacker.exchange import (
    EventHandler,
    LeverageSetting,
    OrderReport,
    VenueEvent,
)
from sparkstacker.model import (
    ZERO,
    AccountState,
    Candle,
    Fill,
    FundingRate,
    Instrument,
    MarginMode,
    Order,
    OrderBook,
    OrderType,
    from_millis,
    to_millis,
)
from sparkstacker_plugins.exchanges.hyperliquid.client import HyperliquidClient
from sparkstacker_plugins.exchanges.hyperliquid.clock import AdapterClock, SystemClock, now_ms
from sparkstacker_plugins.exchanges.hyperliquid.history import (
    FILLS_PAGE_CAP,
    interval_ms,
    page_candles,
    page_funding,
    split_pages,
)
from sparkstacker_plugins.exchanges.hyperliquid.ids import cloid_for
from sparkstacker_plugins.exchanges.hyperliquid.leverage import LeverageGuard, check_matches
from sparkstacker_plugins.exchanges.hyperliquid.order_flow import OrderFlow
from sparkstacker_plugins.exchanges.hyperliquid.orders import (
    PreparedOrder,
    prepare_order,
)
from sparkstacker_plugins.exchanges.hyperliquid.parsing import (
    AssetContext,
    leverage_of,
    parse_account,
    parse_active_leverage,
    parse_asset_contexts,
    parse_book,
    parse_candles,
    parse_fills,
    parse_funding,
    parse_meta,
    parse_open_orders,
    parse_spot,
)
from sparkstacker_plugins.exchanges.hyperliquid.plugin import CAPABILITIES
from sparkstacker_plugins.exchanges.hyperliquid.rate_limit import WeightLimiter, limiter_for
from sparkstacker_plugins.exchanges.hyperliquid.responses import (
    Refused,
    default_outcome,
)
from sparkstacker_plugins.exchanges.hyperliquid.retry import RetryPolicy
from sparkstacker_plugins.exchanges.hyperliquid.schemas import (
    VENUE,
    ClearinghouseState,
    SpotAssetCtx,
    validate,
)
from sparkstacker_plugins.exchanges.hyperliquid.settings import ENV_PREFIX, HyperliquidSettings
from sparkstacker_plugins.exchanges.hyperliquid.streams import (
    FillLedger,
    HyperliquidStream,
    OrderIds,
    StreamTranslator,
)
from sparkstacker_plugins.exchanges.hyperliquid.symbols import Market, SymbolMap
from sparkstacker_plugins.exchanges.hyperliquid.venue_errors import (
    VenueHalted,
    action_error,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def guarded(
    method: Callable[Concatenate[HyperliquidExchange, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[HyperliquidExchange, P], Coroutine[Any, Any, R]]:
    """Halt the instance on a response it does not understand or on broken credentials."""

    @functools.wraps(method)
    async def wrapper(self: HyperliquidExchange, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(self, *args, **kwargs)
        except ExchangeFormatError as exc:
            self.halt(str(exc))
            raise
        except VenueHalted as exc:
            self.halt(exc.reason)
            raise

    return wrapper


class HyperliquidExchange:
    """One Hyperliquid account (master, vault or sub-account) on one network."""

    venue = VENUE

    def __init__(
        self,
        name: str,
        settings: HyperliquidSettings,
        *,
        limiter: WeightLimiter | None = None,
        clock: AdapterClock | None = None,
        retry: RetryPolicy | None = None,
        stream_backoff: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.capabilities = CAPABILITIES
        self.clock: AdapterClock = clock or SystemClock()
        self.limiter = limiter or limiter_for(settings.base_url)
        self.client = HyperliquidClient(
            settings, limiter=self.limiter, clock=self.clock, retry=retry
        )
        self.account_label = settings.account
        self.ids = OrderIds()
        self.ledger = FillLedger()
        self.leverage_guard = LeverageGuard(self.clock, settings.leverage_recheck_seconds)
        self._stream_backoff = stream_backoff
        self._symbols: SymbolMap | None = None
        self._spot_ctx: dict[str, SpotAssetCtx] = {}
        self._halted: str | None = None
        self._handlers: list[EventHandler] = []
        self._stream: HyperliquidStream | None = None
        self._translator: StreamTranslator | None = None
        self.flow = OrderFlow(
            name=name,
            account=self.account_label,
            client=self.client,
            settings=settings,
            clock=self.clock,
            ids=self.ids,
            ledger=self.ledger,
            symbols=self._require_symbols,
            address=self._address,
        )

    def __repr__(self) -> str:
        return (
            f"HyperliquidExchange(name={self.name!r}, network={self.settings.network!r}, "
            f"account={self.account_label!r}, halted={self._halted is not None})"
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    @guarded
    async def connect(self) -> None:
        """Load this network's markets; open the websocket when streaming is on."""
        await self.markets()
        if self.settings.streaming:
            await self.start_stream()

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    # ---- halting -----------------------------------------------------------------------------

    @property
    def halted(self) -> str | None:
        """Why trading is stopped on this instance, or None."""
        return self._halted

    def halt(self, reason: str) -> None:
        if self._halted is None:
            log.error("hyperliquid instance %s halted: %s", self.name, reason)
            self._halted = reason

    def resume(self) -> None:
        """Clear a halt after the cause was fixed (an operator decision)."""
        self._halted = None

    def _check_trading(self) -> None:
        if self._halted is not None:
            raise VenueHalted(self._halted, venue=self.name)

    # ---- markets -----------------------------------------------------------------------------

    @guarded
    async def markets(self, *, refresh: bool = False) -> list[Market]:
        """Every market of this network (meta fetched once, or again with ``refresh``)."""
        if self._symbols is None or refresh:
            meta_raw = await self.client.fetch_meta()
            spot_raw = await self.client.fetch_spot() if self.settings.include_spot else None
            self.install_markets(meta_raw, spot_raw)
        assert self._symbols is not None
        return list(self._symbols)

    def install_markets(self, meta_raw: Any, spot_raw: Any = None) -> SymbolMap:
        """Validate ``meta`` (and ``spotMetaAndAssetCtxs``), build the symbol map and the SDK's
        offline Info from it, and check both agree on every asset id."""
        meta = parse_meta(meta_raw)
        spot = None
        spot_meta_raw = None
        if spot_raw is not None:
            spot, self._spot_ctx = parse_spot(spot_raw)
            spot_meta_raw = spot_raw[0]
        symbols = SymbolMap.build(meta, spot, venue=self.name)
        sdk_assets = self.client.bind(symbols.sdk_meta(), spot_meta_raw)
        for market in symbols:
            if sdk_assets.get(market.coin) != market.asset_id:
                raise ExchangeError(
                    f"the SDK maps {market.coin} to asset {sdk_assets.get(market.coin)} but "
                    f"meta says {market.asset_id}; refusing to trade with ambiguous ids",
                    venue=self.name,
                )
        self._symbols = symbols
        return symbols

    def _require_symbols(self) -> SymbolMap:
        if self._symbols is None:
            raise ExchangeError("markets are not loaded; call connect() first", venue=self.name)
        return self._symbols

    async def _market(self, symbol: str) -> Market:
        if self._symbols is None:
            await self.markets()
        return self._require_symbols().market(symbol)

    async def instruments(self) -> list[Instrument]:
        return [m.instrument for m in await self.markets() if not m.delisted]

    async def market_rows(self) -> list[dict[str, str]]:
        """Rows for ``spark-stacker markets``: symbol, venue symbol, asset id, rules."""
        return [
            {
                "symbol": m.symbol,
                "venue_symbol": m.coin,
                "asset_id": str(m.asset_id),
                "kind": m.instrument.kind.value,
                "tick_rule": m.tick_rule,
                "lot": f"{m.instrument.lot_size:f}",
                "max_leverage": f"{m.instrument.max_leverage:f}",
                "min_notional": f"{m.instrument.min_notional:f}",
                "only_isolated": str(m.instrument.only_isolated).lower(),
                "delisted": str(m.delisted).lower(),
            }
            for m in await self.markets()
        ]

    # ---- account -----------------------------------------------------------------------------

    def _address(self) -> str:
        address = self.settings.trading_address
        if address is None:
            raise ConfigError(
                f"{ENV_PREFIX}ACCOUNT_ADDRESS is not set: account queries use the master (or "
                "sub-account) address, never the agent wallet's"
            )
        return address

    async def _clearinghouse(self) -> Any:
        address = self._address()
        return await self.client.info("clearinghouseState", lambda i: i.user_state(address))

    @guarded
    async def account(self) -> AccountState:
        await self.markets()
        raw = await self._clearinghouse()
        symbols = self._require_symbols()
        return parse_account(
            raw,
            symbols,
            venue=self.name,
            account=self.account_label,
            now=self.clock.now(),
            instruments={m.symbol: m.instrument for m in symbols},
        )

    async def _position_size(self, market: Market) -> Decimal:
        state = validate(ClearinghouseState, await self._clearinghouse(), "clearinghouseState")
        for item in state.assetPositions:
            if item.position.coin == market.coin:
                return item.position.szi
        return ZERO

    # ---- leverage ----------------------------------------------------------------------------

    async def _read_leverage(self, market: Market) -> LeverageSetting:
        """The venue's setting: the position's when one is open, else ``activeAssetData``."""
        state = validate(ClearinghouseState, await self._clearinghouse(), "clearinghouseState")
        for item in state.assetPositions:
            if item.position.coin == market.coin and item.position.szi != 0:
                leverage, mode = leverage_of(item.position.leverage)
                return LeverageSetting(symbol=market.symbol, leverage=leverage, margin_mode=mode)
        raw = await self.client.post_info(
            {"type": "activeAssetData", "user": self._address(), "coin": market.coin}
        )
        leverage, mode = parse_active_leverage(raw)
        return LeverageSetting(symbol=market.symbol, leverage=leverage, margin_mode=mode)

    @guarded
    async def leverage(self, symbol: str) -> LeverageSetting:
        """What the venue reports now (read, never assumed)."""
        market = await self._market(symbol)
        setting = await self._read_leverage(market)
        self.leverage_guard.observe(setting)
        return setting

    @guarded
    async def set_leverage(
        self, symbol: str, leverage: Decimal, margin_mode: MarginMode
    ) -> LeverageSetting:
        """Push leverage, check the answer, read it back; LeverageMismatch when it differs."""
        market = await self._market(symbol)
        if market.is_spot:
            raise LeverageLimitError(f"{symbol} is a spot market: there is no leverage to set")
        leverage = Decimal(leverage)
        if leverage != leverage.to_integral_value():
            raise LeverageLimitError(
                f"Hyperliquid leverage is a whole number; {leverage}x for {symbol} is not"
            )
        market.instrument.check_leverage(leverage)
        if margin_mode is MarginMode.CROSS and market.instrument.only_isolated:
            raise LeverageLimitError(f"{symbol} is isolated-only on Hyperliquid; cross is refused")
        self.leverage_guard.forget(market.symbol)
        is_cross = margin_mode is MarginMode.CROSS
        raw = await self.client.action(
            "updateLeverage",
            lambda ex: ex.update_leverage(int(leverage), market.coin, is_cross),
        )
        refused = default_outcome(raw, "exchange:updateLeverage")
        if isinstance(refused, Refused):
            raise action_error(refused.text, venue=self.name, action=f"updateLeverage {symbol}")
        reported = await self._read_leverage(market)
        self.leverage_guard.observe(reported)
        if reported.leverage != leverage or reported.margin_mode is not margin_mode:
            raise LeverageMismatch(
                f"set {leverage.normalize():f}x {margin_mode.value} on {symbol} but the venue "
                f"reports {reported.leverage.normalize():f}x {reported.margin_mode.value}; "
                "nothing will be opened on it until they agree",
                venue=self.name,
            )
        self.leverage_guard.confirm(reported)
        return reported

    async def _verify_leverage(self, order: Order, market: Market) -> None:
        target = self.leverage_guard.target(order)
        observed = self.leverage_guard.observed(order.symbol)
        if observed is None:
            observed = await self._read_leverage(market)
            self.leverage_guard.observe(observed)
        check_matches(order, target, observed)

    @guarded
    async def update_isolated_margin(self, symbol: str, amount: Decimal) -> None:
        """Add (positive) or remove (negative) USDC margin on an isolated position."""
        self._check_trading()
        market = await self._market(symbol)
        raw = await self.client.action(
            "updateIsolatedMargin",
            lambda ex: ex.update_isolated_margin(float(amount), market.coin),
        )
        refused = default_outcome(raw, "exchange:updateIsolatedMargin")
        if isinstance(refused, Refused):
            raise action_error(refused.text, venue=self.name, action="updateIsolatedMargin")

    @guarded
    async def schedule_cancel(self, at: datetime | None) -> None:
        """Dead man's switch: cancel every open order at ``at`` (None clears it)."""
        when = None if at is None else to_millis(at)
        raw = await self.client.action("scheduleCancel", lambda ex: ex.schedule_cancel(when))
        refused = default_outcome(raw, "exchange:scheduleCancel")
        if isinstance(refused, Refused):
            raise action_error(refused.text, venue=self.name, action="scheduleCancel")

    # ---- orders ------------------------------------------------------------------------------

    @guarded
    async def submit(self, order: Order) -> OrderReport:
        [report] = await self._submit([order], grouping="na")
        return report

    @guarded
    async def submit_many(self, orders: list[Order], grouping: str = "na") -> list[OrderReport]:
        """Several orders in one action. ``normalTpsl`` attaches TP/SL orders to the first
        (parent) order; ``positionTpsl`` attaches them to the position."""
        if grouping not in ("na", "normalTpsl", "positionTpsl"):
            raise ValueError(f"unknown grouping {grouping!r}")
        if not orders:
            return []
        return await self._submit(orders, grouping=grouping)

    async def _submit(self, orders: list[Order], *, grouping: str) -> list[OrderReport]:
        self._check_trading()
        prepared = []
        for order in orders:
            if order.venue != self.name:
                raise ExchangeError(
                    f"order {order.client_order_id} is for venue {order.venue!r}, "
                    f"not {self.name!r}",
                    venue=self.name,
                )
            market = await self._market(order.symbol)
            if market.delisted and not order.reduce_only:
                raise OrderRejected(
                    f"not sent: {order.symbol} is delisted; only reduce-only orders are allowed",
                    venue=self.name,
                    client_order_id=order.client_order_id,
                )
            if not order.reduce_only and not market.is_spot:
                await self._verify_leverage(order, market)
            book = await self.order_book(order.symbol) if order.type is OrderType.MARKET else None
            prepared.append(await self._prepare(order, market, book))
        return await self.flow.send(prepared, grouping)

    async def _prepare(self, order: Order, market: Market, book: OrderBook | None) -> PreparedOrder:
        slippage = self.settings.market_slippage
        prepared = prepare_order(
            order, market, book=book, slippage=slippage, closes_position=order.reduce_only
        )
        instrument = market.instrument
        if order.reduce_only and instrument.notional(prepared.size, prepared.price) < (
            instrument.min_notional
        ):
            # Under $10 is allowed only when the order closes the whole position.
            position = abs(await self._position_size(market))
            instrument.check_notional(
                prepared.size,
                prepared.price,
                closes_position=position > 0 and order.size >= position,
            )
        return prepared

    @guarded
    async def order_status(self, client_order_id: str, symbol: str) -> OrderReport | None:
        """Look an order up by its client order id (via the cloid); None when unknown."""
        await self._market(symbol)
        cloid = cloid_for(client_order_id)
        self.ids.remember(client_order_id, cloid)
        return await self.flow.lookup(client_order_id, cloid=cloid)

    @guarded
    async def cancel(self, order: Order) -> OrderReport:
        """Cancel by oid when known, else by cloid; the answer is then confirmed by status."""
        market = await self._market(order.symbol)
        return await self.flow.cancel(order, market)

    @guarded
    async def modify(
        self,
        order: Order,
        *,
        price: Decimal | None = None,
        size: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> OrderReport:
        """Change price / size / trigger of a resting order (same cloid, maybe a new oid)."""
        self._check_trading()
        if order.type is OrderType.MARKET:
            raise OrderRejected("a market order cannot be modified", venue=self.name)
        market = await self._market(order.symbol)
        fields = order.model_dump()
        fields.update(
            price=order.price if price is None else price,
            size=order.size if size is None else size,
            trigger_price=order.trigger_price if trigger_price is None else trigger_price,
            filled_size=ZERO,
        )
        updated = Order(**fields)
        if not updated.reduce_only and not market.is_spot and updated.size > order.size:
            await self._verify_leverage(updated, market)
        prepared = await self._prepare(updated, market, None)
        return await self.flow.modify(order, prepared)

    @guarded
    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders incl. trigger (TP/SL) orders and children (``frontendOpenOrders``)."""
        await self.markets()
        address = self._address()
        raw = await self.client.info(
            "frontendOpenOrders", lambda i: i.frontend_open_orders(address)
        )
        orders = parse_open_orders(
            raw, self._require_symbols(), venue=self.name, client_ids=self.ids.by_cloid
        )
        return [o for o in orders if symbol is None or o.symbol == symbol]

    @guarded
    async def fills(self, since: datetime | None = None) -> list[Fill]:
        """Fills since ``since`` (all pages), or the most recent 2000 when None."""
        await self.markets()
        address = self._address()
        symbols = self._require_symbols()

        def parse(raw: Any, endpoint: str) -> list[Fill]:
            return parse_fills(
                raw,
                symbols,
                venue=self.name,
                account=self.account_label,
                client_ids=self.ids.by_cloid,
                endpoint=endpoint,
            )

        if since is None:
            raw = await self.client.info("userFills", lambda i: i.user_fills(address))
            return sorted(parse(raw, "userFills"), key=lambda f: f.timestamp)

        async def page(lo: int, hi: int | None) -> list[Fill]:
            raw = await self.client.info(
                "userFillsByTime", lambda i: i.user_fills_by_time(address, lo, hi)
            )
            return parse(raw, "userFillsByTime")

        return await split_pages(
            page,
            start_ms=to_millis(since),
            end_ms=None,
            now_ms=now_ms(self.clock),
            cap=FILLS_PAGE_CAP,
            key=lambda f: f.fill_id,
            time_of=lambda f: to_millis(f.timestamp),
        )

    # ---- market data -------------------------------------------------------------------------

    @guarded
    async def order_book(self, symbol: str) -> OrderBook:
        market = await self._market(symbol)
        raw = await self.client.info("l2Book", lambda i: i.l2_snapshot(market.coin))
        book = parse_book(raw, self._require_symbols(), venue=self.name)
        if book.symbol != market.symbol:
            raise ExchangeFormatError(
                "l2Book", "coin", f"asked for {market.coin}, got {book.symbol}", venue=VENUE
            )
        return book

    @guarded
    async def asset_contexts(self) -> dict[str, AssetContext]:
        """Mark, oracle and mid prices, current hourly funding and open interest per perp."""
        raw = await self.client.info("metaAndAssetCtxs", lambda i: i.meta_and_asset_ctxs())
        return parse_asset_contexts(raw)

    @guarded
    async def candles(
        self, symbol: str, timeframe: str, start: datetime, end: datetime
    ) -> list[Candle]:
        """Complete candles opening in ``[start, end)``, paged (at most 5000 exist per coin)."""
        market = await self._market(symbol)
        interval_ms(timeframe)

        async def page(lo: int, hi: int) -> list[Candle]:
            raw = await self.client.info(
                "candleSnapshot", lambda i: i.candles_snapshot(market.coin, timeframe, lo, hi)
            )
            return parse_candles(raw, market.symbol)

        return await page_candles(
            page, timeframe=timeframe, start=start, end=end, now=self.clock.now()
        )

    @guarded
    async def funding_history(
        self, symbol: str, start: datetime, end: datetime | None = None
    ) -> list[FundingRate]:
        """Hourly funding rates (positive: longs pay shorts), paged."""
        market = await self._market(symbol)
        if market.is_spot:
            raise ExchangeError(f"{symbol} is a spot market: it has no funding", venue=self.name)

        async def page(lo: int, hi: int | None) -> list[FundingRate]:
            raw = await self.client.info(
                "fundingHistory", lambda i: i.funding_history(market.coin, lo, hi)
            )
            return parse_funding(raw, market.symbol, venue=self.name)

        return await page_funding(page, start=start, end=end, now=self.clock.now())

    # ---- streaming ---------------------------------------------------------------------------

    def on_event(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    async def _emit(self, event: VenueEvent) -> None:
        for handler in list(self._handlers):
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                # A broken handler must not stop the stream; the failure is logged in full.
                log.exception("event handler %r failed on a %s event", handler, event.kind)

    @guarded
    async def start_stream(self) -> HyperliquidStream:
        """Open the websocket (user channels when an address is configured)."""
        await self.markets()
        if self._stream is not None:
            return self._stream
        self._translator = StreamTranslator(
            venue=self.name,
            account=self.account_label,
            symbols=self._require_symbols,
            ids=self.ids,
            ledger=self.ledger,
            emit=self._emit,
            halt=self.halt,
            now=self.clock.now,
            watermark_ms=now_ms(self.clock),
        )
        kwargs: dict[str, Any] = {}
        if self._stream_backoff is not None:
            kwargs["backoff"] = self._stream_backoff
        self._stream = HyperliquidStream(
            self.settings.websocket_url,
            on_message=self._translator.handle,
            on_connect=self._on_stream_connect,
            on_disconnect=self._on_stream_disconnect,
            ping_interval=self.settings.ping_interval,
            sleep=self.clock.sleep,
            **kwargs,
        )
        address = self.settings.trading_address
        if address is not None:
            for kind in ("orderUpdates", "userFills", "userEvents"):
                await self._stream.subscribe({"type": kind, "user": address})
        self._stream.start()
        return self._stream

    async def subscribe_market(
        self,
        symbol: str,
        *,
        book: bool = True,
        trades: bool = False,
        candle_interval: str | None = None,
    ) -> None:
        """Add market-data subscriptions (kept across reconnects)."""
        market = await self._market(symbol)
        stream = self._stream or await self.start_stream()
        if book:
            await stream.subscribe({"type": "l2Book", "coin": market.coin})
        if trades:
            await stream.subscribe({"type": "trades", "coin": market.coin})
        if candle_interval is not None:
            interval_ms(candle_interval)
            await stream.subscribe(
                {"type": "candle", "coin": market.coin, "interval": candle_interval}
            )

    async def _on_stream_connect(self, connects: int) -> None:
        await self._emit(
            VenueEvent(
                kind="connected",
                venue=self.name,
                timestamp=self.clock.now(),
                data={"connects": connects},
            )
        )
        await self.resync()

    async def _on_stream_disconnect(self, attempt: int, reason: str) -> None:
        await self._emit(
            VenueEvent(
                kind="disconnected",
                venue=self.name,
                timestamp=self.clock.now(),
                data={"attempt": attempt, "reason": reason},
            )
        )

    async def resync(self) -> None:
        """REST catch-up after a (re)connect: fills since the last one seen, open orders."""
        translator = self._translator
        if translator is None or self.settings.trading_address is None:
            return
        since = max(self.ledger.last_time_ms, translator.watermark_ms)
        try:
            fills = await self.fills(since=from_millis(since))
            for fill in fills:
                await translator.deliver_fill(fill)
            orders = await self.open_orders()
        except ExchangeError as exc:
            # Format errors already halted trading (guarded); the stream itself keeps running.
            log.warning("resync after reconnect failed, will retry on the next one: %s", exc)
            if self._halted is not None:
                await self._emit(
                    VenueEvent(
                        kind="halted",
                        venue=self.name,
                        timestamp=self.clock.now(),
                        data={"reason": self._halted},
                    )
                )
            return
        await self._emit(
            VenueEvent(
                kind="open_orders",
                venue=self.name,
                timestamp=self.clock.now(),
                data={"orders": orders},
            )
        )
        await translator.release_all()
