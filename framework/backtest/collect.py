"""Turn a finished engine run into a :class:`BacktestResult`: trades, equity curve, assumptions.

The equity curve is rebuilt from the fills (cash flows) and the close prices, vectorised:
equity(t) = starting collateral − Σ signed size × price − fees − funding + Σ position × close.
It is checked against the simulated accounts' own final equity, so the chart cannot drift from
what the venue says.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from sparkstacker.backtest.fast_result import timeline
from sparkstacker.backtest.result import (
    BacktestResult,
    FundingPayment,
    LazyCurves,
    MarketSeries,
    RoundTrip,
)
from sparkstacker.errors import SparkStackerError
from sparkstacker.model import ZERO, Fill, Order, Side, from_millis, to_millis

if TYPE_CHECKING:
    from sparkstacker.backtest.runner import BacktestOptions, _Market
    from sparkstacker.engine.engine import Engine
    from sparkstacker.lang.plan import CompiledRules


@dataclass(slots=True)
class _Open:
    direction: str
    size: Decimal
    peak: Decimal
    entry_time: Any
    entry_value: Decimal
    entry_qty: Decimal
    fees: Decimal
    pnl: Decimal
    funding: Decimal
    entry_bar: int


def collect_result(
    *,
    run_id: str,
    compiled: CompiledRules,
    engine: Engine,
    sims: dict[str, Any],
    markets: Sequence[_Market],
    initial_equity: Decimal,
    options: BacktestOptions,
    bars: int,
    elapsed: float,
) -> BacktestResult:
    orders = engine.orders.all_orders()
    by_id = {o.client_order_id: o for o in orders}
    fills = _in_time_order(list(engine.orders.fills) + list(engine.events.liquidation_fills))
    stamps, closes = timeline(markets)
    funding = [
        FundingPayment(timestamp=ts, venue=venue, symbol=symbol, rate=rate, payment=payment)
        for ts, venue, symbol, rate, payment in engine.events.funding
    ]
    equity = equity_curve(stamps, closes, *_flows(fills, funding), float(initial_equity))
    venue_equity = sum((s.account_state().equity for s in sims.values()), ZERO)
    if len(equity) and abs(float(venue_equity) - float(equity[-1])) > 1e-6 * max(
        1.0, abs(float(venue_equity))
    ):
        raise SparkStackerError(
            f"equity curve ends at {equity[-1]:.6f} but the simulated accounts hold "
            f"{venue_equity}; the run's accounting is inconsistent"
        )
    trades = _round_trips(fills, by_id, sims, stamps, funding)
    return BacktestResult(
        run_id=run_id,
        rule_files=tuple(compiled.files),
        strategies=tuple(p.name for p in compiled.strategies),
        initial_equity=initial_equity,
        timestamp=stamps,
        equity=equity,
        equity_by_leg=LazyCurves(
            {
                leg: _leg_curve(stamps, closes, fills, funding, by_id, sims, leg)
                for leg in sorted({_fill_leg(f, by_id, sims) for f in fills} | {"main"})
            }
        ),
        trades=trades,
        fills=fills,
        orders=orders,
        funding=funding,
        markets=[market_series(m) for m in markets],
        liquidations=engine.events.liquidations,
        risk_events=list(engine.events.risk_events),
        governor_actions=[
            {
                "timestamp": from_millis(c.timestamp_ms).isoformat(),
                "from": c.previous.name,
                "to": c.state.name,
                "reason": c.reason,
                "drawdown": c.drawdown,
                "equity": c.equity,
            }
            for c in engine.events.governor_changes
        ],
        assumptions=_assumptions(sims, markets, options, initial_equity),
        engine="event",
        bars=bars,
        elapsed_seconds=elapsed,
    )


def market_series(market: Any) -> MarketSeries:
    """One market's bars as the result shows them (its prices on the run's timeline)."""
    origin = market.origin
    frame = market.frame
    return MarketSeries(
        venue=market.data_venue,
        symbol=market.symbol,
        timeframe=market.timeframe,
        timestamp=frame.timestamp,
        open=frame.open,
        high=frame.high,
        low=frame.low,
        close=frame.close,
        synthetic=bool(getattr(origin, "synthetic", False)),
        origin=origin.describe() if origin is not None else "frame supplied by caller",
    )


def _in_time_order(fills: list[Fill]) -> list[Fill]:
    """Fills by (timestamp, fill id). The engine applies them in time order, so the sort (and
    its key tuples) is needed only when two fills share a millisecond or a liquidation fill
    joins them."""
    previous = None
    for fill in fills:
        at = fill.timestamp
        if previous is not None and at <= previous:
            fills.sort(key=lambda f: (f.timestamp, f.fill_id))
            break
        previous = at
    return fills


def _leg_curve(
    stamps: np.ndarray,
    closes: dict[str, tuple[np.ndarray, np.ndarray]],
    fills: Sequence[Fill],
    funding: Sequence[FundingPayment],
    by_id: dict[str, Order],
    sims: dict[str, Any],
    leg: str,
) -> Callable[[], np.ndarray]:
    """The builder of one leg's equity contribution (from 0), run when first read."""

    def build() -> np.ndarray:
        return _equity(
            stamps,
            closes,
            [f for f in fills if _fill_leg(f, by_id, sims) == leg],
            [p for p in funding if _leg_of_venue(p.venue, sims) == leg],
            0.0,
        )

    return build


