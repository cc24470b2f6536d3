"""User errors end in one line and a non-zero exit; tracebacks only with --debug."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from sparkstacker.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    result = _run("version")
    assert result.returncode == 0
    assert result.stdout.startswith("spark-stacker ")


def test_unknown_setting_is_one_line_and_exit_2() -> None:
    result = _run("version", env={"SPARKSTACKER_LOG_DRI": "x"})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "unknown setting" in lines[0]
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback() -> None:
    result = _run("--debug", "version", env={"SPARKSTACKER_LOG_DRI": "x"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "ConfigError" in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = _run("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
