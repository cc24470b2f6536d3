"""Raw Hyperliquid answers → domain models (books, positions, fills, orders, candles, funding).

Every function validates the raw shape first (:mod:`.schemas`) and turns a domain-model
violation (a crossed book, a zero-size fill, a candle whose low is above its close) into an
:class:`ExchangeFormatError` naming the endpoint and the JSON path of the offending row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError
from sparkstacker.errors import ModelError
from sparkstacker.model import (
    ZERO,
    AccountState,
    Balance,
    BookLevel,
    Candle,
    Fill,
    FundingRate,
    Instrument,
    Liquidity,
    MarginMode,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    Trade,
    from_millis,
)
from sparkstacker_plugins.exchanges.hyperliquid.ids import external_client_id
from sparkstacker_plugins.exchanges.hyperliquid.schemas import (
    ActiveAssetData,
    AssetCtx,
    CandleRow,
    ClearinghouseState,
    Dec,
    FillRow,
    FrontendOrderRow,
    FundingRow,
    L2Book,
    LeverageInfo,
    Meta,
    OpenOrderRow,
    OrderRecord,
    OrderStatusAnswer,
    PositionData,
    SpotAssetCtx,
    SpotMeta,
    TradeRow,
    UniverseNames,
    format_error,
    validate,
)
from sparkstacker_plugins.exchanges.hyperliquid.symbols import SymbolMap, perp_symbol

T = TypeVar("T")
SIDES = {"B": Side.BUY, "A": Side.SELL}
IOC_REMAINDER = "IOC remainder cancelled"
IOC_TIFS = frozenset({"Ioc", "FrontendMarket"})

OPEN_WORDS = frozenset({"open"})
CANCELLED_WORDS = frozenset(
    {
        "canceled",
        "marginCanceled",
        "vaultWithdrawalCanceled",
        "openInterestCapCanceled",
        "selfTradeCanceled",
        "reduceOnlyCanceled",
        "siblingFilledCanceled",
        "delistedCanceled",
        "liquidatedCanceled",
        "scheduledCancel",
    }
)
REJECTED_WORDS = frozenset(
    {
        "rejected",
        "tickRejected",
        "minTradeNtlRejected",
        "perpMarginRejected",
        "reduceOnlyRejected",
        "badAloPxRejected",
        "iocCancelRejected",
        "badTriggerPxRejected",
        "marketOrderNoLiquidityRejected",
        "positionIncreaseAtOpenInterestCapRejected",
        "positionFlipAtOpenInterestCapRejected",
        "tooAggressiveAtOpenInterestCapRejected",
        "openInterestIncreaseRejected",
        "insufficientSpotBalanceRejected",
        "oracleRejected",
        "perpMaxPositionRejected",
    }
)
KNOWN_STATUS_WORDS = OPEN_WORDS | CANCELLED_WORDS | REJECTED_WORDS | {"filled", "triggered"}


def domain(endpoint: str, path: str, build: Callable[[], T]) -> T:
    """Build a domain object; a rule it breaks is the venue's format problem at ``path``."""
    try:
        return build()
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise format_error(endpoint, path, str(error.get("msg", exc))) from None
    except (ModelError, ValueError) as exc:
        raise format_error(endpoint, path, str(exc)) from None


# ---- meta ------------------------------------------------------------------------------------


def parse_meta(data: Any) -> Meta:
    return validate(Meta, data, "meta")


def parse_spot(data: Any) -> tuple[SpotMeta, dict[str, SpotAssetCtx]]:
    """``spotMetaAndAssetCtxs`` → (spot meta, contexts keyed by coin — never zipped by position)."""
    if not isinstance(data, list) or len(data) != 2:
        raise format_error("spotMetaAndAssetCtxs", "", "expected [spotMeta, assetCtxs]")
    spot = validate(SpotMeta, data[0], "spotMetaAndAssetCtxs", prefix="[0]")
    ctxs = validate(list[SpotAssetCtx], data[1], "spotMetaAndAssetCtxs", prefix="[1]")
    return spot, {ctx.coin: ctx for ctx in ctxs}


