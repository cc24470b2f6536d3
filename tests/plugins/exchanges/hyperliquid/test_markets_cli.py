"""``spark-stacker markets --exchange hyperliquid`` from the recorded meta (network blocked)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.shared


@pytest.fixture
def cli() -> Any:
    import sparkstacker.cli.markets_cmds  # noqa: F401 - registers the command on the app
    from sparkstacker.cli import app

    return app


def test_markets_json_lists_rules_from_the_mainnet_meta(
    cli: Any, replay: Any, real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    universe = body(real("test_get_info.yaml"))["universe"]
    with replay(real("test_get_info.yaml")):
        result = CliRunner().invoke(
            cli, ["markets", "--exchange", "hyperliquid", "--mainnet", "--json"]
        )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["venue_symbol"] for r in rows] == [a["name"] for a in universe]
    eth = next(r for r in rows if r["symbol"] == "ETH-USD")
    assert eth["asset_id"] == "1"
    assert eth["lot"] == "0.0001"
    assert eth["tick_rule"] == "5 sig. figs, <= 2 decimals"
    assert eth["max_leverage"] == "50"
    assert eth["min_notional"] == "10"
    assert replay.sent == [{"type": "meta", "dex": ""}]


def test_markets_table_on_testnet_shows_testnet_ids(
    cli: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("meta_testnet")):
        result = CliRunner().invoke(cli, ["markets", "--testnet", "--search", "eth"])
    assert result.exit_code == 0, result.output
    assert "ETH-USD" in result.output
    assert "BTC-USD" not in result.output
    line = next(line for line in result.output.splitlines() if "ETH-USD" in line)
    assert "│ 4 " in line
    assert "0.0001" in line
    assert "25" in line


def test_unknown_exchange_is_a_clear_error(cli: Any) -> None:
    result = CliRunner().invoke(cli, ["markets", "--exchange", "hyperliqiud"])
    assert result.exit_code != 0
    assert "did you mean 'hyperliquid'" in str(result.exception)
