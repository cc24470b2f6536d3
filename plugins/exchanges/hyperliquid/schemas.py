# ruff: noqa: N815 - field names mirror the venue's JSON keys exactly (camelCase)
"""Raw Hyperliquid response shapes (pydantic v2), validated before anything is trusted.

Numbers arrive as JSON strings (``"px": "2.111"``) and become ``Decimal``; JSON numbers are
accepted too. Unknown extra fields are tolerated (the venue adds fields over time). A missing
required field or a wrong shape raises :class:`ExchangeFormatError` naming the endpoint and the
JSON path of the bad field, e.g. ``clearinghouseState at assetPositions[3].position.szi``.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from sparkstacker.errors import ExchangeFormatError

VENUE = "hyperliquid"
T = TypeVar("T")
MAX_MAGNITUDE = 30  # venue numbers live well inside 1e-30 .. 1e30
MAX_MILLIS = 253_402_300_799_000  # 9999-12-31


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"expected a number, got the text {value[:30]!r}") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("expected a finite number")
    if result and not -MAX_MAGNITUDE <= result.adjusted() <= MAX_MAGNITUDE:
        raise ValueError(f"number {value!s:.30} is out of the plausible range")
    return result


def _optional_decimal(value: Any) -> Decimal | None:
    """``null`` and ``"NaN"`` (seen for ``liquidationPx``) both mean "no value"."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in {"nan", ""}:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return _decimal(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected an integer, got {type(value).__name__}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError(f"expected an integer, got {type(value).__name__}")


def _millis(value: Any) -> int:
    result = _integer(value)
    if not 0 <= result <= MAX_MILLIS:
        raise ValueError(f"timestamp {result} ms is outside 1970..9999")
    return result


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {type(value).__name__}")
    return value


Dec = Annotated[Decimal, BeforeValidator(_decimal)]
OptDec = Annotated[Decimal | None, BeforeValidator(_optional_decimal)]
Int = Annotated[int, BeforeValidator(_integer)]
Millis = Annotated[int, BeforeValidator(_millis)]
Str = Annotated[str, BeforeValidator(_text)]
Bool = Annotated[bool, BeforeValidator(_flag)]
SideCode = Literal["A", "B"]


