"""One strategy on its own market, prepared for the fast path: bars, candidate bars, funding.

Everything per bar is computed here once, vectorised: the strategy's entry/exit arrays and
the funding schedule (the first and last interval boundary each bar's open settles). The compiled
kernel reads those arrays directly; for the per-trade loop :meth:`Lane.prepare_loop` turns them
into three sorted lists of *candidate* bars (where a decision can act while flat, long or short)
and the list of bars that settle funding, so that loop jumps from candidate to candidate and
never visits a bar where nothing can happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from sparkstacker.errors import ConfigError
from sparkstacker.lang.plan import BarFrame, PreparedStrategy, StrategyPlan
from sparkstacker.model import Instrument
from sparkstacker.model.timeframe import timeframe_seconds


@dataclass(eq=False)
class Lane:
    """A strategy, its market's bars and the venue/engine state the loop keeps for it."""

    index: int
    plan: StrategyPlan
    market: Any  # the runner's _Market (frame, symbol, timeframe, origin)
    account: str  # the simulated venue instance (one account) it trades on
    instrument: Instrument
    prepared: PreparedStrategy
    step_ms: int
    interval_ms: int  # funding interval
    ts: np.ndarray  # int64 bar open times
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    funding: np.ndarray | None
    enter_long: np.ndarray  # the plan's entry/exit arrays (bool per bar)
    enter_short: np.ndarray
    exit_long: np.ndarray
    exit_short: np.ndarray
    pays_funding: bool  # a rate can apply (a funding column or the venue's constant rate)
    first_boundary: np.ndarray  # per bar: first boundary settled at its open (if pays_funding)
    last_boundary: np.ndarray  # per bar: last boundary settled at its open (if pays_funding)
    # what the per-trade loop reads (built by prepare_loop, only when that loop runs)
    candidates: dict[int, list[int]] = field(default_factory=dict)  # held side → acting bars
    patterns: np.ndarray | None = None  # per bar: which rules hold (a bit each); None: no cache
    funding_bars: list[int] = field(default_factory=list)  # bars whose open settles a boundary
    # loop state
    cursor: tuple[int, int] = (-1, 1)  # last processed (bar, phase 0 = open / 1 = close)
    pending: Any = None  # a market order waiting for the next open (a WorkingOrder)
    pending_bar: int = -1
    funding_paid: int = -(2**62)  # boundaries <= this were paid (or held from before)
    close_fill_bar: int = -1  # bar whose close-fill price is the engine's mark
    close_fill_price: Decimal | None = None

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def symbol(self) -> str:
        return self.plan.symbol

    def __len__(self) -> int:
        return len(self.ts)

    def prepare_loop(self) -> None:
        """Candidate bars per held side, rule patterns and funding bars for the per-trade loop.

        Flat: an entry can act; long: a short entry (flip) or a long exit; short: the mirror.
        """
        if self.candidates:
            return
        self.candidates = {
            0: np.flatnonzero(self.enter_long | self.enter_short).tolist(),
            1: np.flatnonzero(self.enter_short | self.exit_long).tolist(),
            -1: np.flatnonzero(self.enter_long | self.exit_short).tolist(),
        }
        self.patterns = rule_patterns(self.plan, self.prepared)
        if self.pays_funding:
            self.funding_bars = np.flatnonzero(self.last_boundary >= self.first_boundary).tolist()


