"""Hot reload: a rule file edited while the run goes is checked and swapped in at a bar boundary.

:class:`RuleWatcher` polls the run's rule files (size + mtime, then sha256, so a touch without
a change does nothing). When one changed, :func:`plan_reload` compiles the new text with the
same registry. A file that does not compile changes nothing: the old rules keep running and the
located error (file:line:column, the line and a caret) goes to spark_stacker.log. A file that
compiles is swapped in between two bars when it keeps every strategy's identity — name, venue,
market, timeframe, hedge venue and leverage — and the portfolio block; those changes need new
venue settings or data feeds, so the reload is refused (logged) and the old rules keep running:
stop the run (positions stay) and start it again to change them. Changed strategies get a fresh
runtime warmed up on the recent bars; their positions, orders and hedge groups are untouched,
and protective orders are re-placed when the stop / target distances changed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkstacker.engine.engine import Engine
from sparkstacker.engine.setup import create_runtime, hedge_instance
from sparkstacker.errors import RuleError, SparkStackerError
from sparkstacker.lang.plan import CompiledRules, StrategyPlan
from sparkstacker.registry import Registry

log = logging.getLogger("sparkstacker.runtime.reload")


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class RuleWatcher:
    """Polls files for content changes, at most every ``interval`` seconds."""

    def __init__(self, paths: Sequence[Path], *, interval: float = 1.0) -> None:
        self.paths = list(dict.fromkeys(Path(p) for p in paths))
        self.interval = interval
        self._stat = {p: self._stamp(p) for p in self.paths}
        self._hash = {p: _digest(p) for p in self.paths}
        self._next = time.monotonic() + interval

    @staticmethod
    def _stamp(path: Path) -> tuple[int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def changed(self, *, force: bool = False) -> list[Path]:
        """Files whose content changed since the last call that reported them."""
        now = time.monotonic()
        if not force and now < self._next:
            return []
        self._next = now + self.interval
        out = []
        for path in self.paths:
            stamp = self._stamp(path)
            if stamp == self._stat[path]:
                continue
            self._stat[path] = stamp
            digest = _digest(path)
            if digest != self._hash[path]:
                self._hash[path] = digest
                out.append(path)
        return out

    def digests(self) -> dict[str, str | None]:
        return {str(p): self._hash[p] for p in self.paths}


def _identity(plan: StrategyPlan) -> tuple[Any, ...]:
    hedge = hedge_instance(plan) if plan.hedge is not None else None
    hedge_symbol = (plan.hedge.symbol or plan.symbol) if plan.hedge is not None else None
    return (plan.venue, plan.symbol, plan.timeframe, plan.leverage, hedge, hedge_symbol)


def _same(old: StrategyPlan, new: StrategyPlan) -> bool:
    try:
        return (
            bool(old.describe() == new.describe())
            and old.risk == new.risk
            and (old.sizing == new.sizing and old.hedge == new.hedge and old.uses == new.uses)
            and old.params == new.params
        )
    except (TypeError, ValueError):
        return False


@dataclass
class ReloadPlan:
    """What a successful compile would change; ``refused`` says why it cannot be swapped in."""

    compiled: CompiledRules
    changed: list[StrategyPlan] = field(default_factory=list)
    refused: str | None = None


def plan_reload(engine: Engine, compiled: CompiledRules) -> ReloadPlan:
    old = {slot.name: slot.plan for slot in engine.slots}
    new = {plan.name: plan for plan in compiled.strategies}
    plan = ReloadPlan(compiled)
    if set(old) != set(new):
        added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
        parts = []
        if added:
            parts.append(f"adds {', '.join(added)}")
        if removed:
            parts.append(f"removes {', '.join(removed)}")
        plan.refused = (
            f"the edit {' and '.join(parts)}; strategies can only be added or removed by "
            "restarting the run"
        )
        return plan
    for name, new_plan in new.items():
        if _identity(old[name]) != _identity(new_plan):
            plan.refused = (
                f"strategy {name!r} changed its market, venue, timeframe, hedge venue or "
                "leverage; restart the run to change those (positions are kept)"
            )
            return plan
        if not _same(old[name], new_plan):
            plan.changed.append(new_plan)
    if engine.portfolio != compiled.portfolio:
        plan.refused = "the portfolio block changed; restart the run to change account limits"
    return plan


class Reloader:
    """Watches, compiles and swaps. ``history(slot, count)`` gives warm-up bars for a slot."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        paths: Sequence[Path],
        compile_paths: Callable[[], CompiledRules],
        history: Callable[[Any, int], list[dict[str, float]]],
        *,
        interval: float = 1.0,
        warmup_factor: int = 3,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.compile_paths = compile_paths
        self.history = history
        self.watcher = RuleWatcher(paths, interval=interval)
        self.warmup_factor = warmup_factor
        self.reloads = 0
        self.failures = 0
        self.last_error: str | None = None

    async def check(self, *, force: bool = False) -> str | None:
        """Called between bars: returns a one-line outcome when something changed."""
        changed = self.watcher.changed(force=force)
        if not changed:
            return None
        names = ", ".join(str(p) for p in changed)
        try:
            compiled = self.compile_paths()
        except RuleError as exc:
            self.failures += 1
            self.last_error = exc.render()
            log.error(
                "rule file changed (%s) but does not compile; the old rules keep running:\n%s",
                names,
                self.last_error,
            )
            return f"reload refused: {names} does not compile ({exc.location})"
        except SparkStackerError as exc:
            self.failures += 1
            self.last_error = str(exc)
            log.error(
                "rule file changed (%s) but cannot be loaded; the old rules keep running: %s",
                names,
                exc,
            )
            return f"reload refused: {exc}"
        plan = plan_reload(self.engine, compiled)
        if plan.refused is not None:
            self.failures += 1
            self.last_error = plan.refused
            log.error("rule file changed (%s); not swapped in: %s", names, plan.refused)
            return f"reload refused: {plan.refused}"
        await self.swap(plan)
        self.reloads += 1
        self.last_error = None
        swapped = ", ".join(p.name for p in plan.changed) or "nothing that trades"
        log.info("rules reloaded from %s: %s changed", names, swapped)
        return f"rules reloaded ({swapped} changed)"

    async def swap(self, plan: ReloadPlan) -> None:
        engine = self.engine
        by_name = {slot.name: slot for slot in engine.slots}
        for new_plan in plan.changed:
            slot = by_name[new_plan.name]
            runtime = create_runtime(self.registry, new_plan)
            warm = getattr(runtime, "warm_up", None)
            if warm is not None:
                count = (max(new_plan.warmup_bars, 1) * self.warmup_factor) + 2
                warm(self.history(slot, count))
            old_risk = slot.plan.risk
            slot.plan = new_plan
            slot.runtime = runtime
            group = engine.hedges.group_of(slot)
            if group is not None and new_plan.hedge is not None:
                group.spec = new_plan.hedge
            if (
                slot.leg.size != 0
                and not slot.busy
                and (old_risk.stop_loss, old_risk.take_profit)
                != (new_plan.risk.stop_loss, new_plan.risk.take_profit)
            ):
                await engine.executor.place_protective(slot)
            if group is not None:
                await engine.hedges.sync(slot)
