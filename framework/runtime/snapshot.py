"""The running engine as plain data: what ``run.json`` holds and ``spark-stacker status`` shows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sparkstacker.engine.engine import Engine
from sparkstacker.model import ZERO, AccountState, Order


def _s(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}" if value == value else str(value)


def order_row(order: Order) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "venue": order.venue,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "size": _s(order.size),
        "price": _s(order.price if order.price is not None else order.trigger_price),
        "filled": _s(order.filled_size),
        "status": order.status.value,
        "strategy": order.strategy,
        "role": order.annotations.get("reason")
        if order.annotations.get("origin") == "protective"
        else order.leg,
    }


def _distance(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.6f}"


def positions(engine: Engine) -> list[dict[str, Any]]:
    """Each strategy leg that holds something or made money: size, entry, PnL, liquidation."""
    rows = []
    watch = engine.monitor.liquidation
    for leg in engine.book.legs():
        if leg.size == 0 and leg.realized_pnl == 0 and leg.fees == 0:
            continue
        mark = engine.accounting.mark(leg.venue, leg.symbol)
        unrealized = leg.unrealized(mark) if mark is not None else ZERO
        rows.append(
            {
                "strategy": leg.strategy,
                "leg": leg.role,
                "venue": leg.venue,
                "symbol": leg.symbol,
                "size": _s(leg.size),
                "entry_price": _s(leg.entry_price),
                "mark": _s(mark),
                "unrealized_pnl": _s(unrealized),
                "realized_pnl": _s(leg.realized_pnl),
                "fees": _s(leg.fees),
                "funding": _s(leg.funding),
                "net_pnl": _s(leg.realized_pnl - leg.fees - leg.funding + unrealized),
            }
        )
        liquidation = watch.of(leg.venue, leg.symbol) if leg.size != 0 else None
        rows[-1].update(
            liquidation_price=_s(liquidation.price) if liquidation else None,
            liquidation_distance=_distance(liquidation.distance) if liquidation else None,
            liquidation_source=liquidation.source if liquidation else None,
        )
    return rows


def groups(engine: Engine) -> list[dict[str, Any]]:
    """Each hedged strategy's position group: protocol state, both legs, the hedge's target,
    combined PnL and the distance to liquidation of the leg nearer to it."""
    distances = engine.monitor.liquidation.groups()
    rows = []
    for name, group in engine.hedges.groups.items():
        distance, source = distances.get(name, (None, None))
        rows.append(
            {
                "strategy": name,
                "group_id": group.group_id,
                "state": group.state.value,
                "main": _s(group.main.size),
                "hedge": _s(group.leg.size),
                "hedge_target": _s(group.target()),
                "hedge_venue": group.venue,
                "combined_pnl": _s(group.combined_pnl(engine)),
                "liquidation_distance": _distance(distance),
                "liquidation_source": source,
            }
        )
    return rows


def account_row(account: AccountState) -> dict[str, Any]:
    unrealized = sum((p.unrealized_pnl for p in account.positions), ZERO)
    return {
        "venue": account.venue,
        "account": account.account,
        "simulated": account.simulated,
        "equity": _s(account.equity),
        "collateral": _s(account.collateral),
        "margin_used": _s(account.margin_used),
        "unrealized_pnl": _s(unrealized),
        "margin_ratio": f"{float(account.margin_ratio):.4f}",
        "positions": [
            {"symbol": p.symbol, "size": _s(p.size), "entry_price": _s(p.entry_price)}
            for p in account.positions
            if not p.is_flat
        ],
        "timestamp": account.timestamp.isoformat(),
    }


def engine_state(engine: Engine, governor_state: str | None = None) -> dict[str, Any]:
    """``governor_state``: the state to show when no governor is configured (ACTIVE, or
    FLATTEN after the operator's kill switch)."""
    governor = engine.governor
    return {
        "positions": positions(engine),
        "groups": groups(engine),
        "open_orders": [order_row(o) for o in engine.orders.open_orders()],
        "orders": engine.orders.summary(),
        "governor": {"state": governor_state or "ACTIVE", "configured": False}
        if governor is None
        else {
            "state": governor.state.name,
            "configured": True,
            "drawdown": round(governor.drawdown, 6),
            "daily_loss": round(governor.daily_loss, 2),
            "peak": None if governor.peak == float("-inf") else round(governor.peak, 2),
            "manual": governor.manual.name if governor.manual is not None else None,
        },
        "margin_actions": engine.monitor.margin_actions,
        "blocked": {f"{v} {s}": why for (v, s), why in engine._block_entries.items()},
        "signals": engine.events.signals,
        "signals_ignored": engine.events.signals_ignored,
        "ignored_reasons": dict(engine.events.ignored_reasons),
        "funding_paid": _s(engine.events.funding_paid),
        "risk_events": len(engine.events.risk_events),
        "realized_pnl": _s(sum((leg.realized_pnl for leg in engine.book.legs()), ZERO)),
        "fees": _s(sum((leg.fees for leg in engine.book.legs()), ZERO)),
    }
