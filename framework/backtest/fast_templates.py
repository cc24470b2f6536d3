"""What every fast-path record of one lane is copied from: its market order and its taker fill.

The per-trade loop (``fast_state``) and the kernel's record builder (``fast_records``) both copy
these with ``model_copy(update=…)``, so both lanes of the fast path write the same orders and
fills as the event engine's simulated venue.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sparkstacker.backtest.fast_lane import Lane
from sparkstacker.model import Fill, Liquidity, MarginMode, Order, OrderType, Side, TimeInForce
from sparkstacker_plugins.exchanges.sim.options import SimOptions


def taker_fee(lane: Lane, options: SimOptions) -> Decimal:
    """The instrument's taker fee, else the venue's default."""
    fee = lane.instrument.taker_fee
    return fee if fee is not None else options.taker_fee


def market_order_template(lane: Lane, at: datetime) -> Order:
    """An IOC market order of the lane's main leg (side, size and ids are filled in per copy)."""
    return Order(
        client_order_id="template",
        venue=lane.account,
        symbol=lane.symbol,
        side=Side.BUY,
        type=OrderType.MARKET,
        size=Decimal(1),
        tif=TimeInForce.IOC,
        leverage=lane.plan.leverage,
        margin_mode=MarginMode.CROSS,
        strategy=lane.name,
        leg="main",
        created_at=at,
    )


def taker_fill_template(lane: Lane, options: SimOptions, at: datetime) -> Fill:
    """A taker fill on the lane's account (side, price, size, fee, ids: filled in per copy)."""
    return Fill(
        fill_id="template",
        venue=lane.account,
        symbol=lane.symbol,
        side=Side.BUY,
        price=Decimal(1),
        size=Decimal(1),
        fee_currency=options.quote,
        liquidity=Liquidity.TAKER,
        timestamp=at,
        account=options.account,
    )
