"""Name → plugin maps built from the ``register_*`` hooks. Two owners of one name is an error."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pluggy
from sparkstacker.bundles import RuleFile
from sparkstacker.errors import PluginError
from sparkstacker.exchange import ExchangePlugin
from sparkstacker.indicators import IndicatorSpec
from sparkstacker.plugins import PluginOrigin, make_plugin_manager, plugin_origin
from sparkstacker.sizing import Sizer
from sparkstacker.slippage import SlippagePlugin
from sparkstacker.strategy import StrategyPlugin

T = TypeVar("T")


def suggest(name: str, candidates: Iterator[str] | list[str], *, limit: int = 3) -> list[str]:
    """Close matches for a misspelled name ("did you mean …")."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=limit, cutoff=0.6)
    return [lowered[m] for m in matches]


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    item: T
    origin: PluginOrigin


class NamedRegistry(Generic[T]):
    """One kind of plugin item (indicators, sizers, …) keyed by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def add(self, name: str, item: T, origin: PluginOrigin) -> None:
        if name in self._entries:
            first = self._entries[name].origin
            raise PluginError(
                f"{self.kind} {name!r} is registered twice: by {first.describe()} and by "
                f"{origin.describe()}; uninstall or rename one of them"
            )
        self._entries[name] = Entry(name, item, origin)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> T:
        try:
            return self._entries[name].item
        except KeyError:
            raise PluginError(self.unknown_message(name)) from None

    def origin(self, name: str) -> PluginOrigin:
        return self._entries[name].origin

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in sorted(self._entries)]

    def suggestions(self, name: str) -> list[str]:
        return suggest(name, self.names())

    def unknown_message(self, name: str) -> str:
        close = self.suggestions(name)
        text = f"unknown {self.kind} {name!r}"
        if close:
            text += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        else:
            text += f"; {len(self)} {self.kind}s are installed (see `spark-stacker plugins`)"
        return text


class Registry:
    """Everything the installed plugins provide, by kind and name."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.exchanges: NamedRegistry[ExchangePlugin] = NamedRegistry("exchange")
        self.indicators: NamedRegistry[IndicatorSpec] = NamedRegistry("indicator")
        self.sizers: NamedRegistry[Sizer] = NamedRegistry("sizer")
        self.strategies: NamedRegistry[StrategyPlugin] = NamedRegistry("strategy")
        self.rule_files: NamedRegistry[RuleFile] = NamedRegistry("rule file")
        self.slippage_models: NamedRegistry[SlippagePlugin] = NamedRegistry("slippage model")
        self._collect("register_exchanges", self.exchanges, ExchangePlugin, lambda i: i.name)
        self._collect("register_indicators", self.indicators, IndicatorSpec, lambda i: i.name)
        self._collect("register_sizers", self.sizers, Sizer, lambda i: i.name)
        self._collect("register_strategies", self.strategies, StrategyPlugin, lambda i: i.name)
        self._collect("register_rule_files", self.rule_files, RuleFile, lambda i: i.ref)
        self._collect(
            "register_slippage_models", self.slippage_models, SlippagePlugin, lambda i: i.name
        )

    @classmethod
    def load(cls, **kwargs: Any) -> Registry:
        """Build a fresh plugin manager and the registry from it."""
        return cls(make_plugin_manager(**kwargs))

    def _collect(
        self,
        hook_name: str,
        target: NamedRegistry[Any],
        kind: type | Any,
        key: Callable[[Any], str],
    ) -> None:
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            origin = plugin_origin(self.pm, impl.plugin_name)
            try:
                items = impl.function()
            except Exception as exc:
                raise PluginError(
                    f"{hook_name} of {origin.describe()} raised {type(exc).__name__}: {exc}"
                ) from exc
            if items is None:
                continue
            if not isinstance(items, list | tuple):
                raise PluginError(
                    f"{hook_name} of {origin.describe()} must return a list, got "
                    f"{type(items).__name__}"
                )
            for item in items:
                if not isinstance(item, kind):
                    raise PluginError(
                        f"{hook_name} of {origin.describe()} returned {item!r}, which is not "
                        f"a {getattr(kind, '__name__', kind)}"
                    )
                target.add(key(item), item, origin)

    def plugin_rows(self) -> list[dict[str, str]]:
        """One row per (kind, name) for ``spark-stacker plugins``."""
        rows = []
        kinds: tuple[tuple[str, NamedRegistry[Any]], ...] = (
            ("exchange", self.exchanges),
            ("sizer", self.sizers),
            ("strategy", self.strategies),
            ("slippage", self.slippage_models),
            ("rule file", self.rule_files),
        )
        for kind, registry in kinds:
            for entry in registry.entries():
                rows.append(_row(kind, entry.name, entry.origin))
        # Indicators come in the hundreds: one row per providing plugin with a count.
        per_plugin: dict[str, tuple[PluginOrigin, int]] = {}
        for entry in self.indicators.entries():
            origin, count = per_plugin.get(entry.origin.plugin, (entry.origin, 0))
            per_plugin[entry.origin.plugin] = (origin, count + 1)
        for origin, count in per_plugin.values():
            rows.append(_row("indicator", f"{count} indicators", origin))
        return sorted(rows, key=lambda r: (r["kind"], r["name"]))


def _row(kind: str, name: str, origin: PluginOrigin) -> dict[str, str]:
    return {
        "kind": kind,
        "name": name,
        "plugin": origin.plugin,
        "distribution": origin.distribution,
        "version": origin.version,
        "module": origin.module,
    }
