"""The pipeline: load (parse + imports) → check → plans. Public entry points live here."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import cast

from sparkstacker.errors import RuleError
from sparkstacker.lang.check import CheckedStrategy, Checker
from sparkstacker.lang.diagnostics import Diagnostics, Sources, sorted_errors
from sparkstacker.lang.loader import load
from sparkstacker.lang.plan import CompiledRules, StrategyPlan
from sparkstacker.lang.rule_plan import RuleStrategyPlan
from sparkstacker.registry import Registry


def _diagnose(
    text: str, filename: str, registry: Registry, path: Path | None
) -> tuple[Diagnostics, CompiledRules | None]:
    diag = Diagnostics(Sources())
    try:
        loaded = load(text, filename, registry, diag, path=path)
        checked = Checker(registry, diag).check(loaded)
    except RecursionError:
        diag.error("the rule file is nested too deeply to check", None)
        return diag, None
    _deduplicate(diag)
    if diag.errors:
        return diag, None
    rules = CompiledRules(
        strategies=tuple(cast(StrategyPlan, _plan(s)) for s in checked.strategies),
        portfolio=checked.portfolio,
        files=loaded.files,
        warnings=tuple(sorted_errors(diag.warnings)),
    )
    return diag, rules


def _deduplicate(diag: Diagnostics) -> None:
    """A file-level let with a mistake is checked once per strategy: report it once."""
    seen: set[tuple[object, ...]] = set()
    unique = []
    for item in diag.items:
        key = (type(item), item.file, item.line, item.column, item.message)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    diag.items = unique


def _plan(checked: CheckedStrategy) -> RuleStrategyPlan:
    return RuleStrategyPlan(
        name=checked.name,
        venue=checked.venue,
        symbol=checked.symbol,
        timeframe=checked.timeframe,
        extra_timeframes=checked.program.higher,
        warmup_bars=checked.program.warmup,
        leverage=checked.leverage,
        sizing=checked.sizing,
        hedge=checked.hedge,
        risk=checked.risk,
        costs=checked.costs,
        uses=checked.uses,
        params=checked.params,
        source=checked.source,
        program=checked.program,
        plugins=tuple(checked.plugins),
    )


def compile_text(text: str, registry: Registry, filename: str = "<rules>") -> CompiledRules:
    """Compile rule text. Imports resolve relative to ``filename`` (or the working folder).

    Raises :class:`RuleError` (one problem) or :class:`RuleErrors` (several); warnings do not
    stop compilation and are listed in ``CompiledRules.warnings``.
    """
    path = Path(filename) if filename != "<rules>" else None
    diag, rules = _diagnose(text, filename, registry, path)
    if rules is None:
        diag.raise_errors()
        raise RuleError("the rule file could not be compiled", file=filename)  # pragma: no cover
    return rules


def compile_file(path: str | Path, registry: Registry) -> CompiledRules:
    """Compile one ``.rules`` file (and what it imports) into plans."""
    path = Path(path)
    text = _read(path)
    diag, rules = _diagnose(text, str(path), registry, path)
    if rules is None:
        diag.raise_errors()
        raise RuleError("the rule file could not be compiled", file=str(path))  # pragma: no cover
    return rules


def check_files(paths: Iterable[str | Path], registry: Registry) -> list[RuleError]:
    """Every error and warning of every file (``diagnostics.severity`` tells them apart)."""
    found: list[RuleError] = []
    for path in paths:
        path = Path(path)
        try:
            text = _read(path)
        except RuleError as err:
            found.append(err)
            continue
        diag, _ = _diagnose(text, str(path), registry, path)
        found.extend(sorted_errors(diag.items))
    return found


def check_text(text: str, registry: Registry, filename: str = "<rules>") -> list[RuleError]:
    path = Path(filename) if filename != "<rules>" else None
    diag, _ = _diagnose(text, filename, registry, path)
    return sorted_errors(diag.items)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleError(f"no such rule file: {path}", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"can't read {path}: {exc}", file=str(path)) from exc
