"""Packaging guards: every package folder is listed, README and CI agree on the test command."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDERS = {
    "sparkstacker": "framework",
    "sparkstacker_plugins": "plugins",
    "sparkstacker_rules": "rules",
}


def _pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_folder_with_init_is_listed_as_a_package() -> None:
    config = _pyproject()["tool"]["setuptools"]
    listed = set(config["packages"])
    assert config["package-dir"] == FOLDERS
    found = set()
    for package, folder in FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder)
            found.add(".".join([package, *relative.parts]))
    missing = sorted(found - listed)
    assert not missing, f"packages missing from pyproject [tool.setuptools] packages: {missing}"
    stale = sorted(listed - found)
    assert not stale, f"listed packages with no __init__.py: {stale}"


def test_no_python_folder_lacks_an_init() -> None:
    """A folder of modules without __init__.py would silently drop out of the wheel."""
    for folder in FOLDERS.values():
        for module in (REPO / folder).rglob("*.py"):
            assert (module.parent / "__init__.py").exists(), f"{module.parent} has no __init__.py"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    command = ci.strip().splitlines()[-1]
    assert "pytest" in command
    assert command in readme, "the last line of .ci/run must appear verbatim in README.md"


def test_readme_quick_start_has_exactly_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", section, flags=re.S)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(commands) == 2, commands
    assert "spark-stacker" in commands[0]
    assert "pytest" in commands[1]


def test_builtin_plugins_are_entry_points_of_our_distribution() -> None:
    entry_points = _pyproject()["project"]["entry-points"]["sparkstacker"]
    kinds = {name.split(".")[0] for name in entry_points}
    assert {"exchanges", "indicators", "sizing", "strategies"} <= kinds
    assert "exchanges.sim" in entry_points
    assert "indicators.talib" in entry_points
