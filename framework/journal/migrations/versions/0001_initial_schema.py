"""Initial journal schema: runs, orders and their events, fills, snapshots, risk, hedge groups.

Amounts are exact decimal strings (VARCHAR), times are ``timestamp with time zone`` (UTC).
Triggers make order_events and fills append-only and let an orders row change only together
with a new order_events row (``version`` must advance by one to an event that exists).

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(name: str, length: int | None = None, *, null: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=null)


def _money(name: str, *, null: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(), nullable=null)


def _time(name: str, *, null: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=null)


def _json(name: str, *, null: bool = False) -> sa.Column:
    return sa.Column(name, sa.JSON(), nullable=null)


def _int(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False)


def _bool(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False)


def _table(name: str, *items: sa.Column | sa.Constraint, key: str = "id") -> None:
    op.create_table(name, *items, sa.PrimaryKeyConstraint(key, name=op.f(f"pk_{name}")))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    target_table = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{target_table}"), ondelete="CASCADE"
    )


def _unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def _run(table: str) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    return _str("run_id", 64), _fk(table, "run_id", "runs.id")


def upgrade() -> None:
    _table(
        "runs",
        _str("id", 64),
        _str("mode", 16),
        _time("started_at"),
        _time("ended_at", null=True),
        _str("status", 32),
        _json("config"),
        _json("summary", null=True),
        _str("framework_version"),
    )
    _index("runs", "mode", "started_at")

    _table(
        "run_rule_files",
        _int("id"),
        *_run("run_rule_files"),
        _str("path"),
        _str("sha256", 64),
        _unique("run_rule_files", "run_id", "path"),
    )

    _table(
        "strategies",
        _int("id"),
        *_run("strategies"),
        _str("name"),
        _str("source", null=True),
        _json("params", null=True),
        _time("created_at"),
        _unique("strategies", "run_id", "name"),
    )

    _table(
        "signals",
        _int("id"),
        *_run("signals"),
        _int("strategy_id"),
        _fk("signals", "strategy_id", "strategies.id"),
        _str("venue"),
        _str("symbol"),
        _str("direction", 8),
        _money("confidence"),
        _time("timestamp"),
        _str("source"),
        _money("price", null=True),
        _str("reason", null=True),
        _bool("accepted"),
        _str("decision_reason", null=True),
    )
    _index("signals", "run_id", "timestamp")

    _table(
        "orders",
        _int("id"),
        *_run("orders"),
        _str("scope", 64),
        _int("version"),
        _str("client_order_id", 64),
        _str("venue"),
        _str("symbol"),
        _str("side", 8),
        _str("type", 16),
        _money("size"),
        _money("price", null=True),
        _money("trigger_price", null=True),
        _str("tif", 8),
        _bool("reduce_only"),
        _money("leverage", null=True),
        _str("margin_mode", 16, null=True),
        _str("status", 24),
        _str("venue_order_id", null=True),
        _money("filled_size"),
        _money("avg_fill_price", null=True),
        _money("fees"),
        _str("strategy", null=True),
        _str("group_id", null=True),
        _str("leg", null=True),
        _str("reason", null=True),
        _time("created_at"),
        _time("updated_at", null=True),
        _json("annotations"),
        _unique("orders", "scope", "client_order_id"),
    )
    _index("orders", "client_order_id")
    _index("orders", "run_id", "status")
    _index("orders", "venue", "status")
    _index("orders", "venue_order_id")
    _index("orders", "group_id")

    _table(
        "order_intents",
        _int("id"),
        *_run("order_intents"),
        _int("order_id"),
        _fk("order_intents", "order_id", "orders.id"),
        sa.Column("strategy_id", sa.Integer(), nullable=True),
        _fk("order_intents", "strategy_id", "strategies.id"),
        _str("client_order_id", 64),
        _str("reason", null=True),
        _json("order"),
        _time("recorded_at"),
        _unique("order_intents", "order_id"),
    )
    _index("order_intents", "run_id")

    _table(
        "order_events",
        _int("id"),
        *_run("order_events"),
        _int("order_id"),
        _fk("order_events", "order_id", "orders.id"),
        _int("seq"),
        _str("client_order_id", 64),
        _str("kind", 24),
        _str("status", 24),
        _str("venue_status", null=True),
        _str("reason", null=True),
        _str("fill_id", null=True),
        _time("timestamp"),
        _time("recorded_at"),
        _json("order"),
        _json("fill", null=True),
        _unique("order_events", "order_id", "seq"),
    )
    _index("order_events", "run_id", "timestamp")

    _table(
        "fills",
        _int("id"),
        *_run("fills"),
        _str("scope", 64),
        _str("venue"),
        _str("fill_id"),
        _str("client_order_id", 64, null=True),
        _str("venue_order_id", null=True),
        _str("symbol"),
        _str("side", 8),
        _money("price"),
        _money("size"),
        _money("fee"),
        _str("fee_currency", 16),
        _str("liquidity", 8),
        _time("timestamp"),
        _bool("is_liquidation"),
        _money("closed_pnl", null=True),
        _str("account", null=True),
        _time("recorded_at"),
        _unique("fills", "scope", "venue", "fill_id"),
    )
    _index("fills", "run_id", "timestamp")
    _index("fills", "venue", "account", "timestamp")
    _index("fills", "client_order_id")

    _table(
        "balances",
        _int("id"),
        *_run("balances"),
        _str("venue"),
        _str("account"),
        _time("timestamp"),
        _money("equity"),
        _money("collateral"),
        _money("margin_used"),
        _money("maintenance_margin"),
        _bool("simulated"),
        _json("assets"),
    )
    _index("balances", "run_id", "timestamp")
    _index("balances", "venue", "account", "timestamp")

    _table(
        "positions",
        _int("id"),
        *_run("positions"),
        _int("balance_id"),
        _fk("positions", "balance_id", "balances.id"),
        _str("venue"),
        _str("account", null=True),
        _str("symbol"),
        _time("timestamp"),
        _money("size"),
        _money("entry_price", null=True),
        _money("leverage"),
        _str("margin_mode", 16),
        _money("liquidation_price", null=True),
        _money("unrealized_pnl"),
        _money("margin_used"),
        _money("mark_price", null=True),
        _money("realized_pnl"),
        _money("funding_paid"),
        _time("opened_at", null=True),
    )
    _index("positions", "balance_id")
    _index("positions", "run_id", "symbol", "timestamp")

    _table(
        "funding_payments",
        _int("id"),
        *_run("funding_payments"),
        _str("scope", 64),
        _str("venue"),
        _str("account"),
        _str("symbol"),
        _time("timestamp"),
        _money("rate"),
        _money("payment"),
        _unique("funding_payments", "scope", "venue", "account", "symbol", "timestamp"),
    )
    _index("funding_payments", "run_id", "timestamp")

    _table(
        "risk_events",
        _int("id"),
        *_run("risk_events"),
        _str("kind"),
        _str("severity", 16),
        _str("message"),
        _str("venue", null=True),
        _str("symbol", null=True),
        _bool("blocks_entries"),
        _json("data", null=True),
        _time("created_at"),
        _time("resolved_at", null=True),
        _str("resolution", null=True),
    )
    _index("risk_events", "blocks_entries", "resolved_at", "venue", "symbol")
    _index("risk_events", "run_id", "created_at")

    _table(
        "position_groups",
        _str("group_id", 64),
        *_run("position_groups"),
        _time("created_at"),
        _time("updated_at"),
        _str("last_step"),
        _int("steps"),
        key="group_id",
    )
    _index("position_groups", "run_id")

    _table(
        "group_events",
        _int("id"),
        _str("group_id", 64),
        _fk("group_events", "group_id", "position_groups.group_id"),
        *_run("group_events"),
        _int("seq"),
        _str("step"),
        _json("data"),
        _time("timestamp"),
        _unique("group_events", "group_id", "seq"),
    )
    _index("group_events", "run_id")

    _create_guards()


# ---- guards: append-only events, no order change without an event ------------------------------

_NO_EVENT = "orders row changed without a matching order_events row (version must advance by 1)"

_SQLITE_GUARDS = (
    f"""
    CREATE TRIGGER orders_change_needs_event BEFORE UPDATE ON orders
    WHEN NEW.version != OLD.version + 1 OR NOT EXISTS (
        SELECT 1 FROM order_events WHERE order_id = NEW.id AND seq = NEW.version)
    BEGIN SELECT RAISE(ABORT, '{_NO_EVENT}'); END
    """,
    """
    CREATE TRIGGER order_events_append_only BEFORE UPDATE ON order_events
    BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END
    """,
    """
    CREATE TRIGGER fills_append_only BEFORE UPDATE ON fills
    BEGIN SELECT RAISE(ABORT, 'fills is append-only'); END
    """,
)

_PG_GUARDS = (
    f"""
    CREATE FUNCTION journal_orders_change_needs_event() RETURNS trigger AS $$
    BEGIN
        IF NEW.version <> OLD.version + 1 OR NOT EXISTS (
            SELECT 1 FROM order_events WHERE order_id = NEW.id AND seq = NEW.version) THEN
            RAISE EXCEPTION '{_NO_EVENT}';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER orders_change_needs_event BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION journal_orders_change_needs_event()
    """,
    """
    CREATE FUNCTION journal_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER order_events_append_only BEFORE UPDATE ON order_events
    FOR EACH ROW EXECUTE FUNCTION journal_append_only()
    """,
    """
    CREATE TRIGGER fills_append_only BEFORE UPDATE ON fills
    FOR EACH ROW EXECUTE FUNCTION journal_append_only()
    """,
)


def _create_guards() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _PG_GUARDS if dialect == "postgresql" else _SQLITE_GUARDS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS journal_orders_change_needs_event() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS journal_append_only() CASCADE")
    for table in (
        "group_events",
        "position_groups",
        "risk_events",
        "funding_payments",
        "positions",
        "balances",
        "fills",
        "order_events",
        "order_intents",
        "orders",
        "signals",
        "strategies",
        "run_rule_files",
        "runs",
    ):
        op.drop_table(table)
