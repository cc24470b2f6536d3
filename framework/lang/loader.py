"""Reading a rule file and everything it imports.

``import "other.rules"`` resolves relative to the importing file; ``import "bundle:name.rules"``
reads a rule file an installed bundle ships. Only files ending in ``.rules`` can be imported (a
rule file from anyone can't make the compiler read other files), and an import cycle is an
error at the import that closes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sparkstacker.errors import RuleError
from sparkstacker.lang import ast
from sparkstacker.lang.diagnostics import Diagnostics
from sparkstacker.lang.parser import parse
from sparkstacker.registry import Registry


@dataclass
class LoadedFile:
    name: str  # how messages name the file
    key: str  # identity for cycle detection (absolute path or bundle ref)
    tree: ast.RuleFile
    via: ast.Import | None = None  # the import statement that brought it in


@dataclass
class Loaded:
    root: LoadedFile | None
    imports: list[LoadedFile] = field(default_factory=list)

    @property
    def files(self) -> tuple[str, ...]:
        names = [f.name for f in self.imports]
        if self.root is not None:
            names.insert(0, self.root.name)
        return tuple(names)


def load(
    text: str,
    filename: str,
    registry: Registry,
    diag: Diagnostics,
    *,
    path: Path | None = None,
) -> Loaded:
    """Parse ``text`` and, depth first, the files it imports. Errors go to ``diag``."""
    diag.sources.add(filename, text)
    key = str(path.resolve()) if path is not None else filename
    try:
        tree = parse(text, filename)
    except RuleError as err:
        diag.extend([err])
        return Loaded(None)
    root = LoadedFile(filename, key, tree)
    loaded = Loaded(root)
    base = path.parent if path is not None else Path.cwd()
    _imports(root, base, registry, diag, loaded, [key], {key})
    return loaded


def _imports(
    current: LoadedFile,
    base: Path,
    registry: Registry,
    diag: Diagnostics,
    loaded: Loaded,
    stack: list[str],
    seen: set[str],
) -> None:
    for item in current.tree.items:
        if not isinstance(item, ast.Import):
            continue
        resolved = _resolve(item, base, current.name, registry, diag)
        if resolved is None:
            continue
        name, key, text, folder = resolved
        if key in stack:
            cycle = " → ".join([*(_short(k) for k in stack[stack.index(key) :]), _short(key)])
            diag.error(
                f"import cycle: {cycle}",
                item.span,
                hint="move the shared definitions into a third file both import",
            )
            continue
        if key in seen:
            continue
        seen.add(key)
        diag.sources.add(name, text)
        try:
            tree = parse(text, name)
        except RuleError as err:
            diag.extend([err])
            continue
        child = LoadedFile(name, key, tree, via=item)
        _imports(child, folder, registry, diag, loaded, [*stack, key], seen)
        loaded.imports.append(child)


def _resolve(
    item: ast.Import, base: Path, importer: str, registry: Registry, diag: Diagnostics
) -> tuple[str, str, str, Path] | None:
    target = item.path
    if not target.endswith(".rules"):
        diag.error(f"only .rules files can be imported, not {target!r}", item.span)
        return None
    if ":" in target and target in registry.rule_files:
        rule_file = registry.rule_files.get(target)
        return target, target, rule_file.read_text(), base
    path = Path(target)
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        diag.error(
            f"imported file {target!r} does not exist (looked in {path.parent})",
            item.span,
            hint="imports are relative to the file that imports them",
        )
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        diag.error(f"can't read imported file {target!r}: {exc}", item.span)
        return None
    importer_dir = os.path.dirname(importer)
    name = (
        os.path.normpath(os.path.join(importer_dir, target))
        if not Path(target).is_absolute()
        else target
    )
    return name, str(path.resolve()), text, path.parent


def _short(key: str) -> str:
    return os.path.basename(key) if os.sep in key else key
