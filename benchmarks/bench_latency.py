"""Market-data event → order request leaving the engine, on the simulated venue.

A strategy that trades on every bar (``enter long when position <= 0``, ``enter short when
position > 0``: a flip each bar) is replayed over the synthetic sample's 1m ETH bars, and the
time from the moment the engine receives a bar until the venue's ``submit`` is called is
recorded for every order (the same probe that feeds ``spark_stacker_order_latency_seconds``).
In the runtime the window starts after the paper venues' open phase — the simulated exchange
filling the previous bar's order and fsyncing its own log, work a live venue does remotely —
so it holds the engine's share: the fill applied, the strategy, risk, and the intent's commit
(the other journal appends, orders.log and metrics run after the bar's requests left).

Configurations, so the numbers say where the time goes:

* ``runtime, journal on disk`` — ``spark-stacker run`` as it runs: the write-ahead journal
  commits (and fsyncs) the order's intent to its intent log before the request may leave;
* ``runtime, journal in memory`` — the same runtime with an in-memory SQLite journal: no disk,
  but no intent log either (the intent's three rows are written straight into the tables, more
  SQL work than the log's one row), so it is not a lower bound of the disk row;
* ``…, whole bar`` — the same runs timed from the start of the bar's handling, the paper
  venues' open phase included;
* ``engine only`` — the engine and the simulated venue, no journal, no logs (the floor);
* ``one bare SQLite commit`` — not the engine: one row inserted and committed with the standard
  library's ``sqlite3`` (WAL, ``synchronous=FULL``) on the same disk, per order — what any durable
  write-ahead step costs on this machine before our code adds anything.

    python benchmarks/bench_latency.py [--bars 2000] [--repeats 3] [--write-results]

Prints p50 / p99 / max per configuration (the median of ``--repeats`` runs, and the spread of
the runs' p99) and, with ``--write-results``, adds a section to benchmarks/RESULTS.md (other
sections are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from results_file import replace_section

RULES = """
strategy "every_bar" {
    market ETH-USD on hyperliquid
    timeframe 1m
    enter long when position <= 0
    enter short when position > 0
    size fixed_units(0.01)
    leverage 5x
}
"""
RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = "<!-- latency:begin -->", "<!-- latency:end -->"
TARGET_P99_MS = 1.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def runtime_samples(
    bars: int, store: Path, db: str, work: Path, whole_bar: list[float] | None = None
) -> list[float]:
    """Run the real paper runtime in this process and collect its latency samples.

    ``whole_bar`` (if given) receives the same orders timed from the bar's start instead.
    """
    from sparkstacker.runtime.options import RunOptions
    from sparkstacker.runtime.runtime import Runtime, run_sync

    samples: list[float] = []
    rules = work / "every_bar.rules"
    rules.write_text(RULES)
    options = RunOptions(
        speed=None,
        bar_ms=None,
        bars=bars,
        data_dir=store,
        db=db,
        log_dir=work / "_logs",
        state_dir=work / "state",
        metrics=False,
        reload=False,
    )
    cwd = os.getcwd()
    os.chdir(work)
    try:
        result = run_sync(
            Runtime(
                options,
                [str(rules)],
                latency_sink=lambda s, _v: samples.append(s),
                bar_latency_sink=None if whole_bar is None else lambda s, _v: whole_bar.append(s),
            )
        )
    finally:
        os.chdir(cwd)
    assert result.status == "completed", result.status
    return samples


def engine_samples(bars: int, store: Path) -> list[float]:
    """The engine and the simulated venue alone, driven bar by bar like the runtime does."""
    return asyncio.run(_engine_samples(bars, store))


async def _engine_samples(bars: int, store: Path) -> list[float]:
    from sparkstacker.backtest.instruments import simulated_instrument
    from sparkstacker.context import RunContext
    from sparkstacker.data.source import load_frame
    from sparkstacker.data.store import CandleStore
    from sparkstacker.engine.clock import SimulatedClock
    from sparkstacker.engine.engine import Engine
    from sparkstacker.lang import compile_text
    from sparkstacker.plugins import make_plugin_manager
    from sparkstacker.registry import Registry
    from sparkstacker.runtime.bars import BarAggregator
    from sparkstacker.runtime.latency import LatencyProbe, TimedVenue
    from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
    from sparkstacker_plugins.exchanges.sim.options import SimOptions

    registry = Registry(make_plugin_manager())
    plan = compile_text(RULES, registry).strategies[0]
    frame, _ = load_frame(CandleStore(store), "hyperliquid", "ETH-USD", "1m")
    sim = SimExchange("hyperliquid", SimOptions(), registry=registry)
    sim.add_market(
        simulated_instrument("hyperliquid", "ETH-USD", float(frame.close[0])), timeframe="1m"
    )
    samples: list[float] = []
    probe = LatencyProbe(sink=lambda s, _v: samples.append(s))
    clock = SimulatedClock(int(frame.timestamp[0]))
    run = RunContext(run_id="latency", mode="paper", registry=registry)
    engine = Engine(
        run=run, pm=registry.pm, venues={"hyperliquid": TimedVenue(sim, probe)}, clock=clock
    )
    slot = engine.add_strategy(plan, registry.strategies.get("rule").create(plan))
    aggregator = BarAggregator("1m", "1m")
    sim.on_bar(
        "ETH-USD",
        int(frame.timestamp[0]),
        *(float(x[0]) for x in (frame.open, frame.high, frame.low, frame.close, frame.volume)),
    )
    await engine.start()
    for i in range(1, bars + 1):
        ts = int(frame.timestamp[i])
        o, h, lo, c, v = (
            float(frame.open[i]),
            float(frame.high[i]),
            float(frame.low[i]),
            float(frame.close[i]),
            float(frame.volume[i]),
        )
        clock.set_ms(ts)
        events = sim.on_bar_open("ETH-USD", ts, o, h, lo, c, v)
        probe.event()  # the engine receives the bar (the venue's open phase is the exchange's)
        if events:
            await engine.handle_events(events)
        events = sim.on_bar_close("ETH-USD")
        if events:
            await engine.handle_events(events)
        clock.set_ms(ts + 60_000)
        engine.accounting.set_mark_float("hyperliquid", "ETH-USD", c)
        await engine.on_clock()
        bar = aggregator.push(ts, o, h, lo, c, v)
        assert bar is not None
        await engine.on_bar_close(slot, aggregator.index(ts), ts + 60_000, bar[1:])
        probe.idle()
    return samples


def commit_floor_samples(count: int, path: Path) -> list[float]:
    """One durable commit per order with nothing else: the disk's share of a journaled run."""
    import sqlite3

    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE intents (id INTEGER PRIMARY KEY, cloid TEXT, body TEXT)")
        body = "x" * 400  # about an order snapshot's size
        samples = []
        for number in range(count):
            started = time.perf_counter()
            connection.execute("BEGIN")
            connection.execute("INSERT INTO intents (cloid, body) VALUES (?, ?)", (number, body))
            connection.execute("COMMIT")
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        connection.close()


