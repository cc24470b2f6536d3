"""The domain model: frozen pydantic v2 objects with Decimal money. Plugins import from here."""

from sparkstacker.model.account import AccountState, Balance
from sparkstacker.model.base import (
    ONE,
    ZERO,
    FrozenModel,
    UtcDatetime,
    from_millis,
    to_decimal,
    to_millis,
    utcnow,
)
from sparkstacker.model.enums import Direction, Liquidity, MarginMode, Side
from sparkstacker.model.events import (
    FillEvent,
    OrderEvent,
    OrderEventKind,
    OrderSubmission,
    SignalEvent,
)
from sparkstacker.model.fill import Fill
from sparkstacker.model.instrument import Instrument, InstrumentKind
from sparkstacker.model.market import BookLevel, Candle, FundingRate, OrderBook, Trade
from sparkstacker.model.order import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    Order,
    OrderStatus,
    OrderType,
    TimeInForce,
    can_transition,
)
from sparkstacker.model.position import Position, apply_signed_fill
from sparkstacker.model.signal import Signal
from sparkstacker.model.timeframe import Timeframe, timeframe_seconds

__all__ = [
    "ONE",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "ZERO",
    "AccountState",
    "Balance",
    "BookLevel",
    "Candle",
    "Direction",
    "Fill",
    "FillEvent",
    "FrozenModel",
    "FundingRate",
    "Instrument",
    "InstrumentKind",
    "Liquidity",
    "MarginMode",
    "Order",
    "OrderBook",
    "OrderEvent",
    "OrderEventKind",
    "OrderStatus",
    "OrderSubmission",
    "OrderType",
    "Position",
    "Side",
    "Signal",
    "SignalEvent",
    "TimeInForce",
    "Timeframe",
    "Trade",
    "UtcDatetime",
    "apply_signed_fill",
    "can_transition",
    "from_millis",
    "timeframe_seconds",
    "to_decimal",
    "to_millis",
    "utcnow",
]
