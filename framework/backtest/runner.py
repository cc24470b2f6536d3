"""The backtest runner: the live engine driven by a simulated clock over stored bars.

Each venue a rule file names becomes a simulated venue (a second simulated account for a hedge
on the same one-way venue); each market is fed bar by bar in time order at the finest timeframe
any strategy on it uses, and every strategy decides at the close of its own timeframe's bars.
Nothing here decides trades: the engine does, exactly as in a paper or live run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sparkstacker.backtest.collect import collect_result
from sparkstacker.backtest.instruments import simulated_instrument
from sparkstacker.backtest.result import BacktestResult
from sparkstacker.context import RunContext
from sparkstacker.engine.aio import run_coroutine
from sparkstacker.engine.clock import SimulatedClock
from sparkstacker.engine.engine import Engine
from sparkstacker.engine.gc_tuning import GcBatch, batch_gc
from sparkstacker.engine.journaling import EngineJournal
from sparkstacker.engine.setup import (
    DEFAULT_EQUITY,
    base_timeframe,
    create_runtime,
    data_venue,
    hedge_instance,
    initial_equity,
    market_needs,
    sim_options,
    venue_plans,
)
from sparkstacker.engine.slots import StrategySlot
from sparkstacker.errors import ConfigError, DataError
from sparkstacker.exchange import Exchange, VenueEvent
from sparkstacker.lang.plan import BarFrame, CompiledRules, StrategyPlan
from sparkstacker.model import Instrument
from sparkstacker.model.timeframe import timeframe_seconds
from sparkstacker.plugins import make_plugin_manager
from sparkstacker.registry import Registry


@dataclass(frozen=True)
class BacktestOptions:
    """What the command line (or an API caller) may override. ``None`` = the rule file's own
    setting, else the simulated venue's default."""

    data_dir: Path | None = None
    start: datetime | str | None = None
    end: datetime | str | None = None
    initial_equity: Decimal | None = None
    account_equity: Mapping[str, Decimal] = field(default_factory=dict)  # per venue instance
    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None
    slippage: str | None = None
    slippage_params: Mapping[str, Any] | None = None
    fill_at: str | None = None
    intrabar_path: str = "nearest"
    volume_share: Decimal | None = Decimal("0.1")
    latency_ms: int = 0
    frames: Mapping[tuple[str, str, str], BarFrame] = field(default_factory=dict)
    plugins: Sequence[object] = ()
    journal: EngineJournal | None = None
    on_progress: Callable[[int, int], None] | None = None  # (bars done, bars total)
    sample_seed: int | None = None


@dataclass
class _Market:
    """One market fed to the simulated venues: its base frame and the strategies on it."""

    data_venue: str
    symbol: str
    timeframe: str
    frame: BarFrame
    origin: Any
    venues: list[str] = field(default_factory=list)  # simulated venue instances trading it
    # per strategy: its slot, base bar → its bar (None: its bars are the base bars), its frame
    slots: list[tuple[StrategySlot, np.ndarray | None, BarFrame]] = field(default_factory=list)


def run_backtest(
    compiled: CompiledRules,
    registry: Registry,
    options: BacktestOptions | None = None,
) -> BacktestResult:
    """Run compiled rules through the event engine over stored (or sample) data."""
    return run_coroutine(BacktestRunner(compiled, registry, options or BacktestOptions()).run())


