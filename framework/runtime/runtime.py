"""The paper and live runtime: rule files in, an engine trading a venue, until told to stop.

``Runtime(options, rules).run()`` (what ``spark-stacker run`` calls):

1. takes the state folder's lock, compiles the rules, opens the journal (write-ahead, fsynced);
2. builds the venues — durable simulated accounts for paper runs (fed by replayed bars or a live
   venue's candles), the exchange adapters for live runs — and the feed (:mod:`.build`);
3. starts a journal run, the four log files and the metrics endpoint, and the engine with the
   observers registered as plugins (:mod:`.wiring`);
4. warms every strategy up on the bars before the first traded one, starts the engine
   (instruments, verified leverage), and reconciles the journal with the venues
   (:mod:`.recovery`);
5. feeds bars until the replay ends, a signal arrives or ``spark-stacker stop`` asks, checking
   rule files for hot reload between bars (:mod:`.reload`);
6. shuts down gracefully: no new entries, non-protective orders cancelled, positions and their
   stop / target orders left, the journal run ended, logs flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkstacker.config import load_settings
from sparkstacker.context import RunContext
from sparkstacker.engine.clock import Clock, SimulatedClock, WallClock
from sparkstacker.engine.engine import Engine
from sparkstacker.errors import ConfigError, ExchangeError, SparkStackerError
from sparkstacker.exchange import Exchange, VenueEvent
from sparkstacker.journal import Journal
from sparkstacker.plugins import make_plugin_manager
from sparkstacker.registry import Registry
from sparkstacker.risk.governor import GovernorState
from sparkstacker.runtime.bars import Bar
from sparkstacker.runtime.build import build_venues
from sparkstacker.runtime.feeds import CandleFeed, FeedMarket, ReplayFeed
from sparkstacker.runtime.kill_switch import KillSwitch, leave_protected
from sparkstacker.runtime.latency import LatencyProbe, TimedVenue
from sparkstacker.runtime.live_events import LiveEvents
from sparkstacker.runtime.options import RunOptions
from sparkstacker.runtime.paper_venue import PaperVenue
from sparkstacker.runtime.recovery import Reconciler, ReconcileReport
from sparkstacker.runtime.reload import Reloader
from sparkstacker.runtime.reporting import (
    QuietReporter,
    Reporter,
    governor_state,
    run_summary,
    start_lines,
    status_dict,
    summary_lines,
)
from sparkstacker.runtime.rules import RuleSet, compile_paths, load_rules
from sparkstacker.runtime.state import StateDir
from sparkstacker.runtime.strategy_feeds import StrategyFeeds
from sparkstacker.runtime.wiring import Observers, account_list

log = logging.getLogger("sparkstacker.runtime")


@dataclass
class RunResult:
    run_id: str
    status: str  # completed | stopped | failed | aborted
    summary: dict[str, Any] = field(default_factory=dict)


def load_plugin_modules(names: Sequence[str]) -> list[object]:
    """``--plugin module`` imports: local plugins registered without packaging them."""
    modules: list[object] = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            raise ConfigError(f"--plugin {name!r} cannot be imported: {exc}") from exc
    return modules


class Runtime:
    def __init__(
        self,
        options: RunOptions,
        rules: Sequence[str] = (),
        *,
        reporter: Reporter | None = None,
        registry: Registry | None = None,
        latency_sink: Callable[[float, str], None] | None = None,
        bar_latency_sink: Callable[[float, str], None] | None = None,
    ) -> None:
        self.options = options
        self.rule_refs = tuple(rules)
        self.reporter: Reporter = reporter or QuietReporter()
        self.latency_sink = latency_sink  # an extra observer of order latency (benchmarks)
        self.bar_latency_sink = bar_latency_sink  # the same from the bar's start (venues in)
        self.settings = load_settings()
        self.state = StateDir(options.state_dir or self.settings.state_dir)
        if registry is None:
            registry = Registry(make_plugin_manager(plugins=load_plugin_modules(options.plugins)))
        self.registry = registry
        self.stop_event = asyncio.Event()
        self.stop_reason = ""
        self.flatten_requested = False
        self.engine_lock = asyncio.Lock()  # venue pushes and the bar loop take turns
        self.started_wall = time.monotonic()
        self._signals = 0
        self._task: asyncio.Task[Any] | None = None
        # Built by run():
        self.rules: RuleSet | None = None
        self.journal: Journal | None = None
        self.engine: Engine | None = None
        self.observers: Observers | None = None
        self.paper: dict[str, PaperVenue] = {}
        self.venues: dict[str, Exchange] = {}
        self.markets: list[FeedMarket] = []
        self.feed: ReplayFeed | CandleFeed | None = None
        self.strategies: StrategyFeeds | None = None
        self.reloader: Reloader | None = None
        self.reconciler: Reconciler | None = None
        self.reconcile_report: ReconcileReport | None = None
        self.kill_switch: KillSwitch | None = None
        self.live: LiveEvents | None = None
        self.run_id = ""
        self.bars = 0
        self.notes: list[str] = []
        self.pending_funding: list[VenueEvent] = []

    @property
    def last_bar_ms(self) -> int | None:
        return self.strategies.last_bar_ms if self.strategies is not None else None

    def account_ids(self) -> dict[str, str]:
        return {name: v.account_id for name, v in self.paper.items()} or {"live": "live"}

    # ---- control ------------------------------------------------------------------------------

    def request_stop(self, reason: str, *, flatten: bool = False) -> None:
        """Stop at the next bar boundary (``flatten``: close every position first)."""
        self.stop_reason = self.stop_reason or reason
        if (flatten or self.options.flatten_on_stop) and not self.flatten_requested:
            self.flatten_requested = True  # the kill switch stops the run once flat
            return
        if not self.stop_event.is_set():
            log.info("stopping: %s", reason)
            self.stop_event.set()

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals == 1:
            self.reporter.note(f"{name}: stopping gracefully (send it again to abort)")
            self.request_stop(f"signal {name}")
        elif self._task is not None:
            self._task.cancel()

    def _signals_on(self, install: bool) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                if install:
                    loop.add_signal_handler(signum, self._on_signal, signum)
                else:
                    loop.remove_signal_handler(signum)

    # ---- the run ------------------------------------------------------------------------------

    async def run(self) -> RunResult:
        self._task = asyncio.current_task()
        lock = self.state.acquire()
        try:
            self.rules = load_rules(self.rule_refs, self.registry)
            plans = list(self.rules.compiled.strategies)
            try:
                await build_venues(self, plans)
                # The intent log keeps the order request's wait to one small fsync (SQLite).
                self.journal = Journal(
                    self.options.db or self.settings.db, durability="full", intent_log=True
                )
                return await self._trade(plans)
            finally:
                for venue in self.paper.values():
                    with contextlib.suppress(OSError):
                        venue.log.close()
                if self.journal is not None:
                    self.journal.close()
        finally:
            lock.close()

    def _run_config(self, plans: list[Any]) -> dict[str, Any]:
        opts = self.options
        refs = self.rules.refs if self.rules else ()
        return {
            "mode": opts.mode,
            "feed": opts.feed if opts.mode == "paper" else "venue",
            "speed": opts.speed,
            "rules": [str(Path(r).resolve()) if Path(r).is_file() else r for r in refs],
            "data_dir": str(Path(opts.data_dir).resolve()) if opts.data_dir else None,
            "strategies": [p.name for p in plans],
            "paper_accounts": {name: v.account_id for name, v in self.paper.items()},
            "venues": sorted(self.venues),
            "data": {m.symbol: m.label for m in self.markets},
            "pid": os.getpid(),
            "state_dir": str(self.state.root),
        }

    def _owns(self, configs: dict[str, dict[str, Any]]) -> Callable[[str, str], bool]:
        """Which runs' orders and fills belong to the accounts this run trades."""
        if self.options.mode == "live":
            return lambda run_id, venue: run_id in configs
        accounts = {name: v.account_id for name, v in self.paper.items()}

        def owns(run_id: str, venue: str) -> bool:
            config = configs.get(run_id) or {}
            return bool((config.get("paper_accounts") or {}).get(venue) == accounts.get(venue))

        return owns

    async def _trade(self, plans: list[Any]) -> RunResult:
        opts = self.options
        journal, rules = self.journal, self.rules
        assert journal is not None
        assert rules is not None
        self.run_id = journal.start_run(opts.mode, list(rules.paths), self._run_config(plans))
        observers = self.observers = Observers.open(
            run_id=self.run_id,
            journal=journal,
            log_dir=opts.log_dir,
            log_format=opts.log_format,
            log_level=opts.log_level,
            metrics_on=opts.metrics,
            metrics_host=opts.metrics_host,
            metrics_port=opts.metrics_port,
            balance_interval_ms=opts.balance_interval_ms,
        )
        status = "failed"
        try:
            probe = await self._start(plans, observers)
            status = await self._loop(probe)
        except asyncio.CancelledError:
            status = "aborted"
            raise
        finally:
            await self._shutdown(status)
        return RunResult(self.run_id, status, run_summary(self, status))

    async def _start(self, plans: list[Any], observers: Observers) -> LatencyProbe:
        """Engine, strategies, warm-up, venues connected, recovery, then the summary."""
        opts = self.options
        journal, rules, feed = self.journal, self.rules, self.feed
        assert journal is not None
        assert rules is not None
        assert feed is not None
        pm = self.registry.pm
        for name, plugin in observers.plugins():
            pm.register(plugin, name=name)
        probe = LatencyProbe(sink=self._latency(observers), bar_sink=self.bar_latency_sink)
        timed: dict[str, Exchange] = {n: TimedVenue(v, probe) for n, v in self.venues.items()}
        clock: Clock = SimulatedClock() if opts.replay else WallClock()
        run = RunContext(
            run_id=self.run_id,
            mode=opts.mode,
            registry=self.registry,
            strategies=tuple(p.name for p in plans),
            log_dir=observers.files.log_dir,
            extras={"venues": timed, "paper": self.paper, "state_dir": self.state.root},
        )
        engine = self.engine = Engine(
            run=run,
            pm=pm,
            venues=timed,
            clock=clock,
            journal=journal,
            portfolio=rules.compiled.portfolio,
        )
        run.extras["engine"] = engine
        self.strategies = StrategyFeeds(self.markets)
        self.strategies.attach(engine, self.registry, plans)
        if isinstance(clock, SimulatedClock):
            clock.set_ms(max(0, min(m.start_ms for m in self.markets)))
        self.strategies.warm_up(engine, feed, opts.warmup_factor)
        await engine.start()
        configs = {r.id: r.config for r in journal.runs(mode=opts.mode)}
        self.reconciler = Reconciler(
            engine, journal, mode=opts.mode, owns=self._owns(configs), on_drift=observers.drift
        )
        self.reconcile_report = await self.reconciler.start()
        if self.pending_funding:
            await engine.handle_events(self.pending_funding)
        accounts = [await v.account() for v in self.venues.values()]
        engine.accounting.reanchor(accounts)
        engine.monitor.liquidation.note_accounts(accounts)
        observers.accounts(accounts, engine.clock.now_ms(), force=True)
        self._restore_governor()
        self.kill_switch = KillSwitch(engine)
        # the governor gauge, positions and liquidation distances from the start, not the first bar
        observers.engine_state(engine, engine.clock.now_ms() / 1000, governor=governor_state(self))
        if opts.mode == "live":
            self.live = LiveEvents(self)
            self.live.subscribe()
        self._start_reload()
        lines = start_lines(self)
        self.reporter.summary("Spark Stacker run", lines)
        for line in lines:
            log.info("%s", line)
        self._write_status("running")
        self._signals_on(True)
        return probe

    def _latency(self, observers: Observers) -> Callable[[float, str], None]:
        extra = self.latency_sink
        if extra is None:
            return observers.latency

        def both(seconds: float, venue: str) -> None:
            observers.latency(seconds, venue)
            extra(seconds, venue)

        return both

    def _restore_governor(self) -> None:
        """Drawdown is measured from the peak across restarts of the same accounts."""
        engine = self.engine
        assert engine is not None
        previous = self.state.read_status() or {}
        saved = previous.get("governor_state")
        if engine.governor is None or not isinstance(saved, dict):
            return
        if (
            previous.get("accounts") != self.account_ids()
            or previous.get("mode") != self.options.mode
        ):
            return
        governor = engine.governor
        governor.peak = float(saved.get("peak", governor.peak))
        governor.day_start_equity = float(saved.get("day_start_equity", 0.0))
        governor.next_reset_ms = int(saved.get("next_reset_ms", -1))
        manual = saved.get("manual")
        if manual:
            governor.force(GovernorState[manual])

    def _start_reload(self) -> None:
        if not self.options.reload or self.rules is None:
            return
        rules, engine, feed, strategies = self.rules, self.engine, self.feed, self.strategies
        assert engine is not None
        assert feed is not None
        assert strategies is not None
        watched = list(rules.paths) + [
            Path(f) for f in rules.compiled.files if ":" not in f and Path(f).is_file()
        ]
        self.reloader = Reloader(
            engine,
            self.registry,
            watched,
            lambda: compile_paths(rules.paths, self.registry),
            lambda slot, count: strategies.history(feed, slot, count),
            interval=self.options.reload_interval,
            warmup_factor=self.options.warmup_factor,
        )

    # ---- the loop -----------------------------------------------------------------------------

    async def _loop(self, probe: LatencyProbe) -> str:
        feed = self.feed
        assert feed is not None
        next_status = time.monotonic() + self.options.status_interval
        async for item in feed.bars(self.stop_event):
            if item is not None:
                market, bar, rate = item
                async with self.engine_lock:
                    probe.bar()
                    try:
                        await self._on_bar(market, bar, rate, probe)
                    finally:
                        probe.idle()
            if self.live is not None:
                await self.live.read_accounts()
            await self._between_bars()
            now = time.monotonic()
            if now >= next_status:
                next_status = now + self.options.status_interval
                if self.reconciler is not None:
                    for where in self.reconciler.refresh_blocks():
                        self.reporter.note(f"entries on {where} allowed again")
                self._write_status("running")
                self.reporter.progress(self.status())
            if self.stop_event.is_set():
                return "stopped"
        return "stopped" if self.stop_event.is_set() else "completed"

    async def _between_bars(self) -> None:
        """Hot reload, control requests and the kill switch: only ever between two bars."""
        if self.reloader is not None:
            async with self.engine_lock:
                outcome = await self.reloader.check()
            if outcome is not None:
                self.reporter.note(outcome)
        request = self.state.take_request()
        if request is not None:
            flatten = request.get("action") == "flatten"
            self.reporter.note(f"{request['action']} requested")
            by = "spark-stacker stop" + (" --flatten" if flatten else "")
            self.request_stop(by, flatten=flatten)
        if self.flatten_requested and self.kill_switch is not None:
            async with self.engine_lock:
                needs_bar = isinstance(self.feed, ReplayFeed)
                flat = await self.kill_switch.step(self.bars, needs_bar=needs_bar)
                if self.engine is not None and self.observers is not None:
                    self.observers.governor(governor_state(self))
            if flat and not self.stop_event.is_set():
                log.info("stopping: flat after %s", self.stop_reason)
                self.stop_event.set()

    async def _on_bar(
        self, market: FeedMarket, bar: Bar, rate: float | None, probe: LatencyProbe
    ) -> None:
        """One base bar of one market: venues first (fills at its open), then the strategies
        whose own bar closed with it.

        The latency window starts when the engine receives the bar, after the paper venues'
        open phase (the simulated exchange's own work). Journal appends other than intents and
        the lifecycle hooks wait until the strategies ran and their requests left
        (``OrderManager.deferring``); then they run in their original order.
        """
        engine = self.engine
        assert engine is not None
        with engine.orders.deferring():
            await self._handle_bar(market, bar, rate, probe)
        self._after_bar(market, bar, rate)

    async def _handle_bar(
        self, market: FeedMarket, bar: Bar, rate: float | None, probe: LatencyProbe
    ) -> None:
        engine, observers, strategies = self.engine, self.observers, self.strategies
        assert engine is not None
        assert observers is not None
        assert strategies is not None
        ts, o, h, lo, c, v = bar
        close_ms = ts + market.step_ms
        clock = engine.clock if isinstance(engine.clock, SimulatedClock) else None
        if clock is not None:
            clock.set_ms(max(ts, clock.now_ms()))
        symbol = market.symbol
        venues = [self.paper[i] for i in market.instances if i in self.paper]
        for phase in ("open", "close"):
            events: list[VenueEvent] = []
            for venue in venues:
                if phase == "open":
                    events.extend(venue.on_bar_open(symbol, ts, o, h, lo, c, v, rate))
                else:
                    events.extend(venue.on_bar_close(symbol))
            if phase == "open":
                probe.event()  # the engine receives the bar: the timed window starts
            if events:
                observers.venue_events(events)
                await engine.handle_events(events)
        if clock is not None:
            clock.set_ms(max(close_ms, clock.now_ms()))
        for instance in market.instances:
            engine.accounting.set_mark_float(instance, symbol, c)
        await engine.on_clock()
        for item in strategies.of(market):
            closed = item.aggregator.push(ts, o, h, lo, c, v)
            if closed is not None:
                index = item.aggregator.index(closed[0])
                end = closed[0] + item.aggregator.tf_ms
                await engine.on_bar_close(item.slot, index, end, closed[1:])

    def _after_bar(self, market: FeedMarket, bar: Bar, rate: float | None) -> None:
        """Counters, metrics and account snapshots once the bar's orders and journal are done."""
        engine, observers, strategies = self.engine, self.observers, self.strategies
        assert engine is not None
        assert observers is not None
        assert strategies is not None
        symbol, c = market.symbol, bar[4]
        close_ms = bar[0] + market.step_ms
        self.bars += 1
        strategies.last_bar_ms = close_ms
        observers.market(market.data_venue, symbol, close_ms, c, rate)
        accounts = account_list(self.paper) if self.paper else []
        if accounts:
            engine.monitor.liquidation.note_accounts(accounts)
        observers.engine_state(engine, close_ms / 1000, governor=governor_state(self))
        if accounts:
            observers.accounts(accounts, close_ms)

    # ---- status and shutdown ------------------------------------------------------------------

    def status(self, state: str = "running") -> dict[str, Any]:
        return status_dict(self, state)

    def _write_status(self, state: str) -> None:
        try:
            self.state.write_status(self.status(state))
        except OSError as exc:
            log.warning("could not write %s: %s", self.state.run_file, exc)

    async def _shutdown(self, status: str) -> None:
        engine, journal, observers = self.engine, self.journal, self.observers
        try:
            self._signals_on(False)
            if engine is not None and engine.started and status != "aborted":
                for slot in engine.slots:  # no new entries from here on
                    engine.block_entries(slot.venue, slot.symbol, "shutting down")
                try:
                    await leave_protected(engine)
                    await engine.stop()
                except SparkStackerError as exc:
                    log.error("shutdown: %s", exc)
                for slot in engine.slots:
                    engine.unblock_entries(slot.venue, slot.symbol)
                if observers is not None:
                    accounts = (
                        account_list(self.paper)
                        if self.paper
                        else [await v.account() for v in self.venues.values()]
                    )
                    observers.accounts(accounts, engine.clock.now_ms(), force=True)
            summary = run_summary(self, status)
            if journal is not None and self.run_id:
                journal.end_run(self.run_id, status, summary)
            lines = summary_lines(summary)
            for line in lines:
                log.info("%s", line)
            self._write_status(status)
            self.reporter.summary(f"Run {status}", lines)
        finally:
            for venue in self.venues.values():
                with contextlib.suppress(ExchangeError, OSError):
                    await venue.close()
            if observers is not None:
                observers.close()


def run_sync(runtime: Runtime) -> RunResult:
    """Run on a fresh event loop (the CLI's entry)."""
    from sparkstacker.engine.aio import run_coroutine

    try:
        return run_coroutine(runtime.run())
    except asyncio.CancelledError:
        raise SparkStackerError(
            "run aborted by a second signal; the journal is consistent"
        ) from None


__all__ = ["QuietReporter", "Reporter", "RunResult", "Runtime", "load_plugin_modules", "run_sync"]