def _equity(
    timeline: np.ndarray,
    closes: dict[str, tuple[np.ndarray, np.ndarray]],
    fills: Iterable[Fill],
    funding: Iterable[FundingPayment],
    start: float,
) -> np.ndarray:
    """Cash flows and positions bucketed to the first bar close at or after they happened."""
    return equity_curve(timeline, closes, *_flows(fills, funding), start)


def _flows(
    fills: Iterable[Fill], funding: Iterable[FundingPayment]
) -> tuple[FlowArrays, np.ndarray, np.ndarray]:
    """Fills as :class:`FlowArrays`, and funding as (epoch ms, payment) arrays."""
    fills = fills if isinstance(fills, list) else list(fills)
    funding = funding if isinstance(funding, list) else list(funding)
    n = len(fills)
    codes: dict[str, int] = {}
    return (
        FlowArrays(
            stamps=np.fromiter((to_millis(f.timestamp) for f in fills), np.int64, n),
            market=np.fromiter(
                (codes.setdefault(f.symbol, len(codes)) for f in fills), np.int64, n
            ),
            symbols=tuple(codes),
            signed=np.fromiter((float(f.signed_size) for f in fills), np.float64, n),
            price=np.fromiter((float(f.price) for f in fills), np.float64, n),
            fee=np.fromiter((float(f.fee) for f in fills), np.float64, n),
        ),
        np.fromiter((to_millis(p.timestamp) for p in funding), np.int64, len(funding)),
        np.fromiter((float(p.payment) for p in funding), np.float64, len(funding)),
    )


@dataclass(frozen=True)
class FlowArrays:
    """Fills as arrays: epoch ms, market (an index into ``symbols``), signed size, price and
    fee (floats) per fill."""

    stamps: np.ndarray
    market: np.ndarray
    symbols: tuple[str, ...]
    signed: np.ndarray
    price: np.ndarray
    fee: np.ndarray


def equity_curve(
    timeline: np.ndarray,
    closes: dict[str, tuple[np.ndarray, np.ndarray]],
    fills: FlowArrays,
    payment_stamps: np.ndarray,
    payments: np.ndarray,
    start: float,
) -> np.ndarray:
    """:func:`_equity` from arrays (the fast path hands its fills over without objects)."""
    n = len(timeline)
    equity = np.full(n, start, dtype=np.float64)
    if n == 0:
        return equity
    last = n - 1
    cash = np.zeros(n)
    if len(fills.stamps):
        index = np.minimum(np.searchsorted(timeline, fills.stamps), last)
        signed = fills.signed
        flows = -(signed * fills.price) - fills.fee
        np.add.at(cash, index, flows)
        held = np.empty(n)
        for code, symbol in enumerate(fills.symbols):
            mine = fills.market == code if len(fills.symbols) > 1 else slice(None)
            held.fill(0.0)
            np.add.at(held, index[mine], signed[mine])
            np.cumsum(held, out=held)
            close_times, close = closes[symbol]
            if close_times is timeline or (
                len(close_times) == n and np.array_equal(close_times, timeline)
            ):
                marks = close  # the market's bars are the whole timeline: mark i is close i
            else:
                at = np.searchsorted(close_times, timeline, side="right") - 1
                marks = np.where(at >= 0, close[np.clip(at, 0, None)], 0.0)
            np.multiply(held, marks, out=held)
            equity += held
    if len(payment_stamps):
        index = np.minimum(np.searchsorted(timeline, payment_stamps), last)
        np.add.at(cash, index, -payments)
    np.cumsum(cash, out=cash)
    equity += cash
    return equity


