"""Registers the rule files shipped with Spark Stacker as the ``examples`` bundle."""

from __future__ import annotations

from importlib.resources import files

from sparkstacker import hookimpl
from sparkstacker.bundles import RuleFile


@hookimpl
def register_rule_files() -> list[RuleFile]:
    root = files("sparkstacker_rules")
    found = []
    for folder in (root, root / "examples"):
        for item in folder.iterdir():
            if item.name.endswith(".rules"):
                found.append(RuleFile(bundle="examples", name=item.name, path=item))
    return sorted(found, key=lambda f: f.name)
