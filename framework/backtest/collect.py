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
from dataclasses import dataclass, fields, make_dataclass
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


_Key = tuple[str, str, str, str]  # a position's strategy, leg, venue and symbol
_UNOWNED = "<liquidation>"  # the strategy of a fill no strategy's order made


@dataclass(slots=True)
class _Open:
    """A position of one strategy leg, from its first fill until it is flat again."""

    direction: str
    size: Decimal
    peak: Decimal
    entry_time: Any
    entry_index: int  # of the fill that opened it
    entry_value: Decimal
    entry_qty: Decimal
    fees: Decimal
    pnl: Decimal
    entry_bar: int


@dataclass(slots=True)
class _Holding:
    """One strategy leg's signed position in one market, and its open trip (None when flat)."""

    size: Decimal
    trip: _Open | None


@dataclass(slots=True)
class _Columns:
    """The fills' values the equity curve reads, one item per fill, in fill order."""

    symbol: list[str]
    signed: list[Decimal]
    price: list[Decimal]
    fee: list[Decimal]

    @classmethod
    def of(cls, fills: Sequence[Fill]) -> _Columns:
        return cls(
            symbol=[f.symbol for f in fills],
            signed=[f.signed_size for f in fills],
            price=[f.price for f in fills],
            fee=[f.fee for f in fills],
        )


@dataclass(slots=True)
class _Walk:
    """What one pass over the fills yields: the round trips, the columns the equity curve
    reads and the legs that traded."""

    trips: list[RoundTrip]
    columns: _Columns
    legs: set[str]


# RoundTrip's fields and slots, unfrozen: see _round_trip
_RoundTripDraft = make_dataclass(
    "_RoundTripDraft", [(f.name, f.type) for f in fields(RoundTrip)], slots=True
)


def _round_trip(*values: Any) -> RoundTrip:
    """``RoundTrip(*values)`` (every field, in order) for values this module computed.

    A frozen dataclass sets each field through ``object.__setattr__`` (~3 µs for a round trip,
    a quarter of a second for 80k trips); this stores them on an unfrozen draft with the same
    slots and then makes the draft a ``RoundTrip``. The result is a ``RoundTrip`` like any
    other (same class, slots and values; frozen). Neither way converts or checks a value."""
    trip = _RoundTripDraft(*values)
    trip.__class__ = RoundTrip
    return trip


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
    fills, millis = _in_time_order(
        list(engine.orders.fills) + list(engine.events.liquidation_fills)
    )
    stamps, closes = timeline(markets)
    funding = [
        FundingPayment(timestamp=ts, venue=venue, symbol=symbol, rate=rate, payment=payment)
        for ts, venue, symbol, rate, payment in engine.events.funding
    ]
    walk = _walk(fills, millis, by_id, sims, stamps, funding)
    equity = equity_curve(
        stamps,
        closes,
        _fill_arrays(walk.columns, millis),
        *_payment_arrays(funding),
        float(initial_equity),
    )
    venue_equity = sum((s.account_state().equity for s in sims.values()), ZERO)
    if len(equity) and abs(float(venue_equity) - float(equity[-1])) > 1e-6 * max(
        1.0, abs(float(venue_equity))
    ):
        raise SparkStackerError(
            f"equity curve ends at {equity[-1]:.6f} but the simulated accounts hold "
            f"{venue_equity}; the run's accounting is inconsistent"
        )
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
                for leg in sorted(walk.legs | {"main"})
            }
        ),
        trades=walk.trips,
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


def _in_time_order(fills: list[Fill]) -> tuple[list[Fill], np.ndarray]:
    """Fills by (timestamp, fill id), and their times in epoch ms. The engine applies them in
    time order, so the sort (and its key tuples) is needed only when two fills share a
    millisecond or a liquidation fill joins them."""
    millis = _millis(fills)
    # rising milliseconds imply rising timestamps; only ties need the timestamps themselves
    if not _rising(millis) and not _rising_times(fills):
        fills.sort(key=lambda f: (f.timestamp, f.fill_id))
        millis = _millis(fills)
    return fills, millis


