"""Round trips (flat → position → flat) rebuilt from fills, with fees and funding.

A fill that crosses through zero closes one trade and opens the next; its fee is split between
the two in proportion to size. PnL uses :func:`sparkstacker.model.apply_signed_fill`, the same
arithmetic the engine's positions use, so the journal and the engine agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sparkstacker.journal.records import RoundTrip
from sparkstacker.model import ZERO, Direction, Fill, apply_signed_fill


@dataclass(frozen=True)
class FundingEntry:
    venue: str
    account: str
    symbol: str
    timestamp: datetime
    payment: Decimal


@dataclass
class _Open:
    direction: Direction
    opened_at: datetime
    entry_qty: Decimal = ZERO
    entry_value: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_value: Decimal = ZERO
    pnl: Decimal = ZERO
    fees: Decimal = ZERO
    max_size: Decimal = ZERO
    fills: int = 0


def round_trips(
    fills: Iterable[Fill],
    funding: Sequence[FundingEntry] = (),
    *,
    run_id: str | None = None,
) -> list[RoundTrip]:
    """Round trips per (venue, account, symbol), in the order they opened."""
    books: dict[tuple[str, str | None, str], list[Fill]] = {}
    for fill in sorted(fills, key=lambda f: f.timestamp):
        books.setdefault((fill.venue, fill.account, fill.symbol), []).append(fill)
    trips: list[RoundTrip] = []
    for (venue, account, symbol), book in books.items():
        payments = [
            p
            for p in funding
            if p.venue == venue and p.symbol == symbol and (account is None or p.account == account)
        ]
        trips.extend(_market_trips(book, payments, run_id, venue, account, symbol))
    return sorted(trips, key=lambda t: (t.opened_at, t.venue, t.symbol))


def _market_trips(
    fills: list[Fill],
    payments: list[FundingEntry],
    run_id: str | None,
    venue: str,
    account: str | None,
    symbol: str,
) -> list[RoundTrip]:
    trips: list[RoundTrip] = []
    size, entry = ZERO, None
    trade: _Open | None = None
    where = (run_id, venue, account, symbol)
    for fill in fills:
        quantity = fill.signed_size
        if trade is None:
            direction = Direction.LONG if quantity > 0 else Direction.SHORT
            trade = _Open(direction=direction, opened_at=fill.timestamp)
        increasing = size == 0 or (size > 0) == (quantity > 0)
        new_size, new_entry, realized = apply_signed_fill(size, entry, quantity, fill.price)
        trade.fills += 1
        if increasing:
            trade.entry_qty += fill.size
            trade.entry_value += fill.size * fill.price
            trade.fees += fill.fee
        else:
            closed = min(fill.size, abs(size))
            closing_fee = fill.fee * closed / fill.size
            trade.exit_qty += closed
            trade.exit_value += closed * fill.price
            trade.fees += closing_fee
            trade.pnl += realized
            if new_size == 0 or (new_size > 0) != (size > 0):
                trips.append(_finish(trade, fill.timestamp, ZERO, payments, *where))
                trade = None
                if new_size != 0:
                    rest = abs(new_size)
                    trade = _Open(
                        direction=Direction.LONG if new_size > 0 else Direction.SHORT,
                        opened_at=fill.timestamp,
                        entry_qty=rest,
                        entry_value=rest * fill.price,
                        fees=fill.fee - closing_fee,
                        fills=1,
                    )
        size, entry = new_size, new_entry
        if trade is not None:
            trade.max_size = max(trade.max_size, abs(size))
    if trade is not None:
        trips.append(_finish(trade, None, size, payments, *where))
    return trips


def _finish(
    trade: _Open,
    closed_at: datetime | None,
    open_size: Decimal,
    payments: list[FundingEntry],
    run_id: str | None,
    venue: str,
    account: str | None,
    symbol: str,
) -> RoundTrip:
    funding = sum(
        (
            p.payment
            for p in payments
            if p.timestamp > trade.opened_at and (closed_at is None or p.timestamp <= closed_at)
        ),
        ZERO,
    )
    return RoundTrip(
        run_id=run_id,
        venue=venue,
        account=account,
        symbol=symbol,
        direction=trade.direction,
        size=trade.entry_qty,
        max_size=trade.max_size,
        entry_price=trade.entry_value / trade.entry_qty,
        exit_price=trade.exit_value / trade.exit_qty if trade.exit_qty else None,
        opened_at=trade.opened_at,
        closed_at=closed_at,
        pnl=trade.pnl,
        fees=trade.fees,
        funding=funding,
        net_pnl=trade.pnl - trade.fees - funding,
        fills=trade.fills,
        open_size=ZERO if closed_at is not None else open_size,
    )