@dataclass(frozen=True)
class AssetContext:
    """Live numbers per market: mark, oracle, mid, current hourly funding, open interest."""

    symbol: str
    mark_price: Decimal
    oracle_price: Decimal
    mid_price: Decimal | None
    funding_rate: Decimal
    open_interest: Decimal
    premium: Decimal | None


def parse_asset_contexts(data: Any) -> dict[str, AssetContext]:
    """``metaAndAssetCtxs`` → contexts by symbol (``ctxs[i]`` belongs to ``universe[i]``)."""
    endpoint = "metaAndAssetCtxs"
    if not isinstance(data, list) or len(data) != 2:
        raise format_error(endpoint, "", "expected [meta, assetCtxs]")
    names = validate(UniverseNames, data[0], endpoint, prefix="[0]")
    ctxs = validate(list[AssetCtx], data[1], endpoint, prefix="[1]")
    if len(ctxs) != len(names.universe):
        raise format_error(
            endpoint, "[1]", f"{len(ctxs)} contexts for {len(names.universe)} assets"
        )
    contexts = {}
    for asset, ctx in zip(names.universe, ctxs, strict=True):
        symbol = perp_symbol(asset.name)
        contexts[symbol] = AssetContext(
            symbol=symbol,
            mark_price=ctx.markPx,
            oracle_price=ctx.oraclePx,
            mid_price=ctx.midPx,
            funding_rate=ctx.funding,
            open_interest=ctx.openInterest,
            premium=ctx.premium,
        )
    return contexts


# ---- market data -----------------------------------------------------------------------------


def parse_book(data: Any, symbols: SymbolMap, *, venue: str) -> OrderBook:
    """``l2Book`` → OrderBook. ``levels[0]`` are bids (best first), ``levels[1]`` asks."""
    raw = validate(L2Book, data, "l2Book")
    symbol = symbols.symbol_for_coin(raw.coin, "l2Book", "coin")

    def levels(side: int) -> tuple[BookLevel, ...]:
        return tuple(
            domain(
                "l2Book",
                f"levels[{side}][{i}]",
                functools.partial(BookLevel, price=level.px, size=level.sz, orders=level.n),
            )
            for i, level in enumerate(raw.levels[side])
        )

    bids, asks = levels(0), levels(1)
    return domain(
        "l2Book",
        "levels",
        lambda: OrderBook(
            venue=venue, symbol=symbol, timestamp=from_millis(raw.time), bids=bids, asks=asks
        ),
    )


def parse_candles(data: Any, symbol: str, *, endpoint: str = "candleSnapshot") -> list[Candle]:
    rows = validate(list[CandleRow], data, endpoint)
    return [
        domain(
            endpoint,
            f"[{i}]",
            functools.partial(
                Candle,
                timestamp=from_millis(row.t),
                open=row.o,
                high=row.h,
                low=row.l,
                close=row.c,
                volume=row.v,
                trades=row.n,
            ),
        )
        for i, row in enumerate(rows)
    ]


def parse_candle_row(data: Any, *, endpoint: str = "candle") -> tuple[str, str, Candle]:
    """One websocket candle → (coin, interval, candle)."""
    row = validate(CandleRow, data, endpoint)
    candle = parse_candles([data], row.s, endpoint=endpoint)[0]
    return row.s, row.i, candle


def parse_funding(data: Any, symbol: str, *, venue: str = "hyperliquid") -> list[FundingRate]:
    rows = validate(list[FundingRow], data, "fundingHistory")
    return [
        domain(
            "fundingHistory",
            f"[{i}]",
            functools.partial(
                FundingRate,
                venue=venue,
                symbol=symbol,
                timestamp=from_millis(row.time),
                rate=row.fundingRate,
                premium=row.premium,
            ),
        )
        for i, row in enumerate(rows)
    ]


def parse_all_mids(data: Any) -> dict[str, Decimal]:
    mids: dict[str, Decimal] = validate(dict[str, Dec], data, "allMids")
    return mids


def parse_trades(data: Any, symbols: SymbolMap, *, venue: str) -> list[Trade]:
    rows = validate(list[TradeRow], data, "trades")
    return [
        domain(
            "trades",
            f"[{i}]",
            functools.partial(
                Trade,
                venue=venue,
                symbol=symbols.symbol_for_coin(row.coin, "trades", f"[{i}].coin"),
                timestamp=from_millis(row.time),
                price=row.px,
                size=row.sz,
                side=SIDES[row.side],
                trade_id=None if row.tid is None else str(row.tid),
            ),
        )
        for i, row in enumerate(rows)
    ]


