"""Run one engine of the backtest benchmark in this (fresh) process and write a JSON result.

    python benchmarks/bench_backtest_child.py ENGINE BARS.npz OUT.json [--repeats 5] [--budget 30]

Timed: from the OHLCV arrays in the engine's native container (numpy arrays, a DataFrame, a
BarFrame) to the trade count and final equity — indicators, signals, simulation and result.
Not timed: interpreter start, imports, loading the bars and converting them, and one
warm-up run on the first 2,000 bars (it pays numba compilation — vectorbt's first call takes
~10-40 s — and other one-off costs). The first full run is reported separately; ``time_s`` is
the median wall time (``perf_counter``) of the runs after it, or the first run when the time
budget allows no more; ``cpu_s`` is the same for this process's CPU time, the steadier figure
on a shared machine.

Peak memory is this process's high-water RSS (``VmHWM``) over the timed runs: the mark is
reset after the warm-up (``/proc/self/clear_refs``), so it counts what is resident (imports,
bars) plus what the runs allocate, not the compiler's transient memory; the peak including
the warm-up is kept as ``peak_rss_with_warmup_mb``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench_backtest_data import load_bars
from bench_backtest_engines import ENGINES

WARMUP_BARS = 2_000


def _memory_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (current) of this process in MB, from /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource  # no /proc (not Linux): ru_maxrss is the peak, in KiB on Linux, B on macOS

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux ≥ 4.0); False when the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure(name: str, npz: Path, repeats: int, budget: float) -> dict[str, Any]:
    engine = ENGINES[name]
    began = time.perf_counter()
    importlib.import_module(engine.imports)
    module = importlib.import_module(engine.module)
    import_s = time.perf_counter() - began
    bars = load_bars(npz)
    began = time.perf_counter()
    module.run(module.prepare(bars.head(WARMUP_BARS)), **engine.options)
    warmup_s = time.perf_counter() - began
    native = module.prepare(bars)
    warmup_peak_mb = _memory_mb("VmHWM")
    reset = _reset_peak()
    base_mb = _memory_mb("VmRSS")

    times: list[float] = []
    cpu_times: list[float] = []
    outcomes = []
    spent = 0.0
    while len(times) < max(1, repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        outcomes.append(module.run(native, **engine.options))
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
        spent += times[-1]
        if spent + times[-1] > budget:
            break
    if any(outcome != outcomes[0] for outcome in outcomes):
        raise RuntimeError(f"{name} gave different results on repeated runs: {outcomes}")
    peak_mb = _memory_mb("VmHWM")
    warm = times[1:]
    return {
        "engine": name,
        "status": "ok",
        "bars": len(bars),
        **asdict(outcomes[0]),
        "first_s": times[0],
        "time_s": statistics.median(warm) if warm else times[0],
        "cpu_s": statistics.median(cpu_times[1:] or cpu_times),
        "runs": len(times),
        "times_s": times,
        "import_s": import_s,
        "warmup_s": warmup_s,
        "base_rss_mb": base_mb,
        "peak_rss_mb": peak_mb,
        "peak_includes_warmup": not reset,
        "peak_rss_with_warmup_mb": max(warmup_peak_mb, peak_mb),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("engine", choices=sorted(ENGINES))
    parser.add_argument("bars", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds of timed runs")
    args = parser.parse_args()
    try:
        result = measure(args.engine, args.bars, args.repeats, args.budget)
    except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the run
        result = {
            "engine": args.engine,
            "status": "error",
            "reason": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
        }
    args.out.write_text(json.dumps(result))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
