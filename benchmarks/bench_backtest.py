"""Backtest speed against peers: one MACD crossover-flip strategy on every engine, one run.

    python benchmarks/bench_backtest.py                      # 100k and 1M synthetic bars
    python benchmarks/bench_backtest.py --bars 1M --skip backtrader
    python benchmarks/bench_backtest.py --data ETH-1m.feather --peers numpy,vectorbt
    python benchmarks/bench_backtest.py --write-results      # update benchmarks/RESULTS.md

Each engine runs in a fresh subprocess (``bench_backtest_child.py``) so its peak memory is its own.
Before any time is trusted every engine must agree with the numpy reference on the number of
trades and on the final equity (within ``--rtol`` × initial equity); disagreements are
printed and the exit status is 2. An engine that fails exits 1; a missing optional peer or
our not-yet-wired engines are reported and skipped. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_backtest_data import Bars, load_bars, on_price_grid, save_npz, synthetic_bars
from bench_backtest_engines import ENGINES, REFERENCE
from bench_backtest_report import (
    disagreement_table,
    disagreements,
    linearity_table,
    load_note,
    machine,
    results_section,
    results_table,
    targets,
    versions,
    write_results,
)
from bench_backtest_strategy import INITIAL_EQUITY

HERE = Path(__file__).resolve().parent
Result = dict[str, Any]


def bar_count(text: str) -> int:
    """``100000``, ``100k``, ``1M`` or ``1_000_000`` → an int ≥ 100."""
    match = re.fullmatch(r"(\d[\d_]*)([kKmM]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a bar count: {text!r} (e.g. 100000, 100k, 1M)")
    count = (
        int(match.group(1).replace("_", ""))
        * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    )
    if count < 100:
        raise argparse.ArgumentTypeError(f"{text!r}: MACD(12,26,9) needs at least 100 bars")
    return count


def engine_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown engine(s) {unknown}; known: {list(ENGINES)}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bars",
        type=lambda text: [bar_count(part) for part in text.split(",")],
        help="comma-separated sizes (default 100k,1M; with --data: the whole file)",
    )
    parser.add_argument("--data", type=Path, help="real OHLCV file (csv/feather/parquet/json/npz)")
    parser.add_argument("--seed", type=int, default=20240101, help="synthetic data seed")
    parser.add_argument(
        "--no-grid",
        action="store_true",
        help="keep --data prices as they are (default: round them to the venue's price grid,"
        " 5 significant figures, as our engines fill on it)",
    )
    parser.add_argument(
        "--peers", type=engine_list, default=list(ENGINES), help=f"engines to run: {list(ENGINES)}"
    )
    parser.add_argument("--skip", type=engine_list, default=[], help="engines to leave out")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per engine (max)")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds of runs per engine")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per engine process")
    parser.add_argument(
        "--rtol", type=float, default=1e-9, help="final-equity tolerance × initial equity"
    )
    parser.add_argument("--json", type=Path, help="write every result to this JSON file")
    parser.add_argument("--write-results", action="store_true", help="update RESULTS.md")
    parser.add_argument("--results-file", type=Path, default=HERE / "RESULTS.md")
    return parser.parse_args(argv)


def run_engine(name: str, npz: Path, args: argparse.Namespace, workdir: Path) -> Result:
    """Run one engine in a fresh interpreter; its result, or an error result saying why."""
    out = workdir / f"{name}-{npz.stem}.json"
    log = workdir / f"{name}-{npz.stem}.log"
    command = [
        sys.executable,
        str(HERE / "bench_backtest_child.py"),
        name,
        str(npz),
        str(out),
        "--repeats",
        str(args.repeats),
        "--budget",
        str(args.budget),
    ]
    with log.open("w") as output:
        try:
            subprocess.run(
                command, stdout=output, stderr=subprocess.STDOUT, timeout=args.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return {"engine": name, "status": "error", "reason": f"timed out after {args.timeout}s"}
    if not out.exists():
        tail = log.read_text()[-2000:]
        return {"engine": name, "status": "error", "reason": f"crashed without a result:\n{tail}"}
    result: Result = json.loads(out.read_text())
    return result


def _progress(result: Result, size: int) -> str:
    title = ENGINES[result["engine"]].title
    if result["status"] != "ok":
        return f"  {title} @ {size:,} bars: {result['status']}: {result.get('reason', '')}"
    return (
        f"  {title} @ {size:,} bars: {result['time_s']:.3g} s, CPU {result['cpu_s']:.3g} s"
        f" (first {result['first_s']:.3g} s,"
        f" {result['runs']} runs), {result['trades']:,} trades,"
        f" final equity {result['final_equity']:,.4f}, peak {result['peak_rss_mb']:.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [name for name in args.peers if name not in args.skip]
    if REFERENCE not in chosen:
        chosen.insert(0, REFERENCE)  # the lower bound is also the agreement reference
    chosen = [name for name in ENGINES if name in chosen]

    source: Bars | None = load_bars(args.data) if args.data else None
    if source is not None and not args.no_grid:
        source = on_price_grid(source)
    sizes = args.bars or ([len(source)] if source is not None else [100_000, 1_000_000])
    if source is not None:
        sizes = sorted({min(size, len(source)) for size in sizes})
    data_label = f"synthetic 1m, seed {args.seed}"
    if source is not None:
        data_label = source.label + ("" if args.no_grid else ", prices on the venue grid")

    info = machine()
    print(f"backtest benchmark: MACD(12,26,9) flip, {data_label}, sizes {sizes}")
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))

    unavailable: dict[str, str] = {}
    for name in chosen:
        reason = ENGINES[name].missing()
        if reason is not None:
            unavailable[name] = reason
    if any(ENGINES[name].ours for name in unavailable):
        print("sparkstacker engines: not available yet")
    for name, reason in unavailable.items():
        if not ENGINES[name].ours:
            print(f"skipping {ENGINES[name].title}: {reason}")

    by_size: dict[int, list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_backtest_") as tmp:
        workdir = Path(tmp)
        for size in sizes:
            began = time.perf_counter()
            bars = source.head(size) if source is not None else synthetic_bars(size, args.seed)
            npz = workdir / f"bars_{size}.npz"
            save_npz(bars, npz)
            print(f"\n{size:,} bars ready in {time.perf_counter() - began:.2f} s (not timed)")
            load_before = os.getloadavg()[0]
            results = []
            for name in chosen:
                if name in unavailable:
                    result = {"engine": name, "status": "unavailable", "reason": unavailable[name]}
                else:
                    result = run_engine(name, npz, args, workdir)
                result["bars"] = size
                results.append(result)
                print(_progress(result, size), flush=True)
            load = (load_before, os.getloadavg()[0])
            for result in results:
                result["load"] = load
            by_size[size] = results

    everything = [result for results in by_size.values() for result in results]
    tolerance = args.rtol * INITIAL_EQUITY
    bad = disagreements(everything, tolerance)
    failed = [r for r in everything if r["status"] == "error"]

    for size, results in by_size.items():
        note = load_note(results[0]["load"])
        print(f"\n{size:,} bars ({data_label}), {note}:\n{results_table(results)}")
    linearity = linearity_table(by_size)
    if linearity:
        print(f"\nlinearity:\n{linearity}")
    print("\n" + "\n".join(targets(by_size)))

    within = f"trades exact, final equity within {tolerance:g}"
    print(f"\nagreement with {REFERENCE} ({within}):", end=" ")
    if bad:
        print(f"{len(bad)} DISAGREEMENT(S) — times are not comparable\n{disagreement_table(bad)}")
    else:
        print("all engines agree")
    for result in failed:
        print(f"\n{result['engine']} failed: {result['reason']}\n{result.get('traceback', '')}")

    if args.json:
        args.json.write_text(json.dumps({"sizes": sizes, "results": everything}, indent=2))
    if args.write_results:
        if bad or failed:
            print("\nnot writing RESULTS.md: fix the disagreements / failures first")
        else:
            key = f"{time.strftime('%Y-%m-%d')}|{data_label}|{','.join(map(str, sizes))}"
            left_out = [name for name in ENGINES if name not in chosen]
            notes = [
                f"Not run: {', '.join(left_out)} (left out with --peers/--skip)."
                if left_out
                else "",
                f"Not available: {', '.join(sorted(unavailable))} — "
                + "; ".join(sorted(set(unavailable.values())))
                + "."
                if unavailable
                else "",
                f"Agreement: every engine matched the numpy reference on trades and on final "
                f"equity within {tolerance:g}.",
            ]
            section = results_section(by_size, data_label, key, [n for n in notes if n])
            write_results(args.results_file, section, key)
            print(f"\nwrote {args.results_file}")
    if bad:
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
