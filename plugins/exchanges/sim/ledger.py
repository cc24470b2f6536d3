"""The simulated account's money, in ``Decimal``: cash, positions, isolated margin, totals.

Every money amount that enters the ledger (realised PnL, fee, funding payment, isolated margin
moved in or out) is quantised to :data:`MONEY_QUANTUM` (1e-12 of the quote) before it is added, so
sums stay exact in the default 28-digit context and the identity

    collateral − initial = Σ realised PnL − Σ fees − Σ funding

holds to the last digit. ``cash`` is the cross balance; an isolated position's margin is carved
out of it into ``iso_margin`` and returned when the position shrinks or closes, so
``collateral = cash + Σ iso_margin``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal

from sparkstacker.model import ZERO, MarginMode, apply_signed_fill
from sparkstacker.model.members import CROSS, ISOLATED

MONEY_QUANTUM = Decimal("1e-12")
_WIDE = Context(prec=60)


def money(value: Decimal) -> Decimal:
    """Quantise a money amount to 1e-12 (banker's rounding) when it has more decimals."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -12:
        return value
    return value.quantize(MONEY_QUANTUM, context=_WIDE)


@dataclass(slots=True, eq=False)
class PositionState:
    """One market's net position; Decimal state plus the float the hot loop compares against."""

    symbol: str
    mmr: Decimal
    size: Decimal = ZERO
    entry: Decimal | None = None
    mode: MarginMode = MarginMode.CROSS
    leverage: Decimal = Decimal(20)
    iso_margin: Decimal = ZERO
    realized: Decimal = ZERO
    funding: Decimal = ZERO
    opened_ms: int | None = None
    liq: Decimal | None = None
    liq_f: float = float("nan")

    @property
    def sign(self) -> int:
        return (self.size > 0) - (self.size < 0)

    def unrealized(self, mark: Decimal) -> Decimal:
        if not self.size or self.entry is None:
            return ZERO
        return self.size * (mark - self.entry)

    def maintenance(self, mark: Decimal) -> Decimal:
        return self.mmr * abs(self.size) * mark


@dataclass(slots=True)
class FillOutcome:
    realized: Decimal
    opened: bool  # flat before, or flipped through zero
    closed: bool  # flat after, or flipped through zero


class Ledger:
    """Cash, positions and cumulative totals of one simulated account."""

    def __init__(self, initial: Decimal) -> None:
        self.initial = initial
        self.cash = initial
        self.positions: dict[str, PositionState] = {}
        self.realized_total = ZERO
        self.fees_total = ZERO
        self.funding_total = ZERO

    def add_market(self, symbol: str, mmr: Decimal) -> PositionState:
        position = self.positions.get(symbol)
        if position is None:
            position = self.positions[symbol] = PositionState(symbol=symbol, mmr=mmr)
        return position

    @property
    def collateral(self) -> Decimal:
        return self.cash + sum((p.iso_margin for p in self.positions.values()), ZERO)

    def open_positions(self) -> list[PositionState]:
        return [p for p in self.positions.values() if p.size != 0]

    # ---- changes ------------------------------------------------------------------------------

    def apply_fill(
        self,
        position: PositionState,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
        leverage: Decimal,
        mode: MarginMode,
        ts_ms: int,
    ) -> FillOutcome:
        """Net a signed fill into ``position``; move isolated margin; settle PnL and fee in cash.

        ``fee`` comes quantised (:func:`money`), as every caller computes it.
        """
        old = position.size
        new, entry, realized = apply_signed_fill(old, position.entry, quantity, price)
        if realized is not ZERO:  # ZERO itself (nothing closed) needs no quantising
            realized = money(realized)
        was_long = old > 0
        flipped = bool(old and new) and was_long != (new > 0)
        opened = not old or flipped
        increasing = not old or was_long == (quantity > 0)
        if position.mode is ISOLATED and old and not increasing:
            closed_part = min(abs(quantity), abs(old))
            release = (
                position.iso_margin
                if closed_part == abs(old)
                else money(position.iso_margin * closed_part / abs(old))
            )
            position.iso_margin -= release
            self.cash += release
        if opened:
            position.mode = mode
            position.opened_ms = ts_ms
            position.realized = ZERO
            position.funding = ZERO
        if increasing or flipped:
            position.leverage = leverage
            if position.mode is ISOLATED:
                added = abs(quantity) if increasing else abs(new)
                margin = money(added * price / leverage)
                self.cash -= margin
                position.iso_margin += margin
        self.cash += realized - fee
        position.size = new
        position.entry = entry
        position.realized += realized
        self.realized_total += realized
        self.fees_total += fee
        if not new:
            self.cash += position.iso_margin  # rounding leftovers return to the cross balance
            position.iso_margin = ZERO
            position.entry = None
            position.liq = None
            position.liq_f = float("nan")
        return FillOutcome(realized, opened, not new or flipped)

    def pay_funding(self, position: PositionState, payment: Decimal) -> Decimal:
        """Settle one funding payment (positive = paid by the account) and return it quantised."""
        payment = money(payment)
        if position.mode is ISOLATED:
            position.iso_margin -= payment
        else:
            self.cash -= payment
        position.funding += payment
        self.funding_total += payment
        return payment

    # ---- risk ---------------------------------------------------------------------------------

    def cross_buffer(
        self, mark_of: Callable[[str], Decimal], exclude: PositionState | None = None
    ) -> Decimal:
        """Cross cash plus every other cross position's uPnL minus its maintenance margin."""
        buffer = self.cash
        for other in self.positions.values():
            if other is exclude or not other.size or other.mode is not CROSS:
                continue
            mark = mark_of(other.symbol)
            buffer += other.unrealized(mark) - other.maintenance(mark)
        return buffer

    def liquidation_price(
        self, position: PositionState, mark_of: Callable[[str], Decimal]
    ) -> Decimal | None:
        """Mark price at which equity would equal maintenance margin (None: cannot happen).

        Solves ``C + s·(p − e) = mmr·|s|·p`` for ``p``, where ``C`` is the isolated margin, or for
        cross the cross cash plus the other cross positions' uPnL minus their maintenance:
        ``p = (s·e − C) / (s − mmr·|s|)``.
        """
        size = position.size
        if not size or position.entry is None:
            return None
        if position.mode is ISOLATED:
            buffer = position.iso_margin
        else:
            buffer = self.cross_buffer(mark_of, exclude=position)
        price = (size * position.entry - buffer) / (size - position.mmr * abs(size))
        return price if price > 0 else None

    def is_breached(
        self, position: PositionState, mark: Decimal, mark_of: Callable[[str], Decimal]
    ) -> bool:
        """Equity below maintenance margin for this position's scope (cross account or isolated)."""
        if position.size == 0:
            return False
        if position.mode is ISOLATED:
            return position.iso_margin + position.unrealized(mark) < position.maintenance(mark)
        buffer = self.cross_buffer(mark_of, exclude=position)
        return buffer + position.unrealized(mark) < position.maintenance(mark)