def _leg_of_venue(venue: str, sims: dict[str, Any]) -> str:
    return "hedge" if "." in venue else "main"


def _fill_leg(fill: Fill, by_id: dict[str, Order], sims: dict[str, Any]) -> str:
    """The leg a fill belongs to: its order's, else the venue's."""
    order = by_id.get(fill.client_order_id or "")
    return (order.leg if order is not None and order.leg else None) or _leg_of_venue(
        fill.venue, sims
    )


def _round_trips(
    fills: Sequence[Fill],
    by_id: dict[str, Order],
    sims: dict[str, Any],
    timeline: np.ndarray,
    funding: Sequence[FundingPayment],
) -> list[RoundTrip]:
    """Positions from flat to flat, per strategy leg (a flip closes one and opens the next)."""
    index = _FundingIndex(funding)
    trips: list[RoundTrip] = []
    open_: dict[tuple[str, str, str, str], _Open] = {}
    sizes: dict[tuple[str, str, str, str], Decimal] = {}
    # each fill's bar: the first timeline point at or after it, all in one search
    stamps = np.fromiter((to_millis(f.timestamp) for f in fills), np.int64, len(fills))
    bars = np.searchsorted(timeline, stamps).astype(np.int64).data  # yields Python ints
    del stamps
    buy = Side.BUY
    for fill, bar in zip(fills, bars, strict=True):
        order = by_id.get(fill.client_order_id or "")
        if order is None:
            strategy = "<liquidation>"
            if fill.is_liquidation:
                owners = [
                    k
                    for k, v in sizes.items()
                    if v != 0 and k[2] == fill.venue and k[3] == fill.symbol
                ]
                strategy = owners[0][0] if owners else strategy
            key = (strategy, _leg_of_venue(fill.venue, sims), fill.venue, fill.symbol)
        else:
            key = (
                order.strategy or "<liquidation>",
                order.leg or _leg_of_venue(fill.venue, sims),
                fill.venue,
                fill.symbol,
            )
        size = sizes.get(key, ZERO)
        price = fill.price
        remaining = +fill.size if fill.side is buy else -fill.size  # fill.signed_size
        fee_per_unit = fill.fee / fill.size
        while remaining != 0:
            current = open_.get(key)
            if current is None or size == 0:
                take = abs(remaining)
                open_[key] = _Open(
                    direction="long" if remaining > 0 else "short",
                    size=take,
                    peak=take,
                    entry_time=fill.timestamp,
                    entry_value=take * price,
                    entry_qty=take,
                    fees=take * fee_per_unit,
                    pnl=ZERO,
                    funding=ZERO,
                    entry_bar=bar,
                )
                size += remaining
                remaining = ZERO
                continue
            if (size > 0) == (remaining > 0):
                take = abs(remaining)
                current.size += take
                current.peak = max(current.peak, current.size)
                current.entry_value += take * price
                current.entry_qty += take
                current.fees += take * fee_per_unit
                size += remaining
                remaining = ZERO
                continue
            closing = min(abs(remaining), abs(size))
            entry_price = current.entry_value / current.entry_qty
            sign = 1 if size > 0 else -1
            current.pnl += closing * (price - entry_price) * sign
            current.fees += closing * fee_per_unit
            current.size -= closing
            step = closing if remaining > 0 else -closing
            size += step
            remaining -= step
            if size == 0:
                trips.append(_trip(key, current, fill, bar, order, index))
                del open_[key]
        sizes[key] = size
    last = timeline[-1] if len(timeline) else 0
    for key, current in open_.items():
        trips.append(
            RoundTrip(
                strategy=key[0],
                leg=key[1],
                venue=key[2],
                symbol=key[3],
                direction=current.direction,
                size=current.peak,
                entry_time=current.entry_time,
                entry_price=current.entry_value / current.entry_qty,
                exit_time=None,
                exit_price=None,
                pnl=current.pnl,
                fees=current.fees,
                funding=index.between(key[2], key[3], current.entry_time, from_millis(int(last))),
                bars_held=len(timeline) - 1 - current.entry_bar,
            )
        )
    if any(a.entry_time >= b.entry_time for a, b in itertools.pairwise(trips)):
        # not already in entry order (several legs, or entries in one millisecond)
        trips.sort(key=lambda t: (t.entry_time, t.strategy, t.leg))
    return trips


