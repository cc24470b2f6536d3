"""docker-compose's bot command is a valid ``spark-stacker run`` command line (run for real)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from runkit import spark

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
EXAMPLE = Path(__file__).resolve().parents[2] / "rules" / "examples" / "macd_flip_eth_1m.rules"


def expand(text: str, values: dict[str, str]) -> str:
    """docker compose's ${NAME:-default} interpolation."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return values.get(name, default)

    return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", one, text)


def test_compose_command_runs_a_paper_replay(tmp_path: Path, sample_store: Path) -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    bot = compose["services"]["bot"]
    command = [expand(part, {}) for part in bot["command"]]
    assert command[0] == "run"
    assert "--paper" in command  # the default SPARK_MODE
    assert command[1] == "/strategies/strategy.rules"
    command[1] = str(EXAMPLE)  # the mounted rule file
    env = {k: expand(str(v), {}) for k, v in bot["environment"].items()}
    env.update(
        SPARKSTACKER_METRICS_PORT="0",
        SPARKSTACKER_METRICS_HOST="127.0.0.1",
        SPARKSTACKER_LOG_DIR=str(tmp_path / "logs"),
        SPARKSTACKER_DB=f"sqlite:///{tmp_path / 'data' / 'j.db'}",
        SPARKSTACKER_STATE_DIR=str(tmp_path / "data" / "state"),
        SPARKSTACKER_DATA_DIR=str(sample_store),
    )
    result = spark(
        tmp_path, *command, "--bars", "30", "--speed", "max", "--quiet", "--log-json", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "Run completed" in result.stdout
    lines = (tmp_path / "logs" / "spark_stacker.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # --log-json: one JSON object per line
    assert {"ts", "level", "logger", "message", "run_id"} <= set(records[0])
    assert (tmp_path / "data" / "state" / "paper" / "hyperliquid.jsonl").exists()
    live = [expand(part, {"SPARK_MODE": "live"}) for part in bot["command"]]
    assert "--live" in live
