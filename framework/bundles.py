"""Rule files shipped by packages (strategy bundles) through ``register_rule_files``."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path


@dataclass(frozen=True)
class RuleFile:
    """A rule file a distribution ships. ``name`` is how users refer to it: ``bundle:file``."""

    bundle: str
    name: str
    path: Path | Traversable
    summary: str = ""

    @property
    def ref(self) -> str:
        return f"{self.bundle}:{self.name}"

    def read_text(self) -> str:
        return self.path.read_text(encoding="utf-8")
