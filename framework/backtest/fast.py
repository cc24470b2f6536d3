"""``backtest --fast``: the same answer as the event engine, for the rule files it can simulate.

The event engine feeds every bar through the simulated venue and the engine. The fast path
evaluates each strategy's signals once over whole arrays (``plan.prepare(frame)``) and then runs
one of two simulations of what the venue and the engine do with them:

* the **compiled kernel** (:mod:`sparkstacker.backtest.fast_kernel`, numba) for the common case —
  every strategy on its own account, ``fixed_units`` / ``fixed_usd`` sizing, fixed-bps (or no)
  slippage — in floats and whole lots, with every comparison floats cannot decide either
  decided with the venue's ``Decimal`` code or handed to the loop; its fills, orders, funding
  payments and round trips are built as exact ``Decimal`` records only when first read
  (:mod:`sparkstacker.backtest.fast_records`);
* the exact **per-trade loop** (:mod:`sparkstacker.backtest.fast_loop`), the reference, for
  everything else the fast path supports, visiting only the bars where something can happen.

Trades, fees, funding and the equity curve are those the event engine produces (the parity tests
check it on real data); whatever the fast path cannot reproduce exactly is refused before it
runs (:mod:`sparkstacker.backtest.fast_refusals`) or, for a margin rejection or a liquidation the
venue would have made, while it runs — always with the strategy, the construct and the reason.

Supported: state-free rule strategies (no ``uses``, no hedge, no risk clause) trading at market,
one per market (several markets and venues are fine); sizers ``fixed_units``, ``fixed_usd``,
``percent_equity``; maker/taker fees; the built-in slippage models; ``fill at next_open`` or
``close``; a volume cap or none; funding from the bars' funding column (or the venue's constant
rate) when every funding boundary falls on a bar open.
"""

from __future__ import annotations

import functools
import gc
import os
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
from sparkstacker.backtest.collect import _assumptions, _equity, _round_trips, market_series
from sparkstacker.backtest.fast_equity import equity_path
from sparkstacker.backtest.fast_kernel import KernelStop, LaneRun, kernel_refusal, run_kernels
from sparkstacker.backtest.fast_lane import Lane, build_lane
from sparkstacker.backtest.fast_loop import FastLoop, check_leverage
from sparkstacker.backtest.fast_records import KernelRecords
from sparkstacker.backtest.fast_refusals import SLIPPAGE_MODELS, Refusal, raise_refusals, refusals
from sparkstacker.backtest.fast_result import timeline
from sparkstacker.backtest.result import (
    BacktestResult,
    FundingPayment,
    LazyCurves,
    LazyRecords,
    RoundTrip,
)
from sparkstacker.backtest.runner import BacktestOptions, BacktestRunner
from sparkstacker.errors import ConfigError, SparkStackerError
from sparkstacker.lang.plan import CompiledRules
from sparkstacker.model import Fill, Order
from sparkstacker.plugins import AUTOLOAD_ENV, make_plugin_manager
from sparkstacker.registry import Registry

__all__ = ["Refusal", "fast_refusals", "run_fast"]

ENGINE_LABEL = "fast path (vectorised signals; fills, fees and funding as the event engine)"


def fast_refusals(compiled: CompiledRules, options: BacktestOptions | None = None) -> list[Refusal]:
    """Why the fast path would refuse ``compiled`` (empty: it can run it), before any data is
    loaded. Data-dependent refusals (funding inside bars, margin, liquidation) come at run time."""
    return refusals(compiled, options or BacktestOptions())


