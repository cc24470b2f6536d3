"""What every part of the simulated venue shares: options, ledger, markets, orders, fills, ids."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sparkstacker.exchange import LeverageSetting, OrderReport, VenueEvent
from sparkstacker.model import TERMINAL_STATUSES, Fill, from_millis
from sparkstacker.model.fast import Builder
from sparkstacker.slippage import SlippageModel
from sparkstacker_plugins.exchanges.sim.latency import LatencyModel
from sparkstacker_plugins.exchanges.sim.ledger import Ledger
from sparkstacker_plugins.exchanges.sim.messages import VenueMessages
from sparkstacker_plugins.exchanges.sim.options import SimOptions
from sparkstacker_plugins.exchanges.sim.state import MarketState, WorkingOrder


def dec(value: float) -> Decimal:
    """A float price as the Decimal it prints as (``1951.6`` → ``Decimal('1951.6')``)."""
    return Decimal(repr(value))


def dec12(value: float) -> Decimal:
    """A computed float (after slippage) to 12 significant digits, dropping binary noise."""
    return Decimal(f"{value:.12g}")


# The venue builds its reports from its own validated state: no need to validate them again.
build_report = Builder(
    OrderReport,
    given=(
        "client_order_id",
        "venue_order_id",
        "status",
        "filled_size",
        "avg_fill_price",
        "reason",
        "fills",
        "timestamp",
    ),
)
build_event = Builder(VenueEvent, given=("kind", "venue", "timestamp", "report", "symbol"))


@dataclass(eq=False)
class SimCore:
    name: str
    options: SimOptions
    messages: VenueMessages
    slippage: SlippageModel
    latency: LatencyModel
    ledger: Ledger
    volume_share: float | None
    markets: dict[str, MarketState] = field(default_factory=dict)
    orders: dict[str, WorkingOrder] = field(default_factory=dict)
    fills: deque[Fill] = field(default_factory=deque)
    settings: dict[str, LeverageSetting] = field(default_factory=dict)
    cross_positions: int = 0  # open cross positions (kept by Executor.refresh_risk)
    _order_seq: int = 0
    _fill_seq: int = 0
    # options read per order, fill or bar, as plain attributes (a model's field costs ~4x;
    # the options are frozen)
    quote: str = field(init=False)
    account: str = field(init=False)
    order_history: int = field(init=False)
    fill_at_close: bool = field(init=False)
    touch_fills: bool = field(init=False)
    funding_rate: Decimal | None = field(init=False)

    def __post_init__(self) -> None:
        options = self.options
        self.fills = deque(maxlen=options.fill_history)
        self.quote = options.quote
        self.account = options.account
        self.order_history = options.order_history
        self.fill_at_close = options.fill_at == "close"
        self.touch_fills = options.touch_fills
        self.funding_rate = options.funding_rate

    def forget_old_orders(self) -> None:
        """Keep every open order and only the most recent finished ones, like the real venue
        (bounded memory in long backtests)."""
        limit = self.order_history
        if len(self.orders) <= 2 * limit:
            return
        finished = [cid for cid, wo in self.orders.items() if wo.order.status in TERMINAL_STATUSES]
        for cid in finished[: len(finished) - limit]:
            del self.orders[cid]

    def next_order_seq(self) -> int:
        self._order_seq += 1
        return self._order_seq

    def next_fill_id(self) -> str:
        self._fill_seq += 1
        return f"{self.name}-f{self._fill_seq}"

    def mark_of(self, symbol: str) -> Decimal:
        return self.markets[symbol].last_dec()

    def report(
        self, wo: WorkingOrder, ts_ms: int, fills: tuple[Fill, ...] | list[Fill] = ()
    ) -> OrderReport:
        return self._report(wo, from_millis(ts_ms), fills)

    def _report(
        self, wo: WorkingOrder, at: datetime, fills: tuple[Fill, ...] | list[Fill]
    ) -> OrderReport:
        order = wo.order
        report: OrderReport = build_report(
            {
                "client_order_id": wo.client_order_id,
                "venue_order_id": wo.venue_order_id,
                "status": order.status,
                "filled_size": order.filled_size,
                "avg_fill_price": order.avg_fill_price,
                "reason": order.reason,
                "fills": tuple(fills),
                "timestamp": at,
            }
        )
        return report

    def order_event(
        self, wo: WorkingOrder, ts_ms: int, fills: tuple[Fill, ...] | list[Fill] = ()
    ) -> VenueEvent:
        at = from_millis(ts_ms)
        event: VenueEvent = build_event(
            {
                "kind": "order",
                "venue": self.name,
                "timestamp": at,
                "report": self._report(wo, at, fills),
                "symbol": wo.symbol,
            }
        )
        return event

    def event(self, kind: str, symbol: str, ts_ms: int, data: dict[str, Any]) -> VenueEvent:
        return VenueEvent(
            kind=kind, venue=self.name, timestamp=from_millis(ts_ms), symbol=symbol, data=data
        )
