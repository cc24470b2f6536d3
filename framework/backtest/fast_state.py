"""What the fast path's loop keeps per account and per strategy, and its order stand-ins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sparkstacker.backtest.fast_lane import Lane
from sparkstacker.backtest.fast_templates import (
    market_order_template,
    taker_fee,
    taker_fill_template,
)
from sparkstacker.engine.positions import Leg
from sparkstacker.lang.plan import BarDecision
from sparkstacker.model import (
    Direction,
    OrderType,
    Side,
    TimeInForce,
)
from sparkstacker.registry import Registry
from sparkstacker.sizing import SizeDecision
from sparkstacker_plugins.exchanges.sim.ledger import Ledger, PositionState
from sparkstacker_plugins.exchanges.sim.messages import STYLES
from sparkstacker_plugins.exchanges.sim.state import WorkingOrder

CACHED_SIZERS = ("fixed_units", "fixed_usd")  # decision depends on price, confidence, equity > 0
EQUITY_SIZERS = ("fixed_usd", "percent_equity")  # read SizingRequest.equity (fixed_units: never)
FIXED_SLIPPAGE = ("FixedBps", "BookWalk")  # price depends on the reference price and side only


@dataclass(frozen=True, slots=True)
class OrderProbe:
    """What ``check_order`` and ``reserved_margin`` read of a market order (the real ``Order``
    is built once, after the venue's answer, by copying a validated template)."""

    side: Side
    size: Decimal
    reduce_only: bool
    type: OrderType = OrderType.MARKET
    tif: TimeInForce = TimeInForce.IOC
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    is_terminal: bool = False  # while it waits for its bar (``reserved_margin`` reads these)

    @property
    def remaining(self) -> Decimal:
        return self.size


@dataclass(slots=True)
class Pending:
    """A market order accepted by the venue, waiting for a bar (``fill_at next_open``)."""

    probe: OrderProbe
    working: WorkingOrder  # what the venue's reserved-margin sum reads
    client_order_id: str
    created_at: datetime
    reason: str
    seq: int


class Account:
    """One simulated venue account: its options, ledger and the lanes trading on it."""

    def __init__(self, name: str, sim: Any) -> None:
        self.name = name
        self.options = sim.options
        self.messages = STYLES[sim.options.venue_style]
        self.slippage = sim.slippage_model
        self.fixed_slippage = type(self.slippage).__name__ in FIXED_SLIPPAGE
        self.ledger = Ledger(sim.options.initial_equity)
        self.lanes: list[Lane] = []
        self.order_seq = 0
        self.fill_seq = 0
        share = sim.options.volume_share
        self.share = float(share) if share is not None else None
        self.constant_rate: Decimal | None = sim.options.funding_rate


class LaneState:
    """Per-lane constants and caches the loop reads on every event."""

    def __init__(
        self,
        lane: Lane,
        account: Account,
        position: PositionState,
        leg: Leg,
        registry: Registry,
        now: datetime,
    ) -> None:
        self.lane = lane
        self.account = account
        self.position = position
        self.leg = leg
        instrument = lane.instrument
        self.taker_fee = taker_fee(lane, account.options)
        self.lot_f = float(instrument.lot_size)
        sizing = lane.plan.sizing
        self.sizer = registry.sizers.get(sizing.sizer) if sizing is not None else None
        self.cacheable = sizing is not None and sizing.sizer in CACHED_SIZERS
        self.size_cache: dict[tuple[float, float, Direction, bool], SizeDecision] = {}
        self.price_cache: dict[tuple[float, int], Decimal] = {}
        self.decisions: dict[int, BarDecision] = {}
        self.order_template = market_order_template(lane, now)
        self.fill_template = taker_fill_template(lane, account.options, now)