class Raw(BaseModel):
    """Base of every raw model: extra fields tolerated, nothing coerced silently."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# ---- meta ------------------------------------------------------------------------------------


class AssetInfo(Raw):
    name: Str
    szDecimals: Int = Field(ge=0, le=10)
    maxLeverage: Int = Field(gt=0)
    onlyIsolated: Bool | None = None
    isDelisted: Bool | None = None
    marginMode: Str | None = None
    marginTableId: Int | None = None


class MarginTier(Raw):
    lowerBound: Dec
    maxLeverage: Int = Field(gt=0)


class MarginTable(Raw):
    description: Str | None = None
    marginTiers: list[MarginTier]


class Meta(Raw):
    universe: list[AssetInfo]
    marginTables: list[tuple[Int, MarginTable]] | None = None
    collateralToken: Int | None = None


class AssetName(Raw):
    name: Str


class UniverseNames(Raw):
    """Just the names of ``meta.universe`` (``metaAndAssetCtxs`` aligns contexts with them)."""

    universe: list[AssetName]


class AssetCtx(Raw):
    funding: Dec
    openInterest: Dec
    oraclePx: Dec
    markPx: Dec
    prevDayPx: OptDec = None
    dayNtlVlm: OptDec = None
    midPx: OptDec = None
    premium: OptDec = None
    impactPxs: list[Dec] | None = None


class SpotToken(Raw):
    name: Str
    szDecimals: Int = Field(ge=0, le=10)
    index: Int
    isCanonical: Bool | None = None


class SpotPair(Raw):
    name: Str
    tokens: tuple[Int, Int]
    index: Int
    isCanonical: Bool | None = None


class SpotMeta(Raw):
    universe: list[SpotPair]
    tokens: list[SpotToken]


class SpotAssetCtx(Raw):
    coin: Str
    markPx: Dec
    midPx: OptDec = None
    prevDayPx: OptDec = None
    dayNtlVlm: OptDec = None


# ---- market data -----------------------------------------------------------------------------


class L2Level(Raw):
    px: Dec
    sz: Dec
    n: Int = Field(ge=0)


class L2Book(Raw):
    coin: Str
    levels: tuple[list[L2Level], list[L2Level]]
    time: Millis


class CandleRow(Raw):
    t: Millis
    T: Millis
    s: Str
    i: Str
    o: Dec
    c: Dec
    h: Dec
    l: Dec  # noqa: E741 - the venue's field name
    v: Dec
    n: Int | None = None


class FundingRow(Raw):
    coin: Str
    fundingRate: Dec
    premium: OptDec = None
    time: Millis


class TradeRow(Raw):
    coin: Str
    side: SideCode
    px: Dec
    sz: Dec
    time: Millis
    tid: Int | None = None
    hash: Str | None = None


# ---- account ---------------------------------------------------------------------------------


class LeverageInfo(Raw):
    type: Literal["cross", "isolated"]
    value: Int = Field(gt=0)
    rawUsd: OptDec = None


class CumFunding(Raw):
    allTime: Dec
    sinceOpen: Dec
    sinceChange: OptDec = None


class PositionData(Raw):
    coin: Str
    szi: Dec
    entryPx: OptDec = None
    leverage: LeverageInfo
    liquidationPx: OptDec = None
    marginUsed: Dec
    positionValue: Dec
    unrealizedPnl: Dec
    returnOnEquity: OptDec = None
    maxLeverage: Int | None = None
    cumFunding: CumFunding | None = None


class AssetPosition(Raw):
    type: Str
    position: PositionData


class MarginSummary(Raw):
    accountValue: Dec
    totalMarginUsed: Dec
    totalNtlPos: Dec
    totalRawUsd: Dec


class ClearinghouseState(Raw):
    assetPositions: list[AssetPosition]
    marginSummary: MarginSummary
    crossMarginSummary: MarginSummary
    withdrawable: Dec
    crossMaintenanceMarginUsed: OptDec = None
    time: Millis | None = None


class ActiveAssetData(Raw):
    coin: Str
    leverage: LeverageInfo
    user: Str | None = None
    markPx: OptDec = None


# ---- orders and fills ------------------------------------------------------------------------


class OpenOrderRow(Raw):
    coin: Str
    side: SideCode
    limitPx: Dec
    sz: Dec
    oid: Int
    timestamp: Millis
    origSz: OptDec = None
    reduceOnly: Bool | None = None
    cloid: Str | None = None


class FrontendOrderRow(OpenOrderRow):
    orderType: Str
    isTrigger: Bool = False
    triggerPx: OptDec = None
    triggerCondition: Str | None = None
    tif: Str | None = None
    isPositionTpsl: Bool | None = None
    children: list[FrontendOrderRow] = Field(default_factory=list)


class OrderRecord(Raw):
    """``{"order": {...}, "status": "...", "statusTimestamp": ms}`` (orderStatus, history, ws)."""

    order: FrontendOrderRow
    status: Str
    statusTimestamp: Millis


class WsOrderRow(OpenOrderRow):
    """An ``orderUpdates`` order: like an open order, ``origSz`` always present."""

    origSz: Dec


class WsOrderUpdate(Raw):
    order: WsOrderRow
    status: Str
    statusTimestamp: Millis


class OrderStatusAnswer(Raw):
    status: Literal["order", "unknownOid"]
    order: OrderRecord | None = None


class FillLiquidation(Raw):
    liquidatedUser: Str | None = None
    markPx: OptDec = None
    method: Str | None = None


class FillRow(Raw):
    coin: Str
    px: Dec
    sz: Dec
    side: SideCode
    time: Millis
    oid: Int
    crossed: Bool
    fee: Dec
    hash: Str
    tid: Int | None = None
    feeToken: Str | None = None
    startPosition: OptDec = None
    dir: Str | None = None
    closedPnl: OptDec = None
    liquidation: FillLiquidation | None = None
    cloid: Str | None = None
    builderFee: OptDec = None


class WsFunding(Raw):
    """A ``userEvents`` funding payment (``usdc`` negative: the user paid)."""

    coin: Str
    usdc: Dec
    szi: Dec
    fundingRate: Dec
    time: Millis | None = None


class WsUserFills(Raw):
    user: Str | None = None
    fills: list[FillRow]
    isSnapshot: Bool | None = None


# ---- /exchange -------------------------------------------------------------------------------


class RestingStatus(Raw):
    oid: Int
    cloid: Str | None = None


class FilledStatus(Raw):
    totalSz: Dec
    avgPx: Dec
    oid: Int
    cloid: Str | None = None


# ---- validation ------------------------------------------------------------------------------


def json_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic error location → JSON path: ``('assetPositions', 3, 'position', 'szi')`` →
    ``assetPositions[3].position.szi``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "json-or-python", "lax-or-strict")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "missing":
        return "required field is missing"
    value = error.get("input")
    if isinstance(value, dict | list):
        return f"{message} (got a {'JSON object' if isinstance(value, dict) else 'JSON array'})"
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{message} (got {shown})"


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(kind: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def validate(kind: type[T], data: Any, endpoint: str, *, prefix: str = "") -> T:
    """Validate ``data`` as ``kind`` or raise :class:`ExchangeFormatError` at the first bad path."""
    try:
        result: T = _adapter(kind).validate_python(data)
        return result
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        path = json_path(tuple(error["loc"]))
        if prefix:
            path = prefix + (path if path.startswith("[") or not path else "." + path)
        raise ExchangeFormatError(endpoint, path, _problem(dict(error)), venue=VENUE) from None


def format_error(endpoint: str, path: str, problem: str) -> ExchangeFormatError:
    return ExchangeFormatError(endpoint, path, problem, venue=VENUE)


FrontendOrderRow.model_rebuild()
OrderRecord.model_rebuild()