def _trip(
    key: tuple[str, str, str, str],
    current: _Open,
    fill: Fill,
    bar: int,
    order: Order | None,
    funding: _FundingIndex,
) -> RoundTrip:
    reason = None
    if fill.is_liquidation:
        reason = "liquidation"
    elif order is not None:
        reason = order.annotations.get("reason") or order.reason
    return RoundTrip(
        strategy=key[0],
        leg=key[1],
        venue=key[2],
        symbol=key[3],
        direction=current.direction,
        size=current.peak,
        entry_time=current.entry_time,
        entry_price=current.entry_value / current.entry_qty,
        exit_time=fill.timestamp,
        exit_price=fill.price,
        pnl=current.pnl,
        fees=current.fees,
        funding=funding.between(key[2], key[3], current.entry_time, fill.timestamp),
        bars_held=bar - current.entry_bar,
        exit_reason=reason,
        liquidated=fill.is_liquidation,
    )


class _FundingIndex:
    """Funding paid per venue/market between two times, by binary search (not a scan)."""

    def __init__(self, funding: Sequence[FundingPayment]) -> None:
        grouped: dict[tuple[str, str], list[FundingPayment]] = {}
        for payment in funding:
            grouped.setdefault((payment.venue, payment.symbol), []).append(payment)
        self._index: dict[tuple[str, str], tuple[list[Any], list[Decimal]]] = {}
        for key, payments in grouped.items():
            payments.sort(key=lambda p: p.timestamp)
            running, total = [], ZERO
            for payment in payments:
                total += payment.payment
                running.append(total)
            self._index[key] = ([p.timestamp for p in payments], running)

    def between(self, venue: str, symbol: str, start: Any, end: Any) -> Decimal:
        """Sum of payments with ``start < timestamp <= end``."""
        entry = self._index.get((venue, symbol))
        if entry is None:
            return ZERO
        times, running = entry
        lo = bisect.bisect_right(times, start)
        hi = bisect.bisect_right(times, end)
        if hi <= lo:
            return ZERO
        return running[hi - 1] - (running[lo - 1] if lo else ZERO)


def _assumptions(
    sims: dict[str, Any], markets: Sequence[_Market], options: BacktestOptions, equity: Decimal
) -> dict[str, str]:
    first = next(iter(sims.values()))
    o = first.options
    fill = {"next_open": "at the next bar's open", "close": "at the signal bar's close"}[o.fill_at]
    text = {
        "engine": "event engine (the live engine on a simulated clock and venue)",
        "fill timing": f"signals at bar close; market orders fill {fill}",
        "fees": f"maker {o.maker_fee:%} / taker {o.taker_fee:%} of notional",
        "slippage": f"{o.slippage} {dict(o.slippage_params)}",
        "intrabar path": {
            "ohlc": "open → high → low → close",
            "olhc": "open → low → high → close",
            "nearest": "open → the extreme nearer the open → the other → close",
        }[o.intrabar_path],
        "volume cap": "none"
        if o.volume_share is None
        else f"{o.volume_share:%} of a bar's volume per order",
        "latency": f"{o.latency_ms} ms",
        "accounts": ", ".join(
            f"{name} ({s.options.initial_equity} {s.options.quote})" for name, s in sims.items()
        ),
        "initial equity": f"{equity} (all accounts)",
        "leverage": "applied with set_leverage and read back before trading",
    }
    for market in markets:
        origin = (
            market.origin.describe() if market.origin is not None else "frame supplied by caller"
        )
        text[f"data {market.symbol}"] = origin
    return text