# ---- account ---------------------------------------------------------------------------------


def leverage_of(info: LeverageInfo) -> tuple[Decimal, MarginMode]:
    return Decimal(info.value), MarginMode(info.type)


def parse_positions(
    state: ClearinghouseState, symbols: SymbolMap, *, venue: str, account: str
) -> list[Position]:
    positions = []
    for i, item in enumerate(state.assetPositions):
        path = f"assetPositions[{i}].position"
        symbol = symbols.symbol_for_coin(item.position.coin, "clearinghouseState", f"{path}.coin")
        positions.append(
            domain(
                "clearinghouseState",
                path,
                functools.partial(
                    _position, item.position, symbol=symbol, venue=venue, account=account
                ),
            )
        )
    return positions


def _position(raw: PositionData, *, symbol: str, venue: str, account: str) -> Position:
    leverage, mode = leverage_of(raw.leverage)
    return Position(
        venue=venue,
        symbol=symbol,
        size=raw.szi,
        entry_price=raw.entryPx,
        leverage=leverage,
        margin_mode=mode,
        liquidation_price=raw.liquidationPx,
        unrealized_pnl=raw.unrealizedPnl,
        margin_used=raw.marginUsed,
        mark_price=abs(raw.positionValue) / abs(raw.szi) if raw.szi else None,
        funding_paid=raw.cumFunding.sinceOpen if raw.cumFunding is not None else ZERO,
        account=account,
    )


def parse_account(
    data: Any,
    symbols: SymbolMap,
    *,
    venue: str,
    account: str,
    now: datetime,
    instruments: Mapping[str, Instrument] | None = None,
) -> AccountState:
    """``clearinghouseState`` → AccountState (whole account: ``marginSummary``)."""
    state = validate(ClearinghouseState, data, "clearinghouseState")
    positions = parse_positions(state, symbols, venue=venue, account=account)
    summary = state.marginSummary
    unrealized = sum((p.unrealized_pnl for p in positions), ZERO)
    if state.crossMaintenanceMarginUsed is not None:
        maintenance = state.crossMaintenanceMarginUsed
    else:
        # Older answers lack it: maintenance = half the initial margin at max leverage.
        maintenance = sum(
            (
                abs(p.notional) * instruments[p.symbol].maintenance_margin
                for p in positions
                if instruments is not None and p.symbol in instruments
            ),
            ZERO,
        )
    timestamp = from_millis(state.time) if state.time is not None else now
    return domain(
        "clearinghouseState",
        "marginSummary",
        lambda: AccountState(
            venue=venue,
            account=account,
            equity=summary.accountValue,
            collateral=summary.accountValue - unrealized,
            margin_used=summary.totalMarginUsed,
            maintenance_margin=maintenance,
            positions=tuple(positions),
            balances=(
                Balance(asset="USDC", total=summary.accountValue, available=state.withdrawable),
            ),
            timestamp=timestamp,
        ),
    )


def parse_active_leverage(data: Any) -> tuple[Decimal, MarginMode]:
    raw = validate(ActiveAssetData, data, "activeAssetData")
    return leverage_of(raw.leverage)


# ---- fills -----------------------------------------------------------------------------------


def fill_key(row: FillRow) -> str:
    """Unique fill id: ``tid`` when present; old rows: oid, time and the position it started at."""
    if row.tid is not None:
        return str(row.tid)
    return f"{row.oid}:{row.time}:{row.startPosition}:{row.px}:{row.sz}"


def parse_fill_rows(data: Any, endpoint: str = "userFills") -> list[FillRow]:
    return validate(list[FillRow], data, endpoint)


