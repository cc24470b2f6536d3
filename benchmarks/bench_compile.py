"""Compile time of the biggest shipped rule file (target: under 50 ms).

Run: python benchmarks/bench_compile.py [--runs 50]. Prints the grammar build time (once per
process), the parse time and the full compile time (parse, imports, checks, plan), as medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from sparkstacker.lang import compile_file, parse
from sparkstacker.lang.parser import _parse_cached, lark_parser
from sparkstacker.registry import Registry

EXAMPLES = Path(__file__).resolve().parents[1] / "rules" / "examples"
TARGET_MS = 50.0


def _median_ms(action, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    registry = Registry.load(autoload=False)
    biggest = max(EXAMPLES.glob("*.rules"), key=lambda p: p.stat().st_size)
    text = biggest.read_text()

    start = time.perf_counter()
    lark_parser()
    build_ms = (time.perf_counter() - start) * 1000
    compile_file(biggest, registry)  # warm caches (error catalogue, imports)

    def cold_parse() -> None:
        _parse_cached.cache_clear()  # measure real parsing, not the AST cache
        parse(text, str(biggest))

    def cold_compile() -> None:
        _parse_cached.cache_clear()
        compile_file(biggest, registry)

    parse_ms = _median_ms(cold_parse, args.runs)
    compile_ms = _median_ms(cold_compile, args.runs)
    cached_ms = _median_ms(lambda: compile_file(biggest, registry), args.runs)
    rules = compile_file(biggest, registry)
    nodes = sum(len(s.program.dag) for s in rules.strategies)  # type: ignore[attr-defined]
    print(
        f"file              {biggest.name} ({len(text)} chars, {len(rules.strategies)} strategies, "
        f"{nodes} DAG nodes)"
    )
    print(f"grammar build     {build_ms:8.1f} ms (once per process)")
    print(f"parse             {parse_ms:8.1f} ms (median of {args.runs})")
    print(
        f"compile           {compile_ms:8.1f} ms (median of {args.runs}; parse + imports + check)"
    )
    print(f"compile, cached   {cached_ms:8.1f} ms (same text again: the AST is reused)")
    verdict = "within" if compile_ms < TARGET_MS else "ABOVE"
    print(f"target            {TARGET_MS:8.1f} ms -> {verdict} target")


if __name__ == "__main__":
    main()