def _millis(fills: Sequence[Fill]) -> np.ndarray:
    """Each fill's time in epoch ms (``to_millis``)."""
    return np.fromiter(map(to_millis, [f.timestamp for f in fills]), np.int64, len(fills))


def _rising(values: np.ndarray) -> bool:
    """Whether every value is greater than the one before."""
    return bool(np.all(values[1:] > values[:-1]))


def _rising_times(fills: Sequence[Fill]) -> bool:
    """Whether every fill's timestamp is later than the one before."""
    return all(a.timestamp < b.timestamp for a, b in itertools.pairwise(fills))


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
    return (_fill_arrays(_Columns.of(fills), _millis(fills)), *_payment_arrays(funding))


def _fill_arrays(columns: _Columns, millis: np.ndarray) -> FlowArrays:
    """The fills' columns and times (epoch ms) as :class:`FlowArrays`."""
    names = columns.symbol
    symbols = tuple(dict.fromkeys(names))  # in order of first appearance
    if len(symbols) > 1:
        codes = {symbol: code for code, symbol in enumerate(symbols)}
        market = np.fromiter(map(codes.__getitem__, names), np.int64, len(names))
    else:
        market = np.zeros(len(names), dtype=np.int64)
    return FlowArrays(
        stamps=millis,
        market=market,
        symbols=symbols,
        signed=_floats(columns.signed),
        price=_floats(columns.price),
        fee=_floats(columns.fee),
    )


def _floats(values: Sequence[Decimal]) -> np.ndarray:
    """``float(v)`` for each value, as an array."""
    return np.fromiter(map(float, values), np.float64, len(values))


