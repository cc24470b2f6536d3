"""The journal's tables as typed SQLAlchemy 2 ORM classes.

Amounts are :class:`ExactDecimal` (exact strings), times :class:`UtcDateTime`. ``scope`` keeps
identifiers from different worlds apart: it is the run id for a backtest (so two backtests may
reuse ``f1`` as a fill id) and ``paper`` or ``live`` otherwise (so a restarted run recognises the
fills and orders of the run before it). The Alembic migrations in ``migrations/versions`` create
exactly this schema; a test compares the two.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sparkstacker.journal.types import ExactDecimal, UtcDateTime
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Decimal
RUN_FK = "runs.id"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        Decimal: ExactDecimal(),
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        str: String(),
    }


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]]
    summary: Mapped[dict[str, Any] | None]
    framework_version: Mapped[str]
    __table_args__ = (Index(None, "mode", "started_at"),)


class RuleFileRow(Base):
    __tablename__ = "run_rule_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    path: Mapped[str]
    sha256: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("run_id", "path"),)


class StrategyRow(Base):
    __tablename__ = "strategies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    name: Mapped[str]
    source: Mapped[str | None]
    params: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("run_id", "name"),)


class SignalRow(Base):
    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"))
    venue: Mapped[str]
    symbol: Mapped[str]
    direction: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[Money]
    timestamp: Mapped[datetime]
    source: Mapped[str]
    price: Mapped[Money | None]
    reason: Mapped[str | None]
    accepted: Mapped[bool] = mapped_column(Boolean)
    decision_reason: Mapped[str | None]
    __table_args__ = (Index(None, "run_id", "timestamp"),)


class OrderRow(Base):
    """The current state of one order. Changes only together with an :class:`OrderEventRow`."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, doc="seq of the last order_events row")
    client_order_id: Mapped[str] = mapped_column(String(64))
    venue: Mapped[str]
    symbol: Mapped[str]
    side: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(16))
    size: Mapped[Money]
    price: Mapped[Money | None]
    trigger_price: Mapped[Money | None]
    tif: Mapped[str] = mapped_column(String(8))
    reduce_only: Mapped[bool] = mapped_column(Boolean)
    leverage: Mapped[Money | None]
    margin_mode: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    venue_order_id: Mapped[str | None]
    filled_size: Mapped[Money]
    avg_fill_price: Mapped[Money | None]
    fees: Mapped[Money]
    strategy: Mapped[str | None]
    group_id: Mapped[str | None]
    leg: Mapped[str | None]
    reason: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    annotations: Mapped[dict[str, Any]]
    __table_args__ = (
        UniqueConstraint("scope", "client_order_id"),
        Index(None, "client_order_id"),
        Index(None, "run_id", "status"),
        Index(None, "venue", "status"),
        Index(None, "venue_order_id"),
        Index(None, "group_id"),
    )


class OrderIntentRow(Base):
    """The order exactly as intended, committed before the request leaves the engine."""

    __tablename__ = "order_intents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    strategy_id: Mapped[int | None] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"))
    client_order_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None]
    order: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("order_id"), Index(None, "run_id"))


class OrderEventRow(Base):
    """One lifecycle step, append-only, with the order as it stands after the step."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    client_order_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24))
    venue_status: Mapped[str | None]
    reason: Mapped[str | None]
    fill_id: Mapped[str | None]
    timestamp: Mapped[datetime]
    recorded_at: Mapped[datetime]
    order: Mapped[dict[str, Any]]
    fill: Mapped[dict[str, Any] | None]
    __table_args__ = (UniqueConstraint("order_id", "seq"), Index(None, "run_id", "timestamp"))


class FillRow(Base):
    """An execution; unique per (scope, venue, fill_id) so recording it twice is a no-op."""

    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(64))
    venue: Mapped[str]
    fill_id: Mapped[str]
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    venue_order_id: Mapped[str | None]
    symbol: Mapped[str]
    side: Mapped[str] = mapped_column(String(8))
    price: Mapped[Money]
    size: Mapped[Money]
    fee: Mapped[Money]
    fee_currency: Mapped[str] = mapped_column(String(16))
    liquidity: Mapped[str] = mapped_column(String(8))
    timestamp: Mapped[datetime]
    is_liquidation: Mapped[bool] = mapped_column(Boolean)
    closed_pnl: Mapped[Money | None]
    account: Mapped[str | None]
    recorded_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint("scope", "venue", "fill_id"),
        Index(None, "run_id", "timestamp"),
        Index(None, "venue", "account", "timestamp"),
        Index(None, "client_order_id"),
    )


class BalanceRow(Base):
    """An account snapshot; its positions are :class:`PositionRow` rows."""

    __tablename__ = "balances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    venue: Mapped[str]
    account: Mapped[str]
    timestamp: Mapped[datetime]
    equity: Mapped[Money]
    collateral: Mapped[Money]
    margin_used: Mapped[Money]
    maintenance_margin: Mapped[Money]
    simulated: Mapped[bool] = mapped_column(Boolean)
    assets: Mapped[list[Any]]
    __table_args__ = (
        Index(None, "run_id", "timestamp"),
        Index(None, "venue", "account", "timestamp"),
    )


class PositionRow(Base):
    __tablename__ = "positions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    balance_id: Mapped[int] = mapped_column(ForeignKey("balances.id", ondelete="CASCADE"))
    venue: Mapped[str]
    account: Mapped[str | None]
    symbol: Mapped[str]
    timestamp: Mapped[datetime]
    size: Mapped[Money]
    entry_price: Mapped[Money | None]
    leverage: Mapped[Money]
    margin_mode: Mapped[str] = mapped_column(String(16))
    liquidation_price: Mapped[Money | None]
    unrealized_pnl: Mapped[Money]
    margin_used: Mapped[Money]
    mark_price: Mapped[Money | None]
    realized_pnl: Mapped[Money]
    funding_paid: Mapped[Money]
    opened_at: Mapped[datetime | None]
    __table_args__ = (Index(None, "balance_id"), Index(None, "run_id", "symbol", "timestamp"))


class FundingPaymentRow(Base):
    """A funding settlement. ``payment`` > 0 was paid, < 0 received."""

    __tablename__ = "funding_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(64))
    venue: Mapped[str]
    account: Mapped[str]
    symbol: Mapped[str]
    timestamp: Mapped[datetime]
    rate: Mapped[Money]
    payment: Mapped[Money]
    __table_args__ = (
        UniqueConstraint("scope", "venue", "account", "symbol", "timestamp"),
        Index(None, "run_id", "timestamp"),
    )


class RiskEventRow(Base):
    __tablename__ = "risk_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    kind: Mapped[str]
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str]
    venue: Mapped[str | None]
    symbol: Mapped[str | None]
    blocks_entries: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None]
    __table_args__ = (
        Index(None, "blocks_entries", "resolved_at", "venue", "symbol"),
        Index(None, "run_id", "created_at"),
    )


class PositionGroupRow(Base):
    """A main/hedge position group driven by the hedge coordinator."""

    __tablename__ = "position_groups"

    group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_step: Mapped[str]
    steps: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index(None, "run_id"),)


class GroupEventRow(Base):
    __tablename__ = "group_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("position_groups.group_id", ondelete="CASCADE")
    )
    run_id: Mapped[str] = mapped_column(ForeignKey(RUN_FK, ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    step: Mapped[str]
    data: Mapped[dict[str, Any]]
    timestamp: Mapped[datetime]
    __table_args__ = (UniqueConstraint("group_id", "seq"), Index(None, "run_id"))


TABLES = Base.metadata.tables