def build_lane(
    index: int,
    plan: StrategyPlan,
    market: Any,
    instrument: Instrument,
    constant_rate: Decimal | None,
) -> Lane:
    """Evaluate ``plan`` over its market's bars and precompute what the loop needs."""
    frame: BarFrame = market.frame
    step = timeframe_seconds(market.timeframe) * 1000
    ts = np.ascontiguousarray(frame.timestamp, dtype=np.int64)
    if len(ts) > 1 and np.any(np.diff(ts) < step):
        at = int(np.argmax(np.diff(ts) < step)) + 1
        raise ConfigError(
            f"strategy {plan.name!r}: bar {at} of {plan.symbol} starts less than one "
            f"{market.timeframe} after the previous one; the fast path needs regular "
            f"{market.timeframe} bars; run without --fast"
        )
    prepared = plan.prepare(frame)
    if not prepared.state_free:
        raise ConfigError(
            f"strategy {plan.name!r}: fast path cannot simulate conditions that read engine "
            "state (they depend on the simulated position bar by bar); run without --fast"
        )
    long_entry, short_entry = prepared.entries()
    long_exit, short_exit = prepared.exits()
    interval = int(instrument.funding_interval.total_seconds() * 1000)
    funding = (
        np.ascontiguousarray(frame.funding, dtype=np.float64) if frame.funding is not None else None
    )
    pays = constant_rate is not None or (funding is not None and not np.isnan(funding).all())
    if pays:
        _refuse_boundaries_inside_bars(
            plan, market.timeframe, ts, step, interval, funding, constant_rate
        )
        first, last = _boundaries(ts, step, interval)
    else:  # no rate anywhere: no boundary pays anything
        first = last = np.zeros(0, dtype=np.int64)
    return Lane(
        index=index,
        plan=plan,
        market=market,
        account=plan.venue,
        instrument=instrument,
        prepared=prepared,
        step_ms=step,
        interval_ms=interval,
        ts=ts,
        open=np.ascontiguousarray(frame.open, dtype=np.float64),
        high=np.ascontiguousarray(frame.high, dtype=np.float64),
        low=np.ascontiguousarray(frame.low, dtype=np.float64),
        close=np.ascontiguousarray(frame.close, dtype=np.float64),
        volume=np.ascontiguousarray(frame.volume, dtype=np.float64),
        funding=funding,
        enter_long=long_entry,
        enter_short=short_entry,
        exit_long=long_exit,
        exit_short=short_exit,
        pays_funding=pays,
        first_boundary=first,
        last_boundary=last,
    )


def rule_patterns(plan: StrategyPlan, prepared: PreparedStrategy) -> np.ndarray | None:
    """Per bar, a bit per entry/exit rule that holds: equal patterns give equal decisions.

    ``decide`` reads only which rules hold (and, when a rule has one, its confidence), so the
    loop asks it once per pattern. None (decide every time) for confidence expressions or
    plans that do not expose their rules' truth arrays.
    """
    program = getattr(plan, "program", None)
    truth = getattr(prepared, "_truth", None)
    if program is None or truth is None:
        return None
    rules = [*program.entries, *program.exits]
    if len(rules) > 62 or any(rule.confidence is not None for rule in program.entries):
        return None
    key = np.zeros(prepared.length, dtype=np.int64)
    for bit, rule in enumerate(rules):
        key |= np.asarray(truth(rule.condition), dtype=np.int64) << bit
    return key


def _boundaries(ts: np.ndarray, step: int, interval: int) -> tuple[np.ndarray, np.ndarray]:
    """Per bar, the first and last funding boundary its open settles (first > last: none).

    The venue settles a boundary at the first bar open at or after it, unless it falls strictly
    inside a bar: bar ``j`` settles boundaries in ``[end of bar j-1, open of bar j]``.
    """
    low = np.empty_like(ts)
    if len(ts):
        low[0] = ts[0]
        low[1:] = ts[:-1] + step
    first = -(-low // interval) * interval
    last = (ts // interval) * interval
    return first, last


def _refuse_boundaries_inside_bars(
    plan: StrategyPlan,
    timeframe: str,
    ts: np.ndarray,
    step: int,
    interval: int,
    funding: np.ndarray | None,
    constant_rate: Decimal | None,
) -> None:
    """The venue pays a boundary inside a bar at a mark interpolated along it: not simulated."""
    inside = (ts // interval + 1) * interval < ts + step
    if constant_rate is None:
        if funding is None:
            return
        inside &= ~np.isnan(funding)
    if inside.any():
        at = int(np.argmax(inside))
        raise ConfigError(
            f"strategy {plan.name!r}: fast path cannot simulate funding boundaries inside "
            f"{timeframe} bars (bar {at} of {plan.symbol} has a rate and a boundary after its "
            f"open; the venue marks it along the bar); use bars of at most "
            f"{interval // 60_000} minutes or run without --fast"
        )