def run_fast(
    compiled: CompiledRules,
    registry: Registry,
    options: BacktestOptions | None = None,
    *,
    kernel: bool | None = None,
) -> BacktestResult:
    """Backtest ``compiled`` on the fast path; :class:`ConfigError` when it cannot be exact.

    ``kernel``: None (default) runs the compiled kernel when every strategy fits it and the
    exact per-trade loop otherwise; False always runs the loop; True requires the kernel
    (:class:`ConfigError` naming why when it cannot). Both give the same answer; the result's
    assumptions say which ran (``"fast path"``).
    """
    started = time.perf_counter()
    options = options or BacktestOptions()
    if not compiled.strategies:
        raise ConfigError("the rule files define no strategy to backtest")
    raise_refusals(refusals(compiled, options))
    runner = BacktestRunner(compiled, registry, options)
    runner._build()
    raise_refusals(_setup_refusals(runner, options))
    lanes = _lanes(compiled, runner)
    for lane in lanes:
        check_leverage(lane)
    run_id = f"bt-{uuid.uuid4().hex[:10]}"
    why_not = _kernel_refusals(lanes, runner.sims) if kernel is not False else ["kernel=False"]
    runs: list[LaneRun] | KernelStop | None = None
    if not why_not:
        runs = run_kernels(lanes, runner.sims, registry)
        if isinstance(runs, KernelStop):
            why_not = [f"{runs} (the kernel stopped; the per-trade loop decides)"]
    if kernel and why_not:
        raise ConfigError(f"the fast path's kernel cannot run this: {'; '.join(why_not)}")
    if isinstance(runs, list):
        result = _kernel_result(run_id, compiled, runner, runs, options, started)
    else:
        result = _loop_result(run_id, compiled, runner, lanes, registry, options, started)
        result.assumptions["fast path"] = "exact per-trade loop: " + "; ".join(why_not)
    progress = getattr(options, "on_progress", None)
    if progress is not None:
        progress(result.bars, result.bars)
    return result


def _kernel_refusals(lanes: list[Lane], sims: dict[str, Any]) -> list[str]:
    """Why the kernel cannot run these lanes (empty: it can); several lanes run on the kernel
    only all together."""
    shared = Counter(lane.account for lane in lanes)
    found = []
    for lane in lanes:
        why = kernel_refusal(lane, sims[lane.account], shared[lane.account])
        if why is not None:
            found.append(f"strategy {lane.name!r}: {why}")
    return found


def _setup_refusals(runner: BacktestRunner, options: BacktestOptions) -> list[Refusal]:
    out: list[Refusal] = []
    for name, sim in runner.sims.items():
        model = sim.options.slippage
        if model not in SLIPPAGE_MODELS:
            out.append(
                Refusal(None, f"the {model} slippage model on {name}", "not a built-in model")
            )
    if _submit_hooks(tuple(options.plugins)) > 1:
        out.append(Refusal(None, "a submit_order plugin hook", "it may veto or change orders"))
    return out


def _submit_hooks(plugins: tuple[object, ...]) -> int:
    """``submit_order`` implementations in the plugin manager the event engine would build
    (the kernel's own included). The installed plugins' count is read once per process and
    setting of the autoload switch (discovering entry points costs ~15 ms)."""
    if plugins:
        pm = make_plugin_manager(plugins=plugins)
        return len(pm.hook.submit_order.get_hookimpls())
    return _installed_submit_hooks(os.environ.get(AUTOLOAD_ENV))


@functools.cache
def _installed_submit_hooks(autoload_switch: str | None) -> int:
    return len(make_plugin_manager().hook.submit_order.get_hookimpls())


def _lanes(compiled: CompiledRules, runner: BacktestRunner) -> list[Lane]:
    lanes = []
    for index, plan in enumerate(compiled.strategies):
        market = runner.markets[(plan.venue.split(".")[0], plan.symbol)]
        instrument = runner._instrument(plan.venue, plan.symbol, market.frame)
        sim = runner.sims[plan.venue]
        lanes.append(build_lane(index, plan, market, instrument, sim.options.funding_rate))
    return lanes


def _loop_result(
    run_id: str,
    compiled: CompiledRules,
    runner: BacktestRunner,
    lanes: list[Lane],
    registry: Registry,
    options: BacktestOptions,
    started: float,
) -> BacktestResult:
    loop = FastLoop(lanes, runner.sims, registry, run_id)
    collecting = gc.isenabled()
    gc.disable()  # the loop only adds objects; generational scans of them cost ~25 %
    try:
        loop.run()
        return _result(run_id, compiled, runner, loop, options, started)
    finally:
        if collecting:
            gc.enable()


