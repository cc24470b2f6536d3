"""The structured logs: orders.log, balance.log and markets.log (one JSON object per line)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sparkstacker.errors import ConfigError
from sparkstacker.model import (
    AccountState,
    Fill,
    FundingRate,
    OrderBook,
    OrderEvent,
    Position,
    utcnow,
)
from sparkstacker.observe.jsonl import JsonLinesFile, iso

ORDER_FIELDS = (
    "ts",
    "seq",
    "kind",
    "run_id",
    "client_order_id",
    "venue_order_id",
    "venue",
    "symbol",
    "side",
    "type",
    "tif",
    "size",
    "price",
    "trigger_price",
    "reduce_only",
    "leverage",
    "margin_mode",
    "status",
    "filled_size",
    "avg_fill_price",
    "fees",
    "strategy",
    "leg",
    "group_id",
    "reason",
    "venue_status",
    "annotations",
    "fill",
)


def fill_record(fill: Fill) -> dict[str, Any]:
    return {
        "fill_id": fill.fill_id,
        "ts": iso(fill.timestamp),
        "price": fill.price,
        "size": fill.size,
        "fee": fill.fee,
        "fee_currency": fill.fee_currency,
        "liquidity": fill.liquidity,
        "is_liquidation": fill.is_liquidation,
        "closed_pnl": fill.closed_pnl,
        "venue_order_id": fill.venue_order_id,
    }


def order_record(event: OrderEvent, *, seq: int, run_id: str | None = None) -> dict[str, Any]:
    """The orders.log line for one lifecycle event (every key present; absent values null)."""
    order = event.order
    return {
        "ts": iso(event.timestamp),
        "seq": seq,
        "kind": event.kind.value,
        "run_id": event.run_id or run_id,
        "client_order_id": order.client_order_id,
        "venue_order_id": order.venue_order_id,
        "venue": order.venue,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "tif": order.tif.value,
        "size": order.size,
        "price": order.price,
        "trigger_price": order.trigger_price,
        "reduce_only": order.reduce_only,
        "leverage": order.leverage,
        "margin_mode": order.margin_mode.value if order.margin_mode else None,
        "status": order.status.value,
        "filled_size": order.filled_size,
        "avg_fill_price": order.avg_fill_price,
        "fees": order.fees,
        "strategy": order.strategy,
        "leg": order.leg,
        "group_id": order.group_id,
        "reason": event.reason if event.reason is not None else order.reason,
        "venue_status": event.venue_status,
        "annotations": dict(order.annotations),
        "fill": fill_record(event.fill) if event.fill is not None else None,
    }


class OrdersLog:
    """orders.log: every order lifecycle event, one flushed JSON line each."""

    def __init__(self, file: JsonLinesFile, *, run_id: str | None = None) -> None:
        self.file = file
        self.run_id = run_id
        self._seq = 0
        self._lock = threading.Lock()

    def write(self, event: OrderEvent) -> None:
        with self._lock:
            self._seq += 1
            self.file.write(order_record(event, seq=self._seq, run_id=self.run_id))


def position_record(position: Position) -> dict[str, Any]:
    return {
        "symbol": position.symbol,
        "size": position.size,
        "direction": position.direction.value,
        "entry_price": position.entry_price,
        "mark_price": position.mark_price,
        "leverage": position.leverage,
        "margin_mode": position.margin_mode.value,
        "margin_used": position.margin_used,
        "liquidation_price": position.liquidation_price,
        "liquidation_distance": position.liquidation_distance(),
        "unrealized_pnl": position.unrealized_pnl,
        "realized_pnl": position.realized_pnl,
        "funding_paid": position.funding_paid,
    }


def account_record(account: AccountState, *, run_id: str | None = None) -> dict[str, Any]:
    return {
        "ts": iso(account.timestamp),
        "run_id": run_id,
        "venue": account.venue,
        "account": account.account,
        "simulated": account.simulated,
        "equity": account.equity,
        "collateral": account.collateral,
        "margin_used": account.margin_used,
        "maintenance_margin": account.maintenance_margin,
        "available_margin": account.available_margin,
        "margin_ratio": account.margin_ratio,
        "gross_exposure": account.gross_exposure,
        "positions": [position_record(p) for p in account.positions if not p.is_flat],
        "balances": [
            {"asset": b.asset, "total": b.total, "available": b.available} for b in account.balances
        ],
    }


class _Throttle:
    """At most one write per key per ``interval`` seconds of *event* time (sim or wall)."""

    def __init__(self, interval: float) -> None:
        if interval < 0:
            raise ConfigError(f"throttle interval must be >= 0 seconds, got {interval}")
        self.interval = interval
        self._last: dict[tuple[str, ...], float] = {}

    def allow(self, key: tuple[str, ...], at: float) -> bool:
        last = self._last.get(key)
        if last is not None and at - last < self.interval:
            return False
        self._last[key] = at
        return True


class BalanceLog:
    """balance.log: account snapshots (equity, collateral, margin, positions, simulated flag).

    ``min_interval`` (seconds of event time, per venue and account) drops snapshots that come
    faster than that; 0 keeps every one.
    """

    def __init__(
        self, file: JsonLinesFile, *, run_id: str | None = None, min_interval: float = 0.0
    ) -> None:
        self.file = file
        self.run_id = run_id
        self._throttle = _Throttle(min_interval)

    def write(self, account: AccountState, *, force: bool = False) -> bool:
        """Log the snapshot unless throttled; returns whether a line was written."""
        key = (account.venue, account.account)
        if not self._throttle.allow(key, account.timestamp.timestamp()) and not force:
            return False
        self.file.write(account_record(account, run_id=self.run_id))
        return True


class MarketLog:
    """markets.log: throttled market snapshots (mid/mark, best bid/ask, funding) per symbol.

    The throttle check runs before anything is formatted, so calling :meth:`write` on every
    bar costs a dictionary lookup when the snapshot is dropped.
    """

    def __init__(
        self, file: JsonLinesFile, *, run_id: str | None = None, min_interval: float = 60.0
    ) -> None:
        self.file = file
        self.run_id = run_id
        self._throttle = _Throttle(min_interval)

    def write(
        self,
        *,
        venue: str,
        symbol: str,
        ts: datetime | None = None,
        mid: Decimal | None = None,
        mark: Decimal | None = None,
        best_bid: Decimal | None = None,
        best_ask: Decimal | None = None,
        funding_rate: Decimal | None = None,
        extra: Mapping[str, Any] | None = None,
        force: bool = False,
    ) -> bool:
        """Log one snapshot unless throttled; returns whether a line was written."""
        at = ts or utcnow()
        if not self._throttle.allow((venue, symbol), at.timestamp()) and not force:
            return False
        if mid is None and best_bid is not None and best_ask is not None:
            mid = (best_bid + best_ask) / 2
        record: dict[str, Any] = {
            "ts": iso(at),
            "run_id": self.run_id,
            "venue": venue,
            "symbol": symbol,
            "mid": mid,
            "mark": mark,
            "best_bid": best_bid,
            "best_ask": best_ask,
            "spread": best_ask - best_bid
            if best_bid is not None and best_ask is not None
            else None,
            "funding_rate": funding_rate,
        }
        if extra:
            record.update(extra)
        self.file.write(record)
        return True

    def write_book(
        self,
        book: OrderBook,
        *,
        mark: Decimal | None = None,
        funding: FundingRate | None = None,
        force: bool = False,
    ) -> bool:
        """Log a snapshot taken from an order book (and the latest funding rate, if known)."""
        return self.write(
            venue=book.venue,
            symbol=book.symbol,
            ts=book.timestamp,
            mid=book.mid,
            mark=mark,
            best_bid=book.best_bid,
            best_ask=book.best_ask,
            funding_rate=funding.rate if funding is not None else None,
            force=force,
        )
