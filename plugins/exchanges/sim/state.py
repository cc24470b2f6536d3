"""Mutable per-market and per-order state of the simulated venue (floats where the loop is hot).

A :class:`MarketState` keeps the last bar as plain floats plus two trigger levels: ``down`` (the
highest price at which a falling market hits something: a buy limit, a sell stop, a buy
take-profit, a long's liquidation price) and ``up`` (the mirror image). A bar whose low stays
above ``down`` and whose high stays below ``up`` cannot fill anything, so ``on_bar`` returns at
once. ``busy`` is False when the market has no orders and no position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sparkstacker.exchange import VenueEvent
from sparkstacker.model import (
    Instrument,
    MarginMode,
    Order,
    OrderBook,
    OrderType,
    Side,
    TimeInForce,
)
from sparkstacker.model.members import BUY, MARKET, SELL, STOP
from sparkstacker_plugins.exchanges.sim.ledger import PositionState

FAR = 2**62
INF = float("inf")
NAN = float("nan")


@dataclass(slots=True, eq=False)
class WorkingOrder:
    """An order the venue knows, with the float levels the matching loop compares against.

    The order's terms (side, size, prices, time in force, reduce-only, ids) never change after
    submission, so they are read once into slots (a model's field costs ~4x a slot's). Its
    status and filled size change with each report: those are read from ``order``.
    """

    order: Order
    seq: int
    venue_order_id: str
    sign: int  # +1 buy, -1 sell
    price_f: float  # limit price (nan when none)
    trigger_f: float  # trigger price (nan when none)
    delay_ms: int
    active_at: int | None = None  # None: resolved at the next bar (bar length not known yet)
    triggered: bool = False
    resting: bool = False
    bar_seq: int = -1  # bar (or book) in which it last filled, for the per-bar volume cap
    bar_filled: float = 0.0
    # the order's terms, read once (``of`` also sets the ids; a bare order probe has none)
    side: Side = field(init=False)
    type: OrderType = field(init=False)
    size: Decimal = field(init=False)
    price: Decimal | None = field(init=False)  # the limit price
    trigger_price: Decimal | None = field(init=False)
    tif: TimeInForce = field(init=False)
    reduce_only: bool = field(init=False)
    symbol: str = field(init=False, default="")
    client_order_id: str = field(init=False, default="")
    # fixed by the order's terms
    trigger_type: bool = field(init=False)  # a STOP or TAKE_PROFIT order
    trigger_falls: bool = field(init=False)  # a falling price fires it (sell stop, buy TP)
    takes_only: bool = field(init=False)  # never rests: a market order or a market trigger

    @classmethod
    def of(cls, order: Order, seq: int, delay_ms: int) -> WorkingOrder:
        """The venue's record of a newly submitted ``order`` (its ``seq`` is its venue id)."""
        price, trigger = order.price, order.trigger_price
        wo = cls(  # positional: cheaper than keywords on this per-order path
            order,
            seq,
            str(seq),
            1 if order.side is BUY else -1,
            float(price) if price is not None else NAN,
            float(trigger) if trigger is not None else NAN,
            delay_ms,
        )
        wo.symbol = order.symbol
        wo.client_order_id = order.client_order_id
        return wo

    def __post_init__(self) -> None:
        order = self.order
        self.side = BUY if self.sign > 0 else SELL
        self.type = kind = order.type
        self.size = order.size
        self.price = price = order.price
        self.trigger_price = order.trigger_price
        self.tif = order.tif
        self.reduce_only = order.reduce_only
        self.trigger_type = kind.is_trigger
        self.trigger_falls = (self.sign < 0) if kind is STOP else (self.sign > 0)
        self.takes_only = kind is MARKET or price is None

    @property
    def remaining(self) -> Decimal:
        """The size still to fill (``order.remaining``)."""
        return self.size - self.order.filled_size

    @property
    def is_trigger(self) -> bool:
        return self.trigger_type and not self.triggered

    @property
    def is_market(self) -> bool:
        """Takes at any price: a market order or a triggered trigger order without a limit."""
        return self.price is None

    @property
    def level(self) -> float:
        return self.trigger_f if self.is_trigger else self.price_f

    @property
    def falls(self) -> bool:
        """True when a falling price hits this order (buy limit, sell stop, buy take-profit)."""
        if self.is_trigger:
            return self.trigger_falls
        return self.sign > 0