def _result(
    run_id: str,
    compiled: CompiledRules,
    runner: BacktestRunner,
    loop: FastLoop,
    options: BacktestOptions,
    started: float,
) -> BacktestResult:
    """Assemble the result with the event engine's own builders (``collect``)."""
    markets = list(runner.markets.values())
    sims = runner.sims
    initial = runner.initial_equity * len(sims)
    fills: list[Fill] = sorted(loop.fills, key=lambda f: (f.timestamp, f.fill_id))
    orders = sorted(loop.orders, key=lambda o: int(o.client_order_id.rsplit("-", 1)[1]))
    by_id = {o.client_order_id: o for o in orders}
    stamps, closes = timeline(markets)
    funding = loop.funding
    equity = _equity(stamps, closes, fills, funding, float(initial))
    # Every fill and payment of the fast path is the main leg's (no hedges).
    equity_by_leg = LazyCurves({"main": lambda: _equity(stamps, closes, fills, funding, 0.0)})
    venue_equity = loop.venue_equity(lambda lane: Decimal(repr(float(lane.close[-1]))))
    _check_final(equity, float(venue_equity))
    trades = _round_trips(fills, by_id, sims, stamps, funding)
    return _assemble(
        run_id, compiled, runner, options, started, equity, equity_by_leg, stamps,
        trades, fills, orders, list(funding),
    )  # fmt: skip


def _kernel_result(
    run_id: str,
    compiled: CompiledRules,
    runner: BacktestRunner,
    runs: list[LaneRun],
    options: BacktestOptions,
    started: float,
) -> BacktestResult:
    """The kernel's arrays as a result: the equity curve now, the records when first read."""
    markets = list(runner.markets.values())
    stamps, closes = timeline(markets)
    records = KernelRecords(run_id, runs, runner.sims, stamps)
    flows, pay_stamps, payments = records.flows()
    initial = runner.initial_equity * len(runner.sims)
    buckets = records.buckets()

    def curve(start: float) -> np.ndarray:
        return equity_path(stamps, closes, flows, pay_stamps, payments, start, buckets)

    equity = curve(float(initial))
    _check_final(equity, records.final_equity())
    result = _assemble(
        run_id, compiled, runner, options, started, equity,
        LazyCurves({"main": lambda: curve(0.0)}), stamps,
        LazyRecords(records.trade_count, records.trades),
        LazyRecords(records.fill_count, records.fills),
        LazyRecords(records.order_count, records.orders),
        LazyRecords(records.funding_count, records.funding),
    )  # fmt: skip
    names = ", ".join(repr(run.lane.name) for run in runs)
    result.assumptions["fast path"] = (
        f"compiled kernel (numba) for {names}: fills, fees and funding rebuilt as exact "
        "Decimals from whole lots and grid prices when first read"
    )
    return result


def _check_final(equity: np.ndarray, venue_equity: float) -> None:
    if len(equity) and abs(venue_equity - float(equity[-1])) > 1e-6 * max(1.0, abs(venue_equity)):
        raise SparkStackerError(
            f"fast path: equity curve ends at {equity[-1]:.6f} but the simulated accounts hold "
            f"{venue_equity}; the run's accounting is inconsistent"
        )


def _assemble(
    run_id: str,
    compiled: CompiledRules,
    runner: BacktestRunner,
    options: BacktestOptions,
    started: float,
    equity: np.ndarray,
    equity_by_leg: Mapping[str, np.ndarray],
    stamps: np.ndarray,
    trades: Sequence[RoundTrip],
    fills: Sequence[Fill],
    orders: Sequence[Order],
    funding: Sequence[FundingPayment],
) -> BacktestResult:
    markets = list(runner.markets.values())
    initial = runner.initial_equity * len(runner.sims)
    assumptions = _assumptions(runner.sims, markets, options, initial)
    assumptions["engine"] = ENGINE_LABEL
    assumptions["plugin hooks"] = "not called by the fast path (no journal, no on_fill events)"
    return BacktestResult(
        run_id=run_id,
        rule_files=tuple(compiled.files),
        strategies=tuple(p.name for p in compiled.strategies),
        initial_equity=initial,
        timestamp=stamps,
        equity=equity,
        equity_by_leg=equity_by_leg,
        trades=trades,
        fills=fills,
        orders=orders,
        funding=funding,
        markets=[market_series(m) for m in markets],
        liquidations=0,
        risk_events=[],
        assumptions=assumptions,
        engine="fast",
        bars=sum(len(m.frame) for m in markets),
        elapsed_seconds=time.perf_counter() - started,
    )