class BacktestRunner:
    def __init__(self, compiled: CompiledRules, registry: Registry, options: BacktestOptions):
        if not compiled.strategies:
            raise ConfigError("the rule files define no strategy to backtest")
        self.compiled = compiled
        self.registry = registry
        self.options = options
        self.run_id = f"bt-{uuid.uuid4().hex[:10]}"
        self.clock = SimulatedClock()
        self.markets: dict[tuple[str, str], _Market] = {}
        self.sims: dict[str, Any] = {}
        self.initial_equity = DEFAULT_EQUITY

    # ---- set-up -------------------------------------------------------------------------------

    def _load(self, data_venue: str, symbol: str, timeframe: str) -> tuple[BarFrame, Any]:
        injected = self.options.frames.get((data_venue, symbol, timeframe))
        if injected is not None:
            return injected, None
        from sparkstacker.config import load_settings
        from sparkstacker.data.source import load_frame
        from sparkstacker.data.store import CandleStore

        root = self.options.data_dir or load_settings().data_dir
        kwargs: dict[str, Any] = {}
        if self.options.sample_seed is not None:
            kwargs["seed"] = self.options.sample_seed
        return load_frame(
            CandleStore(root),
            data_venue,
            symbol,
            timeframe,
            self.options.start,
            self.options.end,
            **kwargs,
        )

    def _sim_options(self, instance: str, plans: list[StrategyPlan]) -> Any:
        o = self.options
        return sim_options(
            instance,
            plans,
            equity=o.account_equity.get(instance, self.initial_equity),
            overrides={
                "maker_fee": o.maker_fee,
                "taker_fee": o.taker_fee,
                "slippage": o.slippage,
                "slippage_params": o.slippage_params,
                "fill_at": o.fill_at,
                "intrabar_path": o.intrabar_path,
                "volume_share": o.volume_share,
                "latency_ms": o.latency_ms,
            },
        )

    def _build(self) -> None:
        plans = list(self.compiled.strategies)
        self.initial_equity = initial_equity(plans, self.options.initial_equity)
        by_venue = venue_plans(plans)
        needs = market_needs(plans)
        from sparkstacker_plugins.exchanges.sim.exchange import SimExchange

        for instance, instance_plans in by_venue.items():
            self.sims[instance] = SimExchange(
                instance, self._sim_options(instance, instance_plans), registry=self.registry
            )
        for (instance, symbol), timeframes in needs.items():
            source = data_venue(instance)
            base = base_timeframe(timeframes)
            key = (source, symbol)
            market = self.markets.get(key)
            if market is None:
                frame, origin = self._load(source, symbol, base)
                if len(frame) == 0:
                    raise DataError(f"no bars for {symbol} on {source}")
                market = self.markets[key] = _Market(source, symbol, base, frame, origin)
            elif timeframe_seconds(base) < timeframe_seconds(market.timeframe):
                raise ConfigError(
                    f"{symbol}: a hedge and a strategy need different base timeframes "
                    f"({base} vs {market.timeframe}); use one timeframe per market"
                )
            market.venues.append(instance)
            instrument = self._instrument(instance, symbol, market.frame)
            self.sims[instance].add_market(instrument, timeframe=market.timeframe)

    def _instrument(self, venue: str, symbol: str, frame: BarFrame) -> Instrument:
        reference = float(frame.close[0]) if len(frame) else float("nan")
        return simulated_instrument(venue, symbol, reference)

    def _attach(self, engine: Engine) -> None:
        for plan in self.compiled.strategies:
            runtime = create_runtime(self.registry, plan)
            hedge_venue = hedge_instance(plan) if plan.hedge is not None else None
            slot = engine.add_strategy(plan, runtime, hedge_venue=hedge_venue)
            market = self.markets[(data_venue(plan.venue), plan.symbol)]
            align: np.ndarray | None = None  # the market's own bars (no million-entry map)
            if plan.timeframe == market.timeframe:
                frame = market.frame
            else:
                frame, _ = self._load(market.data_venue, plan.symbol, plan.timeframe)
                align = close_alignment(market.frame, market.timeframe, frame, plan.timeframe)
            attach = getattr(runtime, "attach_frame", None)
            if attach is not None:
                attach(frame)
            market.slots.append((slot, align, frame))

    # ---- the run ------------------------------------------------------------------------------

    async def run(self) -> BacktestResult:
        started = time.perf_counter()
        self._build()
        journal = self.options.journal
        if isinstance(journal, RunJournal):
            # The journal names the run: every row the engine writes refers to it.
            self.run_id = journal.start_run("backtest", self._rule_paths(), self._run_config())
            try:
                result = await self._run(started)
            except BaseException as exc:
                journal.end_run(self.run_id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
                raise
            journal.end_run(self.run_id, "completed", _summary(result))
            return result
        return await self._run(started)

    def _rule_paths(self) -> list[Path]:
        """The rule files on disk (inline rule text and bundle references have no file)."""
        return [Path(f) for f in self.compiled.files if Path(f).is_file()]

    def _run_config(self) -> dict[str, Any]:
        o = self.options
        return {
            "strategies": [p.name for p in self.compiled.strategies],
            "rule_files": list(self.compiled.files),
            "start": str(o.start) if o.start is not None else None,
            "end": str(o.end) if o.end is not None else None,
            "data_dir": str(o.data_dir) if o.data_dir is not None else None,
            "initial_equity": str(o.initial_equity) if o.initial_equity is not None else None,
        }

    async def _run(self, started: float) -> BacktestResult:
        pm = make_plugin_manager(plugins=self.options.plugins)
        run = RunContext(
            run_id=self.run_id,
            mode="backtest",
            registry=self.registry,
            strategies=tuple(p.name for p in self.compiled.strategies),
        )
        venues: dict[str, Exchange] = dict(self.sims)
        engine = Engine(
            run=run,
            pm=pm,
            venues=venues,
            clock=self.clock,
            journal=self.options.journal,
            portfolio=self.compiled.portfolio,
        )
        self._attach(engine)
        first_ts = min(int(m.frame.timestamp[0]) for m in self.markets.values())
        self.clock.set_ms(first_ts)
        await engine.start()
        with batch_gc() as collector:
            bars = await self._loop(engine, collector)
            await engine.stop()
            self._detach_frames()
            return collect_result(
                run_id=self.run_id,
                compiled=self.compiled,
                engine=engine,
                sims=self.sims,
                markets=list(self.markets.values()),
                initial_equity=sum(
                    (s.options.initial_equity for s in self.sims.values()), Decimal(0)
                ),
                options=self.options,
                bars=bars,
                elapsed=time.perf_counter() - started,
            )

    def _detach_frames(self) -> None:
        """The strategies' whole-frame series are not part of the result: free them first."""
        for market in self.markets.values():
            for slot, _align, _frame in market.slots:
                detach = getattr(slot.runtime, "detach_frame", None)
                if detach is not None:
                    detach()

    async def _loop(self, engine: Engine, collector: GcBatch) -> int:
        markets = list(self.markets.values())
        if len(markets) == 1:
            return await self._loop_one(engine, markets[0], collector.step)
        return await self._loop_many(engine, markets, collector.step)

    async def _loop_one(self, engine: Engine, market: _Market, gc_step: Callable[[], None]) -> int:
        """The common case, kept tight: one market, bars in order."""
        frame = market.frame
        step = timeframe_seconds(market.timeframe) * 1000
        # memoryviews index as Python numbers without materialising million-element lists
        ts_list = _view(frame.timestamp, np.int64)
        o_l, h_l, l_l, c_l, v_l = (
            _view(frame.open),
            _view(frame.high),
            _view(frame.low),
            _view(frame.close),
            _view(frame.volume),
        )
        funding = _view(frame.funding) if frame.funding is not None else None
        sims = [(self.sims[name], name) for name in market.venues]
        symbol = market.symbol
        plans = _slot_plans(market)
        clock = self.clock
        handle = engine.handle_events
        set_mark = engine.accounting.set_mark_float
        tick = self.options.on_progress
        total = len(ts_list)
        needs_clock = engine.governor is not None or bool(engine.hedges.groups)
        on_clock = engine.on_clock
        # One simulated venue that can take a quiet bar in one call (most bars touch nothing).
        quiet = getattr(sims[0][0], "on_bar_quiet", None) if len(sims) == 1 else None
        venues = market.venues
        runs = None if needs_clock else _QuietRuns.of(market, sims, step, engine)
        i = -1
        while i + 1 < total:
            i += 1
            if runs is not None:
                stop = runs.until(i)
                taken = runs.take(i, stop) if stop > i + 1 else 0
                if taken:
                    # Bars i..i+taken-1 touch nothing and no strategy acts on them: the venue
                    # took them at once; leave the clock and marks as the last one leaves them.
                    stop = i + taken
                    last = stop - 1
                    if tick is not None:
                        for k in range((i + 4095) & ~4095, stop, 4096):
                            tick(k, total)
                    clock.set_ms(ts_list[last] + step)
                    for sim_name in venues:
                        set_mark(sim_name, symbol, c_l[last])
                    runs.seen(last, c_l[last])
                    i = last
                    continue
            if tick is not None and not i & 4095:
                tick(i, total)
            ts = ts_list[i]
            o, h, lo, c, v = o_l[i], h_l[i], l_l[i], c_l[i], v_l[i]
            rate = funding[i] if funding is not None else None
            if rate is not None and rate != rate:
                rate = None
            clock.set_ms(ts)
            if quiet is None or not quiet(symbol, ts, o, h, lo, c, v, rate):
                for sim, _ in sims:
                    events = sim.on_bar_open(symbol, ts, o, h, lo, c, v, rate)
                    if events:
                        await handle(events)
                for sim, _ in sims:
                    events = sim.on_bar_close(symbol)
                    if events:
                        await handle(events)
            clock.set_ms(ts + step)
            for sim_name in venues:
                set_mark(sim_name, symbol, c)
            if needs_clock:
                await on_clock()
            for slot, align, active, monitor, sframe in plans:
                j = i if align is None else align[i]
                if j < 0:
                    continue
                if active is not None and not active[j] and not (monitor and slot.leg.size):
                    continue
                bar = (o, h, lo, c, v) if j == i and sframe is frame else _bar_at(sframe, j)
                await engine.on_bar_close(slot, j, ts + step, bar)
            gc_step()
        if tick is not None:
            tick(total, total)
        return total

    async def _loop_many(
        self, engine: Engine, markets: list[_Market], gc_step: Callable[[], None]
    ) -> int:
        """Several markets: merge their bars by time (ties keep the market order)."""
        stamps = np.concatenate([m.frame.timestamp for m in markets])
        owner = np.concatenate([np.full(len(m.frame), k) for k, m in enumerate(markets)])
        index = np.concatenate([np.arange(len(m.frame)) for m in markets])
        order = np.lexsort((owner, stamps))
        steps = [timeframe_seconds(m.timeframe) * 1000 for m in markets]
        plans = [_slot_plans(m) for m in markets]
        sims = [[self.sims[name] for name in m.venues] for m in markets]
        tick = self.options.on_progress
        total = len(order)
        for step_no, k_i in enumerate(order.tolist()):
            if tick is not None and not step_no & 4095:
                tick(step_no, total)
            k = int(owner[k_i])
            i = int(index[k_i])
            market = markets[k]
            frame = market.frame
            ts = int(frame.timestamp[i])
            o, h, lo, c, v = (
                float(frame.open[i]),
                float(frame.high[i]),
                float(frame.low[i]),
                float(frame.close[i]),
                float(frame.volume[i]),
            )
            rate = None
            if frame.funding is not None:
                value = float(frame.funding[i])
                rate = value if value == value else None
            self.clock.set_ms(max(ts, self.clock.now_ms()))
            events: list[VenueEvent] = []
            for sim in sims[k]:
                events.extend(sim.on_bar_open(market.symbol, ts, o, h, lo, c, v, rate))
            if events:
                await engine.handle_events(events)
            events = []
            for sim in sims[k]:
                events.extend(sim.on_bar_close(market.symbol))
            if events:
                await engine.handle_events(events)
            self.clock.set_ms(max(ts + steps[k], self.clock.now_ms()))
            for name in market.venues:
                engine.accounting.set_mark_float(name, market.symbol, c)
            if engine.governor is not None or engine.hedges.groups:
                await engine.on_clock()
            for slot, align, active, monitor, sframe in plans[k]:
                j = i if align is None else align[i]
                if j < 0:
                    continue
                if active is not None and not active[j] and not (monitor and slot.leg.size):
                    continue
                bar = (o, h, lo, c, v) if sframe is frame else _bar_at(sframe, j)
                await engine.on_bar_close(slot, j, ts + steps[k], bar)
            gc_step()
        if tick is not None:
            tick(total, total)
        return total


@runtime_checkable
class RunJournal(Protocol):
    """A journal that opens and closes runs (``sparkstacker.journal.Journal``)."""

    def start_run(
        self, mode: str, rule_files: Sequence[Path], config: Mapping[str, Any]
    ) -> str: ...
    def end_run(self, run_id: str, status: str, summary: Mapping[str, Any]) -> None: ...


def _summary(result: BacktestResult) -> dict[str, Any]:
    """What the journal's ``runs.summary`` keeps of a finished backtest."""
    return {
        "bars": result.bars,
        "fills": len(result.fills),
        "orders": len(result.orders),
        "trades": len(result.trades),
        "initial_equity": str(result.initial_equity),
        "final_equity": repr(result.final_equity),
        "risk_events": len(result.risk_events),
        "governor_actions": len(result.governor_actions),
        "liquidations": result.liquidations,
    }


class _QuietRuns:
    """Runs of bars one simulated venue may take at once (``on_quiet_bars``): the bars between
    two bars on which some strategy may act, while no strategy's position is watched bar by
    bar. Whether a run is quiet is the venue's call; this only says where runs may end."""

    def __init__(
        self,
        take: Any,
        series: Any,
        symbol: str,
        visits: memoryview,
        watched: list[StrategySlot],
        passive: list[StrategySlot],
        total: int,
    ) -> None:
        self._take = take
        self._series = series
        self._symbol = symbol
        self._visits = visits
        self._watched = watched
        self._passive = passive
        self._total = total
        self._next = 0  # index into visits of the first visit not before the current bar

    @classmethod
    def of(
        cls, market: _Market, sims: list[tuple[Any, str]], step: int, engine: Engine
    ) -> _QuietRuns | None:
        take = getattr(sims[0][0], "on_quiet_bars", None) if len(sims) == 1 else None
        if take is None:
            return None
        total = len(market.frame)
        visit = np.zeros(total, dtype=bool)
        watched = []  # positions the monitor checks bar by bar: no runs while one is held
        passive = []  # visited while in a position, but the monitor has nothing to do there
        for slot, align, sframe in market.slots:
            active_fn = getattr(slot.runtime, "active_bars", None)
            active = active_fn() if active_fn is not None else None
            if align is None:  # the market's own bars
                visit |= True if active is None else np.asarray(active, dtype=bool)
            elif active is None:
                visit |= align >= 0  # acts on any of its bars
            else:
                aligned = align >= 0
                visit[aligned] |= np.asarray(active, dtype=bool)[align[aligned]]
            if not _monitored(slot):
                continue
            if (
                slot.plan.risk.margin_warnings
                or engine.monitor.watches(slot)
                or sframe is not market.frame
            ):
                watched.append(slot)
            else:
                # stop-loss / take-profit resting on the venue: a visit only notes the bar
                passive.append(slot)
        if visit.all():
            return None
        from sparkstacker_plugins.exchanges.sim.quiet import BarSeries

        frame = market.frame
        series = BarSeries.of(
            step,
            frame.timestamp,
            frame.open,
            frame.high,
            frame.low,
            frame.close,
            frame.volume,
            frame.funding,
        )
        visits = np.flatnonzero(visit).astype(np.int64).data
        return cls(take, series, market.symbol, visits, watched, passive, total)

    def until(self, i: int) -> int:
        """The first bar at or after ``i`` some strategy may act on (or the end)."""
        visits = self._visits
        k = self._next
        n = len(visits)
        while k < n and visits[k] < i:
            k += 1
        self._next = k
        if any(slot.leg.size for slot in self._watched):
            return i  # a watched position: every bar goes to its strategy
        found: int = visits[k] if k < n else self._total
        return found

    def seen(self, last: int, close: float) -> None:
        """After a run ending at bar ``last``: what the skipped visits of positions the monitor
        had nothing to do for would have noted (``Engine.on_bar_close``)."""
        for slot in self._passive:
            if slot.leg.size:
                slot.bar_index = last
                slot.last_close = close

    def take(self, start: int, stop: int) -> int:
        """How many bars from ``start`` the venue took at once (0: feed bar ``start``)."""
        taken: int = self._take(self._symbol, self._series, start, stop)
        return taken


def _monitored(slot: StrategySlot) -> bool:
    """Does the position monitor look at this strategy's position on every bar?"""
    risk = slot.plan.risk
    return bool(
        risk.max_duration is not None
        or risk.max_duration_bars is not None
        or risk.trailing_stop is not None
        or risk.stop_loss is not None
        or risk.take_profit is not None
        or bool(risk.margin_warnings)
    )


def close_alignment(base: BarFrame, base_tf: str, frame: BarFrame, timeframe: str) -> np.ndarray:
    """For each base bar, the index of the ``timeframe`` bar that closes with it (or -1).

    A higher-timeframe bar is decided on only when its last base bar has closed, so a strategy
    never sees a bar before it is complete.
    """
    base_close = base.timestamp.astype(np.int64) + timeframe_seconds(base_tf) * 1000
    closes = frame.timestamp.astype(np.int64) + timeframe_seconds(timeframe) * 1000
    position = np.searchsorted(closes, base_close)
    align = np.full(len(base_close), -1, dtype=np.int64)
    found = position < len(closes)
    hit = found.copy()
    hit[found] = closes[position[found]] == base_close[found]
    align[hit] = position[hit]
    return align


def _slot_plans(
    market: _Market,
) -> list[tuple[StrategySlot, memoryview | None, memoryview | None, bool, BarFrame]]:
    """Per strategy on this market: the base-bar → strategy-bar map (None: the same bars) and
    the bars it can act on, as memoryviews (they index as Python ints/bools; numpy scalars
    cost more than the work)."""
    plans = []
    for slot, align, frame in market.slots:
        active_fn = getattr(slot.runtime, "active_bars", None)
        active = active_fn() if active_fn is not None else None
        monitor = _monitored(slot)
        plans.append(
            (
                slot,
                _view(align, np.int64) if align is not None else None,
                _view(active, np.bool_) if active is not None else None,
                monitor,
                frame,
            )
        )
    return plans


def _view(array: np.ndarray, dtype: Any = np.float64) -> memoryview:
    return np.ascontiguousarray(array, dtype=dtype).data


def _bar_at(frame: BarFrame, j: int) -> tuple[float, float, float, float, float]:
    return (
        float(frame.open[j]),
        float(frame.high[j]),
        float(frame.low[j]),
        float(frame.close[j]),
        float(frame.volume[j]),
    )