def _payment_arrays(funding: Iterable[FundingPayment]) -> tuple[np.ndarray, np.ndarray]:
    """Funding as (epoch ms, payment) arrays."""
    funding = funding if isinstance(funding, list) else list(funding)
    return (
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
    return _walk(fills, _millis(fills), by_id, sims, timeline, funding).trips


def _walk(
    fills: Sequence[Fill],
    millis: np.ndarray,
    by_id: dict[str, Order],
    sims: dict[str, Any],
    timeline: np.ndarray,
    funding: Sequence[FundingPayment],
) -> _Walk:
    """:func:`_round_trips` in one pass over the fills (in time order, at ``millis``), which
    also gathers the columns the equity curve reads."""
    index = _FundingIndex(funding)
    trips: list[RoundTrip] = []
    entries: list[int] = []  # the fill that opened each trip, to check their order cheaply
    holdings: dict[_Key, _Holding] = {}  # in order of each key's first fill
    columns = _Columns(symbol=[], signed=[], price=[], fee=[])
    symbols, signed, prices, fees = columns.symbol, columns.signed, columns.price, columns.fee
    # each fill's bar: the first timeline point at or after it, all in one search
    bars = np.searchsorted(timeline, millis).tolist()
    buy = Side.BUY
    for at, (fill, bar) in enumerate(zip(fills, bars, strict=True)):
        order = by_id.get(fill.client_order_id or "")
        if order is None:
            key = _unowned_key(fill, holdings, sims)
        else:
            venue = fill.venue
            leg = order.leg or _leg_of_venue(venue, sims)
            key = (order.strategy or _UNOWNED, leg, venue, fill.symbol)
        holding = holdings.get(key)
        if holding is None:
            holding = holdings[key] = _Holding(size=ZERO, trip=None)
        price, amount, fee = fill.price, fill.size, fill.fee
        remaining = +amount if fill.side is buy else -amount  # fill.signed_size
        symbols.append(key[3])
        signed.append(remaining)
        prices.append(price)
        fees.append(fee)
        fee_per_unit = fee / amount
        size, current = holding.size, holding.trip
        if current is not None and size != 0 and (size > 0) != (remaining > 0):
            # reduce, close or flip: realise PnL on the part that closes
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
                trips.append(_closed(key, current, entry_price, fill, bar, order, index))
                entries.append(current.entry_index)
                current = None
        if remaining != 0:
            take = abs(remaining)
            if current is None or size == 0:
                current = _Open(
                    direction="long" if remaining > 0 else "short",
                    size=take,
                    peak=take,
                    entry_time=fill.timestamp,
                    entry_index=at,
                    entry_value=take * price,
                    entry_qty=take,
                    fees=take * fee_per_unit,
                    pnl=ZERO,
                    entry_bar=bar,
                )
            else:
                current.size += take
                current.peak = max(current.peak, current.size)
                current.entry_value += take * price
                current.entry_qty += take
                current.fees += take * fee_per_unit
            size += remaining
        holding.size, holding.trip = size, current
    _add_still_open(trips, entries, holdings, timeline, index)
    if not _rising(millis[entries]) and not _rising_entries(trips):
        # not already in entry order (several legs, or entries in one millisecond)
        trips.sort(key=lambda t: (t.entry_time, t.strategy, t.leg))
    return _Walk(trips=trips, columns=columns, legs={key[1] for key in holdings})


def _unowned_key(fill: Fill, holdings: dict[_Key, _Holding], sims: dict[str, Any]) -> _Key:
    """The position of a fill no order of the run made: a liquidation's is that of the first
    strategy (by first fill) holding the market, anything else's ``<liquidation>``."""
    strategy = _UNOWNED
    if fill.is_liquidation:
        owners = [
            k
            for k, h in holdings.items()
            if h.size != 0 and k[2] == fill.venue and k[3] == fill.symbol
        ]
        strategy = owners[0][0] if owners else strategy
    return (strategy, _leg_of_venue(fill.venue, sims), fill.venue, fill.symbol)


def _rising_entries(trips: Sequence[RoundTrip]) -> bool:
    """Whether every trip was entered later than the one before."""
    return all(a.entry_time < b.entry_time for a, b in itertools.pairwise(trips))


def _closed(
    key: _Key,
    current: _Open,
    entry_price: Decimal,
    fill: Fill,
    bar: int,
    order: Order | None,
    funding: _FundingIndex,
) -> RoundTrip:
    """The round trip ``fill`` closed (``entry_price``: the position's volume-weighted one)."""
    reason = None
    if fill.is_liquidation:
        reason = "liquidation"
    elif order is not None:
        reason = order.annotations.get("reason") or order.reason
    return _round_trip(
        *key,
        current.direction,
        current.peak,
        current.entry_time,
        entry_price,
        fill.timestamp,  # exit_time
        fill.price,  # exit_price
        current.pnl,
        current.fees,
        funding.between(key[2], key[3], current.entry_time, fill.timestamp),
        bar - current.entry_bar,  # bars_held
        reason,  # exit_reason
        fill.is_liquidation,  # liquidated
    )


def _add_still_open(
    trips: list[RoundTrip],
    entries: list[int],
    holdings: dict[_Key, _Holding],
    timeline: np.ndarray,
    funding: _FundingIndex,
) -> None:
    """Append the trips still open at the end, in the order they opened (funding and bars
    held up to the last bar)."""
    end = from_millis(int(timeline[-1] if len(timeline) else 0))
    still_open = [
        (h.trip.entry_index, k, h.trip) for k, h in holdings.items() if h.trip is not None
    ]
    for _, key, current in sorted(still_open, key=lambda item: item[0]):
        trips.append(
            _round_trip(
                *key,
                current.direction,
                current.peak,
                current.entry_time,
                current.entry_value / current.entry_qty,  # entry_price
                None,  # exit_time
                None,  # exit_price
                current.pnl,
                current.fees,
                funding.between(key[2], key[3], current.entry_time, end),
                len(timeline) - 1 - current.entry_bar,  # bars_held
                None,  # exit_reason
                False,  # liquidated
            )
        )
        entries.append(current.entry_index)


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
