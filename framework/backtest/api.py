"""A small programmatic entry point: rule text + bars in, BacktestResult out.

Used by benchmarks and notebooks; the command line goes through the same runner.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sparkstacker.backtest.result import BacktestResult
from sparkstacker.backtest.runner import BacktestOptions
from sparkstacker.backtest.runner import run_backtest as run_compiled
from sparkstacker.lang.plan import BarFrame
from sparkstacker.registry import Registry


def run_backtest(
    rules_text: str,
    frame: BarFrame,
    *,
    fast: bool = False,
    initial_equity: Decimal = Decimal(10_000),
    registry: Registry | None = None,
    **options: Any,
) -> BacktestResult:
    """Backtest ``rules_text`` over ``frame`` (used for every strategy's market and timeframe)."""
    from sparkstacker.lang import compile_text

    registry = registry or Registry.load()
    compiled = compile_text(rules_text, registry)
    frames = {
        (plan.venue.split(".")[0], plan.symbol, plan.timeframe): frame
        for plan in compiled.strategies
    }
    opts = BacktestOptions(frames=frames, initial_equity=initial_equity, **options)
    if fast:
        from sparkstacker.backtest.fast import run_fast

        return run_fast(compiled, registry, opts)
    return run_compiled(compiled, registry, opts)
