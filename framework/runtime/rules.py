"""Which rule files a run trades, compiled together, and what the start-up summary says of them.

With no rule files the run trades the ``examples`` bundle's ``macd_flip_eth_1m.rules``: the
example that actually trades on a fresh machine. The other examples are named in the summary
with the reason they are not the default — notably ``macd_eth_1m.rules``, whose 1 USD size cap
is under Hyperliquid's 10 USD minimum order, so it never opens a position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sparkstacker.errors import ConfigError, ModelError
from sparkstacker.lang.plan import CompiledRules, StrategyPlan
from sparkstacker.model import Direction, Instrument
from sparkstacker.registry import Registry
from sparkstacker.sizing import SizingRequest

DEFAULT_RULES = ("examples:macd_flip_eth_1m.rules",)
NOT_DEFAULT = {
    "examples:macd_eth_1m.rules": (
        "never trades: its 1 USD size cap is under Hyperliquid's 10 USD minimum order (the file "
        "says so); it also wants 10x on ETH-USD where the default runs 5x"
    ),
    "examples:macd_eth_1m_hedged.rules": (
        "the trading twin of macd_eth_1m (100 USD entries, 20% hedged on a second account); "
        "run it by name to watch both legs"
    ),
    "examples:rsi_eth_4h.rules": "4h bars: a short replay sees only a handful of them",
    "examples:multi_timeframe.rules": "1d/4h/1h bars across three markets: slow to show trades",
    "examples:market_maker_btc.rules": "quotes every other bar: many orders, slow to replay",
}


@dataclass(frozen=True)
class RuleSet:
    """The run's rule files (real paths, watched for hot reload) and their compiled plans."""

    refs: tuple[str, ...]  # as the user named them (path or bundle:file)
    paths: tuple[Path, ...]
    compiled: CompiledRules
    default: bool = False


def resolve(refs: Sequence[str], registry: Registry) -> list[Path]:
    """Files on disk, or ``bundle:file.rules`` shipped by an installed bundle."""
    paths = []
    for ref in refs:
        path = Path(ref)
        if path.is_file():
            paths.append(path)
            continue
        if ":" in ref and ref in registry.rule_files:
            paths.append(Path(str(registry.rule_files.get(ref).path)))
            continue
        installed = ", ".join(registry.rule_files.names())
        raise ConfigError(
            f"rule file {ref!r} not found"
            + (f"; installed bundles: {installed}" if installed else "")
        )
    return paths


def compile_paths(paths: Sequence[Path], registry: Registry) -> CompiledRules:
    """Compile each file and merge them (one portfolio block at most)."""
    from sparkstacker.lang import compile_file

    parts = [compile_file(path, registry) for path in paths]
    portfolios = [c.portfolio for c in parts if c.portfolio is not None]
    if len(portfolios) > 1 and any(p != portfolios[0] for p in portfolios[1:]):
        raise ConfigError("several rule files define different portfolio blocks; keep one")
    names = [s.name for c in parts for s in c.strategies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"strategy name(s) defined twice: {', '.join(duplicates)}")
    return CompiledRules(
        strategies=tuple(s for c in parts for s in c.strategies),
        portfolio=portfolios[0] if portfolios else None,
        files=tuple(f for c in parts for f in c.files),
        warnings=tuple(w for c in parts for w in c.warnings),
    )


def load_rules(refs: Sequence[str], registry: Registry) -> RuleSet:
    default = not refs
    chosen = tuple(refs) or DEFAULT_RULES
    paths = resolve(chosen, registry)
    compiled = compile_paths(paths, registry)
    if not compiled.strategies:
        raise ConfigError("the rule files define no strategy to run")
    return RuleSet(refs=chosen, paths=tuple(paths), compiled=compiled, default=default)


def trade_check(
    plan: StrategyPlan, instrument: Instrument, price: Decimal, equity: Decimal, registry: Registry
) -> str | None:
    """Why a strategy cannot open a position at ``price`` as configured (None: it can)."""
    if plan.sizing is None:
        return None if plan.uses else "it has no size clause"
    sizer = registry.sizers.get(plan.sizing.sizer)
    request = SizingRequest(
        instrument=instrument,
        direction=Direction.LONG,
        price=price,
        equity=equity,
        leverage=plan.leverage,
        stop_distance=plan.risk.stop_loss,
    )
    try:
        decision = sizer.size(request, plan.sizing.params)
    except ModelError as exc:
        return f"sizer {plan.sizing.sizer}: {exc}"
    if not decision.is_trade:
        return f"sizer {plan.sizing.sizer}: {decision.reason}"
    cap = plan.risk.max_position
    if cap is not None and cap.amount is not None and cap.amount < instrument.min_notional:
        return (
            f"max_position {cap.amount} USD is under the minimum order value "
            f"{instrument.min_notional} USD on {instrument.venue}"
        )
    return None
