"""Would the simulated venue have liquidated an account? Checked after the loop, vectorised.

The fast path does not simulate liquidations: it refuses a run in which one would have
happened. Between two changes of an account (a fill or a funding payment) its cash and positions
are constant, so one *segment* covers every bar in between. Events are ordered like the event
engine's bar loop, by key ``(bar open time, lane, phase)``; per bar the venue checks its
liquidation price at the open (the gap, phase 1), along the bar's path (phase 2: the whole
low–high range) and after a fill at the close (phase 3).

* One open position in the account: exact. The venue liquidates a long when a price point falls
  strictly below its liquidation price (a short: rises above), so the segment breaches when the
  lowest low it covers is below that price — the same float comparison the venue makes. The
  liquidation prices are first computed vectorised in float; where that value is within 1e-9
  of the deciding low (or high) it is recomputed with the venue's own ``Decimal`` formula
  (:meth:`Ledger.liquidation_price`), so the comparison is always the venue's.
* Several positions in one cross account: a conservative bound. Each position is valued at its
  worst price over the segment (plus the bar before it, whose close is the mark), minus its
  maintenance margin; if cash plus that sum could go negative the run is refused, even if the
  worst prices of different markets never coincide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
from sparkstacker.errors import ConfigError
from sparkstacker_plugins.exchanges.sim.ledger import Ledger, PositionState

if TYPE_CHECKING:
    from sparkstacker.backtest.fast_lane import Lane

Key = tuple[int, int, float]  # (bar open time ms, lane index, phase)
PHASE_FUNDING = 0.0
PHASE_GAP = 1.0
PHASE_OPEN_FILL = 1.5
PHASE_PATH = 2.0
PHASE_CLOSE_FILL = 3.0
END: Key = (2**62, 0, 0.0)


@dataclass(frozen=True, slots=True)
class Held:
    """One position of an account during a segment, as the venue's ledger holds it."""

    lane: int
    size: Decimal
    entry: Decimal
    mmr: Decimal


@dataclass(slots=True)
class _Segment:
    start: Key
    end: Key
    cash: Decimal
    held: tuple[Held, ...]


@dataclass
class LiquidationWatch:
    """Collects account segments during the loop; :meth:`check` raises on a breach."""

    lanes: list[Lane]
    _open: dict[str, tuple[Key, Decimal, tuple[Held, ...]]] = field(default_factory=dict)
    _single: dict[int, list[_Segment]] = field(default_factory=dict)
    _multi: list[tuple[str, _Segment]] = field(default_factory=list)

    def changed(self, account: str, key: Key, cash: Decimal, held: tuple[Held, ...]) -> None:
        """The account's state changed at ``key``: close its segment and start the next."""
        previous = self._open.get(account)
        if previous is not None:
            self._record(account, _Segment(previous[0], key, previous[1], previous[2]))
        self._open[account] = (key, cash, held)

    def _record(self, account: str, segment: _Segment) -> None:
        if len(segment.held) == 1:
            self._single.setdefault(segment.held[0].lane, []).append(segment)
        elif segment.held:
            self._multi.append((account, segment))

    def check(self) -> None:
        """Close every open segment at the end of the data and raise on a (possible) breach."""
        for account, (key, cash, held) in list(self._open.items()):
            self._record(account, _Segment(key, END, cash, held))
        self._open.clear()
        found: list[tuple[Key, str]] = []
        for lane_index, segments in self._single.items():
            hit = _first_single_breach(self.lanes[lane_index], segments)
            if hit is not None:
                found.append(hit)
        for account, segment in self._multi:
            message = _multi_breach(self.lanes, account, segment)
            if message is not None:
                found.append((segment.start, message))
                break
        if found:
            found.sort(key=lambda item: item[0])
            raise ConfigError(f"{found[0][1]}; run without --fast")


# ---- bar ranges of a segment ----------------------------------------------------------------


def _first_after(
    lane: Lane, phase: float, keys: np.ndarray, lanes: np.ndarray, phases: np.ndarray
) -> np.ndarray:
    """Per key, the first bar of ``lane`` whose ``phase`` point comes after the key."""
    left = np.searchsorted(lane.ts, keys, side="left")
    right = np.searchsorted(lane.ts, keys, side="right")
    later = (lane.index > lanes) | ((lane.index == lanes) & (phase > phases))
    return np.where(later, left, right)