def fill_from_row(
    row: FillRow,
    symbols: SymbolMap,
    *,
    venue: str,
    account: str | None,
    client_ids: Mapping[str, str],
    endpoint: str,
    path: str,
) -> Fill:
    symbol = symbols.symbol_for_coin(row.coin, endpoint, f"{path}.coin")
    client_id = client_ids.get(row.cloid) if row.cloid else None
    if client_id is None and row.cloid:
        client_id = row.cloid
    return domain(
        endpoint,
        path,
        lambda: Fill(
            fill_id=fill_key(row),
            client_order_id=client_id,
            venue_order_id=str(row.oid),
            venue=venue,
            symbol=symbol,
            side=SIDES[row.side],
            price=row.px,
            size=row.sz,
            fee=row.fee + (row.builderFee or ZERO),
            fee_currency=row.feeToken or "USDC",
            liquidity=Liquidity.TAKER if row.crossed else Liquidity.MAKER,
            timestamp=from_millis(row.time),
            is_liquidation=row.liquidation is not None,
            closed_pnl=row.closedPnl,
            account=account,
        ),
    )


def parse_fills(
    data: Any,
    symbols: SymbolMap,
    *,
    venue: str,
    account: str | None = None,
    client_ids: Mapping[str, str] | None = None,
    endpoint: str = "userFills",
) -> list[Fill]:
    rows = parse_fill_rows(data, endpoint)
    return [
        fill_from_row(
            row,
            symbols,
            venue=venue,
            account=account,
            client_ids=client_ids or {},
            endpoint=endpoint,
            path=f"[{i}]",
        )
        for i, row in enumerate(rows)
    ]


@dataclass(frozen=True)
class FillTotals:
    """Everything one order filled: one order → many fills on Hyperliquid."""

    venue_order_id: str
    count: int
    size: Decimal
    avg_price: Decimal
    fees: Decimal
    taker_size: Decimal
    first: datetime
    last: datetime


def aggregate_fills(fills: list[Fill]) -> dict[str, FillTotals]:
    """Fills grouped by venue order id: total size, VWAP, fees, taker share."""
    groups: dict[str, list[Fill]] = {}
    for fill in fills:
        groups.setdefault(fill.venue_order_id or fill.fill_id, []).append(fill)
    totals = {}
    for oid, group in groups.items():
        size = sum((f.size for f in group), ZERO)
        totals[oid] = FillTotals(
            venue_order_id=oid,
            count=len(group),
            size=size,
            avg_price=sum((f.price * f.size for f in group), ZERO) / size,
            fees=sum((f.fee for f in group), ZERO),
            taker_size=sum((f.size for f in group if f.liquidity is Liquidity.TAKER), ZERO),
            first=min(f.timestamp for f in group),
            last=max(f.timestamp for f in group),
        )
    return totals


# ---- orders ----------------------------------------------------------------------------------


def status_from_word(
    word: str, *, filled: Decimal, size: Decimal, tif: str | None, endpoint: str, path: str
) -> tuple[OrderStatus, str]:
    """Venue order status word → (OrderStatus, reason). The venue's word stays in the reason."""
    ioc = tif in IOC_TIFS
    if word in OPEN_WORDS or word == "triggered":
        if filled > 0:
            return OrderStatus.PARTIALLY_FILLED, word
        return (OrderStatus.TRIGGERED if word == "triggered" else OrderStatus.ACCEPTED), word
    if word == "filled":
        if filled >= size:
            return OrderStatus.FILLED, word
        if ioc:
            return OrderStatus.CANCELLED, f"{IOC_REMAINDER} ({word})"
        return OrderStatus.PARTIALLY_FILLED, word
    if word in CANCELLED_WORDS or (
        word not in KNOWN_STATUS_WORDS and word.endswith(("Canceled", "Cancel"))
    ):
        if ioc and filled > 0:
            return OrderStatus.CANCELLED, f"{IOC_REMAINDER} ({word})"
        return OrderStatus.CANCELLED, word
    if word in REJECTED_WORDS or word.endswith("Rejected"):
        return OrderStatus.REJECTED, word
    raise format_error(endpoint, path, f"unknown order status {word!r}")


def order_type_of(row: FrontendOrderRow) -> OrderType:
    kind = row.orderType.lower()
    if "stop" in kind:
        return OrderType.STOP
    if "take profit" in kind:
        return OrderType.TAKE_PROFIT
    if "market" in kind:
        return OrderType.MARKET
    return OrderType.LIMIT


def tif_of(tif: str | None) -> TimeInForce:
    return {"Ioc": TimeInForce.IOC, "FrontendMarket": TimeInForce.IOC, "Alo": TimeInForce.ALO}.get(
        tif or "", TimeInForce.GTC
    )


