"""Funding settlement: at every interval boundary, payment = size × mark × rate.

A positive rate makes longs pay and shorts receive. A boundary is paid at most once, from the
first source that has a rate for it: an explicit ``on_funding`` event, the bar's
``funding_rate`` argument, or the constant ``SimOptions.funding_rate``. A position pays for a
boundary only if it was held across it (opened strictly before it).
"""

from __future__ import annotations

from decimal import Decimal

from sparkstacker.exchange import VenueEvent
from sparkstacker_plugins.exchanges.sim.core import SimCore, dec
from sparkstacker_plugins.exchanges.sim.execution import Executor
from sparkstacker_plugins.exchanges.sim.state import MarketState

Out = list[VenueEvent]


class Funding:
    def __init__(self, core: SimCore, executor: Executor) -> None:
        self.core = core
        self.ex = executor

    def settle_range(
        self,
        m: MarketState,
        until_ms: int,
        rate: Decimal | None,
        mark_at: tuple[int, int, float, float] | float,
        out: Out,
    ) -> None:
        """Settle boundaries after ``m.funding_scanned`` and before ``until_ms`` (exclusive).

        ``mark_at`` is a constant mark, or ``(start_ms, length_ms, open, close)`` of a bar: the
        mark at a boundary is then interpolated linearly from open to close.
        """
        interval = m.funding_interval_ms
        last = until_ms - 1 - (until_ms - 1) % interval  # the last boundary before until_ms
        if m.position.size == 0 or m.funding_scanned <= -interval:
            m.funding_scanned = max(m.funding_scanned, last)
            return
        if rate is None:
            rate = self.core.funding_rate
        boundary = m.funding_scanned + interval
        while boundary <= last:
            m.funding_scanned = boundary
            if rate is not None and boundary > m.funding_paid and m.position.size != 0:
                self.pay(m, boundary, rate, _mark(mark_at, boundary), out)
            boundary += interval

    def on_event(self, m: MarketState, ts_ms: int, rate: Decimal, out: Out) -> None:
        """An explicit funding print for the boundary at or just before ``ts_ms``."""
        interval = m.funding_interval_ms
        boundary = ts_ms - ts_ms % interval
        if m.position.size != 0 and boundary > m.funding_paid and m.has_price:
            self.pay(m, boundary, rate, dec(m.last), out)
        m.funding_scanned = max(m.funding_scanned, boundary)
        m.refresh()

    def pay(self, m: MarketState, boundary: int, rate: Decimal, mark: Decimal, out: Out) -> None:
        position = m.position
        size = position.size
        payment = self.core.ledger.pay_funding(position, size * mark * rate)
        m.funding_paid = boundary
        out.append(
            self.core.event(
                "funding",
                m.symbol,
                boundary,
                {
                    "symbol": m.symbol,
                    "rate": rate,
                    "payment": payment,
                    "mark": mark,
                    "size": size,
                    "funding_paid": position.funding,
                },
            )
        )
        self.ex.refresh_risk()


def _mark(mark_at: tuple[int, int, float, float] | float, boundary: int) -> Decimal:
    if isinstance(mark_at, tuple):
        start, length, open_, close = mark_at
        if boundary <= start or length <= 0:
            return dec(open_)
        fraction = min(1.0, (boundary - start) / length)
        return dec(open_) + (dec(close) - dec(open_)) * Decimal(repr(fraction))
    return dec(mark_at)