@dataclass(slots=True, eq=False)
class MarketState:
    instrument: Instrument
    position: PositionState
    maker_fee: Decimal
    taker_fee: Decimal
    funding_interval_ms: int
    lot_f: float
    leverage: Decimal = Decimal(20)  # the account's setting for the market (``core.settings``)
    margin_mode: MarginMode = MarginMode.CROSS  # likewise; both set by SimExchange._use_setting
    tf: int = FAR  # bar length in ms; FAR until two bars were seen (or given to add_market)
    ts: int = -FAR  # open time of the last bar
    open: float = NAN
    high: float = NAN
    low: float = NAN
    close: float = NAN
    volume: float = 0.0
    last: float = NAN  # last price: the last close, path price, or book mid
    book: OrderBook | None = None
    book_ts: int = -FAR
    book_used: dict[Decimal, Decimal] = field(default_factory=dict)
    busy: bool = False
    down: float = -INF
    up: float = INF
    next_funding: int = FAR
    funding_scanned: int = -FAR  # funding boundaries <= this were looked at
    funding_paid: int = -FAR  # funding boundaries <= this were paid
    pending: list[WorkingOrder] = field(default_factory=list)
    resting: list[WorkingOrder] = field(default_factory=list)
    deferred: list[VenueEvent] = field(
        default_factory=list
    )  # events to hand out with the next data
    bar_seq: int = 0
    at_open: bool = False  # between on_bar_open and on_bar_close: the venue's time is the open
    open_rate: float | None = None  # funding rate of the bar being opened
    quiet_open: bool = False  # on_bar_open found nothing to do in the whole bar
    last_src: float = NAN  # ``last`` when ``last_d`` was made
    last_d: Decimal = Decimal("NaN")  # ``last`` as the Decimal it prints as (see last_dec)
    rounded: dict[tuple[Decimal, str], Decimal] = field(default_factory=dict)  # round_price memo
    symbol: str = field(init=False)  # the instrument's (read once)
    lot_size: Decimal = field(init=False)  # the instrument's

    def __post_init__(self) -> None:
        instrument = self.instrument
        self.symbol = instrument.symbol
        self.lot_size = instrument.lot_size

    @property
    def has_price(self) -> bool:
        return self.last == self.last  # not NaN

    @property
    def clock_ms(self) -> int:
        """The venue's time for this market: the last bar's close or the last book's time
        (0, the epoch, before any data arrived)."""
        if self.at_open:
            return max(self.ts, 0)
        bar_time = self.ts + self.tf if self.tf < FAR else self.ts
        return max(bar_time, self.book_ts, 0)

    @property
    def in_book_mode(self) -> bool:
        return self.book is not None

    def last_dec(self) -> Decimal:
        """``dec(self.last)``, converted once per price (the margin checks ask repeatedly)."""
        last = self.last
        if last != self.last_src:
            self.last_d = Decimal(repr(last))
            self.last_src = last
        return self.last_d

    def round_price(self, price: Decimal, mode: str) -> Decimal:
        """``instrument.round_price`` memoised per (price, mode): fills at bar prices repeat."""
        key = (price, mode)
        rounded = self.rounded.get(key)
        if rounded is None:
            if len(self.rounded) >= 4096:
                self.rounded.clear()
            rounded = self.rounded[key] = self.instrument.round_price(price, mode)  # type: ignore[arg-type]
        return rounded

    def refresh(self) -> None:
        """Recompute the hot-loop summary after orders or the position changed."""
        down, up = -INF, INF
        for wo in self.resting:
            level = wo.level
            if wo.falls:
                if level > down:
                    down = level
            elif level < up:
                up = level
        position = self.position
        size = position.size
        if size > 0 and position.liq_f > down:
            down = position.liq_f
        elif size < 0 and position.liq_f < up:
            up = position.liq_f
        self.down, self.up = down, up
        self.busy = bool(self.pending or self.resting or size or self.deferred)
        if size:
            self.next_funding = self.funding_scanned + self.funding_interval_ms
        else:
            self.next_funding = FAR
