"""A third-party distribution is discovered through the entry point, without touching the kernel.

The example in examples/plugin-template is built into a wheel and installed into a throwaway
virtual environment that sees this environment's packages, then the real CLI runs there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "examples" / "plugin-template"


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("third_party")
    wheels = root / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(TEMPLATE),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    child_site = next((venv / "lib").glob("python3*/site-packages"))
    parent_site = sysconfig.get_paths()["purelib"]
    # Let the throwaway venv see this environment's packages (spark-stacker and its deps).
    (child_site / "_parent_env.pth").write_text(f"import site; site.addsitedir({parent_site!r})\n")
    wheel = next(wheels.glob("sparkstacker_example-*.whl"))
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return venv


def _cli(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SPARKSTACKER_DISABLE_PLUGIN_AUTOLOAD"}
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", "from sparkstacker.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=venv,
    )


def test_plugins_lists_the_example_distribution(plugin_venv: Path) -> None:
    result = _cli(plugin_venv, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    example = [r for r in rows if r["distribution"] == "sparkstacker-example"]
    kinds = {(r["kind"], r["name"]) for r in example}
    assert ("sizer", "fixed_risk_usd") in kinds
    assert any(r["kind"] == "indicator" and r["plugin"] == "indicators.example" for r in example)
    assert all(r["version"] == "0.1.0" for r in example)


def test_the_example_indicator_is_searchable(plugin_venv: Path) -> None:
    result = _cli(plugin_venv, "indicators", "--search", "zscore", "--json")
    assert result.returncode == 0, result.stderr
    (spec,) = [s for s in json.loads(result.stdout) if s["name"] == "zscore"]
    assert spec["name"] == "zscore"
    assert spec["outputs"] == ["value"]
    assert spec["params"] == [{"name": "period", "kind": "int", "default": 20}]
    assert spec["plugin"] == "indicators.example"


def test_the_plugin_is_not_visible_in_this_environment(registry) -> None:  # type: ignore[no-untyped-def]
    """The kernel was not touched: only the throwaway venv knows the example."""
    assert "zscore" not in registry.indicators