def _count_before(
    lane: Lane, phase: float, keys: np.ndarray, lanes: np.ndarray, phases: np.ndarray
) -> np.ndarray:
    """Per key, how many bars of ``lane`` have their ``phase`` point before the key."""
    left = np.searchsorted(lane.ts, keys, side="left")
    right = np.searchsorted(lane.ts, keys, side="right")
    earlier = (lane.index < lanes) | ((lane.index == lanes) & (phase < phases))
    return np.where(earlier, right, left)


@dataclass(frozen=True)
class _Spans:
    first: np.ndarray  # first bar whose whole range is covered
    last: np.ndarray  # last such bar (first > last: none)
    open_bar: np.ndarray  # a bar whose open (gap check) only is covered, or -1
    close_bar: np.ndarray  # a bar whose close (check after a fill at the close), or -1


def _spans(lane: Lane, starts: list[Key], ends: list[Key]) -> _Spans:
    s_ts = np.array([k[0] for k in starts], dtype=np.int64)
    s_lane = np.array([k[1] for k in starts], dtype=np.int64)
    s_phase = np.array([k[2] for k in starts], dtype=np.float64)
    e_ts = np.array([k[0] for k in ends], dtype=np.int64)
    e_lane = np.array([k[1] for k in ends], dtype=np.int64)
    e_phase = np.array([k[2] for k in ends], dtype=np.float64)
    first = _first_after(lane, PHASE_PATH, s_ts, s_lane, s_phase)
    last = _count_before(lane, PHASE_PATH, e_ts, e_lane, e_phase) - 1
    candidate = last + 1
    gap_after_start = _first_after(lane, PHASE_GAP, s_ts, s_lane, s_phase) <= candidate
    gap_before_end = candidate < _count_before(lane, PHASE_GAP, e_ts, e_lane, e_phase)
    open_bar = np.where((candidate < len(lane)) & gap_after_start & gap_before_end, candidate, -1)
    own_close = (s_lane == lane.index) & (s_phase == PHASE_CLOSE_FILL)
    close_bar = np.where(own_close, np.searchsorted(lane.ts, s_ts, side="left"), -1)
    return _Spans(first, last, open_bar, close_bar)


def _range_extreme(
    values: np.ndarray, first: np.ndarray, last: np.ndarray, low: bool
) -> np.ndarray:
    """min (``low``) or max of ``values[first..last]`` per span; ±inf for empty spans.

    Spans of one lane never overlap and come in time order, so one ``reduceat`` does them all.
    """
    fill = math.inf if low else -math.inf
    out = np.full(len(first), fill)
    present = first <= last
    if not present.any():
        return out
    extended = np.append(values, fill)
    bounds = np.empty(2 * int(present.sum()), dtype=np.int64)
    bounds[0::2] = first[present]
    bounds[1::2] = last[present] + 1
    op = np.minimum if low else np.maximum
    out[present] = op.reduceat(extended, bounds)[0::2]
    return out


def _point(values: np.ndarray, bars: np.ndarray, low: bool) -> np.ndarray:
    fill = math.inf if low else -math.inf
    safe = np.clip(bars, 0, max(len(values) - 1, 0))
    return np.where(bars >= 0, values[safe] if len(values) else fill, fill)


def liquidation_price(held: Held, cash: Decimal) -> float:
    """The venue's liquidation price of the account's only position, as the float it compares
    (±inf when there is none)."""
    ledger = Ledger(cash)
    position = PositionState(symbol="", mmr=held.mmr, size=held.size, entry=held.entry)
    price = ledger.liquidation_price(position, _no_other_marks)
    if price is None:
        return -math.inf if held.size > 0 else math.inf
    return float(price)


def _no_other_marks(symbol: str) -> Decimal:
    raise AssertionError(f"a single-position account needs no other mark ({symbol})")


def _approximate_liquidation(segments: list[_Segment]) -> tuple[np.ndarray, np.ndarray]:
    """(size, liquidation price) per segment in float: ``(s·e − C) / (s − mmr·|s|)``."""
    size = np.array([float(s.held[0].size) for s in segments])
    entry = np.array([float(s.held[0].entry) for s in segments])
    mmr = np.array([float(s.held[0].mmr) for s in segments])
    cash = np.array([float(s.cash) for s in segments])
    with np.errstate(divide="ignore", invalid="ignore"):
        price = (size * entry - cash) / (size - mmr * np.abs(size))
    none = ~(price > 0)
    price[none] = np.where(size[none] > 0, -math.inf, math.inf)
    return size, price


