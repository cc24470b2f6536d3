"""ruff and mypy are part of the test suite, so CI (which runs the README command) runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {
    "sparkstacker": "framework",
    "sparkstacker_plugins": "plugins",
    "sparkstacker_rules": "rules",
}


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return path


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [
            _tool("ruff"),
            "check",
            "framework",
            "plugins",
            "rules",
            "tests",
            "benchmarks",
            "examples",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean(tmp_path: Path) -> None:
    """mypy checks the packages under their import names through a symlinked tree."""
    for package, folder in PACKAGES.items():
        (tmp_path / package).symlink_to(REPO / folder, target_is_directory=True)
    result = subprocess.run(
        [
            _tool("mypy"),
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "-p",
            "sparkstacker",
            "-p",
            "sparkstacker_plugins",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