def row(name: str, runs: list[list[float]]) -> dict[str, Any]:
    """One configuration over one or more runs: the median run's p50 and p99, the spread of
    the runs' p99 (a shared VM's disk and caches vary from run to run), max over all."""
    per_run = [[s * 1000 for s in samples] for samples in runs]
    p99s = [percentile(ms, 99) for ms in per_run]
    return {
        "configuration": name,
        "orders": sum(len(ms) for ms in per_run),
        "runs": len(per_run),
        "p50_ms": statistics.median(percentile(ms, 50) for ms in per_run),
        "p99_ms": statistics.median(p99s),
        "p99_low": min(p99s),
        "p99_high": max(p99s),
        "max_ms": max(max(ms) for ms in per_run),
        "mean_ms": statistics.fmean(x for ms in per_run for x in ms),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| configuration | runs | orders | p50 ms | p99 ms | p99 of each run ms | max ms | "
        "mean ms | p99 < 1 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["p99_high"] < TARGET_P99_MS:
            met = "met in every run"
        elif r["p99_ms"] < TARGET_P99_MS:
            met = "met (median run), not in every run"
        else:
            met = "NOT met"
        spread = (
            f"{r['p99_low']:.3f} – {r['p99_high']:.3f}" if r["runs"] > 1 else f"{r['p99_ms']:.3f}"
        )
        lines.append(
            f"| {r['configuration']} | {r['runs']} | {r['orders']} | {r['p50_ms']:.3f} | "
            f"{r['p99_ms']:.3f} | {spread} | {r['max_ms']:.3f} | {r['mean_ms']:.3f} | {met} |"
        )
    return "\n".join(lines)


def write_results(text: str) -> None:
    replace_section(RESULTS, BEGIN, END, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=2000)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per configuration (fresh journal each)"
    )
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("SPARKSTACKER_DISABLE_PLUGIN_AUTOLOAD", "1")
    with tempfile.TemporaryDirectory(prefix="ss-latency-") as tmp:
        work = Path(tmp)
        from sparkstacker.data.sample import ensure_sample
        from sparkstacker.data.store import CandleStore

        store = work / "store"
        ensure_sample(CandleStore(store), "hyperliquid", ("ETH-USD",))
        rows = []
        whole_mem: list[list[float]] = []
        whole_disk: list[list[float]] = []

        def runtime(db: str, folder: Path, whole: list[list[float]]) -> list[float]:
            folder.mkdir()
            whole.append([])
            return runtime_samples(args.bars, store, db, folder, whole[-1])

        for name, runner in (
            ("engine only (no journal, no logs)", lambda n: engine_samples(args.bars, store)),
            (
                "runtime, journal in memory",
                lambda n: runtime("sqlite://", work / f"mem{n}", whole_mem),
            ),
            (
                "runtime, journal on disk (SQLite WAL, fsync)",
                lambda n: runtime(
                    f"sqlite:///{work / f'disk{n}' / 'j.db'}", work / f"disk{n}", whole_disk
                ),
            ),
            (
                "one bare SQLite commit (WAL, fsync), not the engine",
                lambda n: commit_floor_samples(args.bars, work / f"floor{n}.db"),
            ),
        ):
            runs = []
            for number in range(args.repeats):
                started = time.perf_counter()
                runs.append(runner(number))
                print(
                    f"{name} (run {number + 1}/{args.repeats}): {len(runs[-1])} orders in "
                    f"{time.perf_counter() - started:.1f} s",
                    file=sys.stderr,
                )
            rows.append(row(name, runs))
        rows[-1:-1] = [
            row("runtime, journal in memory, whole bar (paper venues included)", whole_mem),
            row("runtime, journal on disk, whole bar (paper venues included)", whole_disk),
        ]
    text = table(rows)
    floor = rows[-1]
    print(text)
    if args.write_results:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = (
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}"
        )
        write_results(
            f"## Order latency\n\n"
            f"Measured by `benchmarks/bench_latency.py --bars {args.bars} --repeats "
            f"{args.repeats}` on {stamp} ({machine}): market-data event (a 1m bar received by "
            f"the engine) → the venue's `submit` call, for a strategy that flips on every bar, "
            f"on the simulated venue. Each configuration ran {args.repeats} times (a fresh "
            "journal each time); p50 and p99 are the median run's, and the spread of the runs' "
            "p99 is shown because this shared VM's disk and caches vary from run to run.\n\n"
            f"{text}\n\n"
            "Target: p99 < 1 ms (issue [runtime] point 7). The window starts when the engine "
            "receives the bar, after the paper venues' open phase (the simulated exchange "
            "filling the previous bar's order and fsyncing its own log: a live venue's work, "
            'done remotely); the "whole bar" rows time the same orders from before that '
            "phase. Inside the window: the previous order's fill applied (positions, "
            "accounting), the strategy's decision, pre-trade risk, and the new order's intent "
            "committed before `submit` is called: on disk to the journal's intent log (one row, "
            "one fsync; the tables get it after the bar), in memory as the tables' three rows "
            "(no intent log without a file, hence more SQL work than the disk rows). "
            "The other journal appends (the fill, its order events, the `submitted` step, the "
            "signal) share one transaction after the bar's requests left, with orders.log and "
            "the metrics (docs/runtime.md). The last row "
            f"is the disk alone: one bare durable commit of one row takes p50 "
            f"{floor['p50_ms']:.3f} ms, p99 {floor['p99_ms']:.3f} ms here — the floor under "
            "the intent log's commit."
        )


if __name__ == "__main__":
    main()