def _first_single_breach(lane: Lane, segments: list[_Segment]) -> tuple[Key, str] | None:
    spans = _spans(lane, [s.start for s in segments], [s.end for s in segments])
    size, liq = _approximate_liquidation(segments)
    long = size > 0
    worst_low = np.minimum.reduce(
        [
            _range_extreme(lane.low, spans.first, spans.last, True),
            _point(lane.open, spans.open_bar, True),
            _point(lane.close, spans.close_bar, True),
        ]
    )
    worst_high = np.maximum.reduce(
        [
            _range_extreme(lane.high, spans.first, spans.last, False),
            _point(lane.open, spans.open_bar, False),
            _point(lane.close, spans.close_bar, False),
        ]
    )
    worst = np.where(long, worst_low, worst_high)
    with np.errstate(invalid="ignore"):
        close = np.abs(worst - liq) <= 1e-9 * np.maximum(np.abs(liq), 1.0)
    for k in np.flatnonzero(close).tolist():  # near the boundary: the venue's exact number
        liq[k] = liquidation_price(segments[k].held[0], segments[k].cash)
    breach = np.where(long, worst_low < liq, worst_high > liq)
    if not breach.any():
        return None
    k = int(np.argmax(breach))
    liq[k] = liquidation_price(segments[k].held[0], segments[k].cash)
    bar = _breach_bar(lane, spans, k, bool(long[k]), float(liq[k]))
    side = "long" if long[k] else "short"
    price = float(lane.low[bar] if long[k] else lane.high[bar])
    from sparkstacker.data.frames import describe_ms

    message = (
        f"strategy {lane.name!r}: the simulated venue would liquidate the {side} {lane.symbol} "
        f"position on bar {bar} ({describe_ms(int(lane.ts[bar]))} UTC: "
        f"{'low' if long[k] else 'high'} {price:g} beyond the liquidation price {liq[k]:.8g}); "
        "the fast path does not simulate liquidations (lower the leverage or the size)"
    )
    return segments[k].start, message


def _breach_bar(lane: Lane, spans: _Spans, k: int, long: bool, liq: float) -> int:
    """The first bar of span ``k`` at which the breach happens."""
    candidates: list[int] = []
    close_bar = int(spans.close_bar[k])
    if close_bar >= 0:
        price = float(lane.close[close_bar])
        if (price < liq) if long else (price > liq):
            return close_bar
    first, last = int(spans.first[k]), int(spans.last[k])
    if first <= last:
        window = lane.low[first : last + 1] if long else lane.high[first : last + 1]
        hits = window < liq if long else window > liq
        if hits.any():
            candidates.append(first + int(np.argmax(hits)))
    open_bar = int(spans.open_bar[k])
    if open_bar >= 0:
        candidates.append(open_bar)
    return min(candidates) if candidates else max(first, 0)


def _multi_breach(lanes: list[Lane], account: str, segment: _Segment) -> str | None:
    """Conservative: cash + Σ worst (uPnL − maintenance) over the segment must stay positive."""
    bound = float(segment.cash)
    scale = abs(bound)
    for held in segment.held:
        lane = lanes[held.lane]
        spans = _spans(lane, [segment.start], [segment.end])
        first = max(int(spans.first[0]) - 1, 0)
        last = int(spans.last[0]) + 1
        if spans.open_bar[0] >= 0:
            last = max(last, int(spans.open_bar[0]))
        last = min(last, len(lane) - 1)
        size, entry, mmr = float(held.size), float(held.entry), float(held.mmr)
        if size > 0:
            worst = float(np.min(lane.low[first : last + 1])) if last >= first else math.inf
        else:
            worst = float(np.max(lane.high[first : last + 1])) if last >= first else -math.inf
        if not math.isfinite(worst):
            continue
        bound += size * (worst - entry) - mmr * abs(size) * worst
        scale += abs(size) * worst
    if bound > 1e-9 * max(scale, 1.0):
        return None
    from sparkstacker.data.frames import describe_ms

    names = ", ".join(repr(lanes[h.lane].name) for h in segment.held)
    return (
        f"account {account!r} holds several positions at once (strategies {names}) and could be "
        f"liquidated after {describe_ms(segment.start[0])} UTC at their worst prices; the fast "
        "path checks shared cross accounts conservatively and does not simulate liquidations "
        "(lower the leverage or the sizes)"
    )
