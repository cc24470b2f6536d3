"""Build a plugin manager: hook specs, the kernel's own hooks, and entry-point plugins.

There is no module-level manager: every caller (the CLI, a test) builds a fresh one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from sparkstacker import hookspecs
from sparkstacker.errors import PluginError
from sparkstacker.hookspecs import PROJECT, hookimpl
from sparkstacker.model import OrderSubmission

ENTRY_POINT_GROUP = PROJECT
OWN_DISTRIBUTION = "spark-stacker"
AUTOLOAD_ENV = "SPARKSTACKER_DISABLE_PLUGIN_AUTOLOAD"
TRACE_ENV = "SPARKSTACKER_TRACE_PLUGINS"


class KernelHooks:
    """The kernel's own hook implementations (the innermost ``submit_order``)."""

    @hookimpl(trylast=True)
    def submit_order(self, submission: OrderSubmission) -> OrderSubmission:
        return submission


class SparkPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution each plugin came from."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.origins: dict[str, PluginOrigin] = {}


@dataclass(frozen=True)
class PluginOrigin:
    """Where a registered plugin came from, for ``spark-stacker plugins`` and error messages."""

    plugin: str
    distribution: str
    version: str
    module: str

    def describe(self) -> str:
        return f"{self.plugin} ({self.distribution} {self.version})"


def _distribution_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else "<unknown>"


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-")


def discover_entry_points(*, third_party: bool = True) -> list[EntryPoint]:
    """Entry points in the ``sparkstacker`` group; built-ins (our distribution) always included."""
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        own = _normalise(_distribution_name(ep)) == OWN_DISTRIBUTION
        if own or third_party:
            found.append(ep)
    return sorted(found, key=lambda ep: (not _is_own(ep), ep.name))


def _is_own(ep: EntryPoint) -> bool:
    return _normalise(_distribution_name(ep)) == OWN_DISTRIBUTION


def make_plugin_manager(
    *,
    autoload: bool | None = None,
    builtins: bool = True,
    plugins: Iterable[object] = (),
) -> SparkPluginManager:
    """A fresh manager with every hook spec, the kernel hooks and the discovered plugins.

    ``autoload`` (default: on unless ``SPARKSTACKER_DISABLE_PLUGIN_AUTOLOAD`` is set) controls
    third-party entry points; ``builtins`` controls our own distribution's entry points.
    ``plugins`` are extra plugin objects registered after them (tests use this).
    A hook implementation with no matching spec (a misspelled hook) raises PluginError.
    """
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    pm = SparkPluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    _register(pm, KernelHooks(), "sparkstacker.kernel", source="kernel hooks")
    owners: dict[str, str] = {}
    if builtins or autoload:
        for ep in discover_entry_points(third_party=autoload):
            if not builtins and _is_own(ep):
                continue
            _load_entry_point(pm, ep, owners)
    for index, plugin in enumerate(plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        _register(pm, plugin, name, source=f"plugin object {name}")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"plugin {exc.plugin!r} implements a hook that does not exist: {exc}. "
            "Check the spelling against sparkstacker.hookspecs."
        ) from exc
    if os.environ.get(TRACE_ENV):
        _trace(pm)
    return pm


def _load_entry_point(pm: SparkPluginManager, ep: EntryPoint, owners: dict[str, str]) -> None:
    dist = _distribution_name(ep)
    if ep.name in owners:
        raise PluginError(
            f"entry point {ep.name!r} is claimed by two distributions: {owners[ep.name]} and "
            f"{dist}; uninstall one of them"
        )
    owners[ep.name] = dist
    try:
        plugin = ep.load()
    except Exception as exc:
        raise PluginError(
            f"plugin {ep.name!r} from {dist} failed to load ({ep.value}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    dist_obj = getattr(ep, "dist", None)
    origin = PluginOrigin(
        plugin=ep.name,
        distribution=dist,
        version=dist_obj.version if dist_obj is not None else "",
        module=getattr(plugin, "__name__", type(plugin).__module__),
    )
    _register(pm, plugin, ep.name, source=f"plugin {ep.name!r} from {dist}", origin=origin)


def _register(
    pm: SparkPluginManager,
    plugin: object,
    name: str,
    *,
    source: str,
    origin: PluginOrigin | None = None,
) -> None:
    try:
        pm.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        raise PluginError(f"{source} could not be registered: {exc}") from exc
    pm.origins[name] = origin or PluginOrigin(
        plugin=name,
        distribution="<local>",
        version="",
        module=getattr(plugin, "__name__", type(plugin).__module__),
    )


def plugin_origin(pm: pluggy.PluginManager, plugin_name: str) -> PluginOrigin:
    origins = getattr(pm, "origins", {})
    if plugin_name in origins:
        return origins[plugin_name]
    plugin = pm.get_plugin(plugin_name)
    module = getattr(plugin, "__name__", type(plugin).__module__)
    return PluginOrigin(plugin=plugin_name, distribution="<local>", version="", module=module)


def _trace(pm: pluggy.PluginManager) -> None:
    import sys

    def before(hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        print(
            f"[plugins] {hook_name}({', '.join(kwargs)}) -> {len(impls)} impl(s)", file=sys.stderr
        )

    def after(
        outcome: Any, hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> None:
        return None

    pm.add_hookcall_monitoring(before, after)