def order_from_row(
    row: OpenOrderRow,
    symbols: SymbolMap,
    *,
    venue: str,
    client_ids: Mapping[str, str],
    endpoint: str,
    path: str,
    status: OrderStatus | None = None,
    reason: str | None = None,
    group_id: str | None = None,
) -> Order:
    symbol = symbols.symbol_for_coin(row.coin, endpoint, f"{path}.coin")
    size = row.origSz if row.origSz is not None else row.sz
    filled = size - row.sz
    frontend = row if isinstance(row, FrontendOrderRow) else None
    order_type = order_type_of(frontend) if frontend is not None else OrderType.LIMIT
    trigger = frontend.triggerPx if frontend is not None and frontend.isTrigger else None
    market_trigger = order_type.is_trigger and "market" in (
        frontend.orderType.lower() if frontend else ""
    )
    if status is None:
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
    annotations = {"limit_px": str(row.limitPx)} if market_trigger else {}
    if frontend is not None and frontend.triggerCondition not in (None, "N/A"):
        annotations["trigger_condition"] = str(frontend.triggerCondition)
    return domain(
        endpoint,
        path,
        lambda: Order(
            client_order_id=client_ids.get(row.cloid or "")
            or external_client_id(row.oid, row.cloid),
            venue=venue,
            symbol=symbol,
            side=SIDES[row.side],
            type=order_type,
            size=size,
            price=None if market_trigger or order_type is OrderType.MARKET else row.limitPx,
            trigger_price=trigger,
            tif=tif_of(frontend.tif if frontend else None),
            reduce_only=bool(row.reduceOnly),
            status=status,
            venue_order_id=str(row.oid),
            filled_size=filled,
            reason=reason,
            created_at=from_millis(row.timestamp),
            group_id=group_id,
            annotations=annotations,
        ),
    )


def parse_open_orders(
    data: Any,
    symbols: SymbolMap,
    *,
    venue: str,
    client_ids: Mapping[str, str] | None = None,
    endpoint: str = "frontendOpenOrders",
) -> list[Order]:
    """``frontendOpenOrders`` (or ``openOrders``) → open Orders, TP/SL children flattened.

    Children of a parent appear both nested and at the top level in real answers: deduped by oid.
    """
    frontend = endpoint == "frontendOpenOrders"
    rows: list[Any] = validate(
        list[FrontendOrderRow] if frontend else list[OpenOrderRow], data, endpoint
    )
    ids = client_ids or {}
    seen: dict[int, Order] = {}

    def visit(row: OpenOrderRow, path: str, parent: str | None) -> None:
        order = order_from_row(
            row, symbols, venue=venue, client_ids=ids, endpoint=endpoint, path=path, group_id=parent
        )
        if row.oid not in seen or (parent is not None and seen[row.oid].group_id is None):
            seen[row.oid] = order
        if isinstance(row, FrontendOrderRow):
            for j, child in enumerate(row.children):
                visit(child, f"{path}.children[{j}]", str(row.oid))

    for i, row in enumerate(rows):
        visit(row, f"[{i}]", None)
    return list(seen.values())


def parse_order_status(data: Any) -> OrderRecord | None:
    """``orderStatus`` → the record, or None for ``{"status": "unknownOid"}``."""
    answer = validate(OrderStatusAnswer, data, "orderStatus")
    if answer.status == "unknownOid":
        return None
    if answer.order is None:
        raise format_error("orderStatus", "order", "status is 'order' but the order is missing")
    return answer.order


def parse_historical_orders(data: Any) -> list[OrderRecord]:
    return validate(list[OrderRecord], data, "historicalOrders")


def record_outcome(
    record: OrderRecord, *, endpoint: str, path: str = "order"
) -> tuple[OrderStatus, Decimal, str]:
    """(status, filled size, reason) of one order record."""
    row = record.order
    size = row.origSz if row.origSz is not None else row.sz
    filled = size - row.sz
    if filled < 0:
        raise format_error(endpoint, f"{path}.sz", f"remaining {row.sz} exceeds original {size}")
    status, reason = status_from_word(
        record.status, filled=filled, size=size, tif=row.tif, endpoint=endpoint, path="status"
    )
    return status, filled, reason
