"""``run --live`` refuses without credentials, prints its plan, and needs --yes without a TTY.

Nothing here reaches a network: every refusal happens before a venue is contacted, and the
test checks that no journal or log was even created.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from runkit import child_env, command

FAKE_KEY = "0x" + "ab" * 32
ADDRESS = "0x" + "12" * 20
HEDGE = "0x" + "34" * 20
REPO = Path(__file__).resolve().parents[2]
MULTI = str(REPO / "rules" / "examples" / "multi_timeframe.rules")


def live(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command("run", "--live", *args),
        cwd=tmp_path,
        env=child_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def nothing_started(tmp_path: Path) -> None:
    assert not (tmp_path / "spark_stacker.db").exists()
    assert not (tmp_path / "_logs").exists()


def test_live_without_credentials_names_what_is_missing(tmp_path: Path) -> None:
    result = live(tmp_path, MULTI, "--yes")
    assert result.returncode == 2
    assert "SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY" in result.stderr
    assert "SPARKSTACKER_HYPERLIQUID_ACCOUNT_ADDRESS" in result.stderr
    assert "Nothing was sent" in result.stderr
    nothing_started(tmp_path)


def test_live_hedge_account_must_be_configured_before_confirming(tmp_path: Path) -> None:
    env = {
        "SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY": FAKE_KEY,
        "SPARKSTACKER_HYPERLIQUID_ACCOUNT_ADDRESS": ADDRESS,
    }
    result = live(tmp_path, MULTI, env=env)
    assert result.returncode == 2
    assert "SUB_ACCOUNTS" in result.stderr
    assert "hedge" in result.stderr
    nothing_started(tmp_path)


def test_live_prints_the_plan_and_refuses_without_yes_when_not_a_tty(tmp_path: Path) -> None:
    env = {
        "SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY": FAKE_KEY,
        "SPARKSTACKER_HYPERLIQUID_ACCOUNT_ADDRESS": ADDRESS,
        "SPARKSTACKER_HYPERLIQUID_SUB_ACCOUNTS": f'{{"hedge": "{HEDGE}"}}',
    }
    result = live(tmp_path, MULTI, env=env)
    assert result.returncode == 2, result.stderr
    assert "refusing to trade live without --yes" in result.stderr
    out = result.stdout
    assert "LIVE TRADING" in out
    assert "venue hyperliquid: testnet" in out
    assert "venue hyperliquid.hedge: testnet, account hedge" in out
    # What multi_timeframe.rules and ../portfolio.rules say, line by line:
    assert "strategy btc_conservative: BTC-USD 1d on hyperliquid, leverage 2x, size " in out
    assert "fixed_usd(amount=200)" in out
    assert "strategy eth_aggressive: ETH-USD 1h on hyperliquid, leverage 5x, size " in out
    assert "percent_equity(percent=0.1)" in out
    assert "hedge 25% at 3x on hyperliquid.hedge, within 15s else retry 3" in out
    limits = (
        "limits: stop_loss 3%, take_profit 9%, trailing_stop 1.5%, daily_loss 300 USD, "
        "margin_warning 70% reduce, margin_warning 85% close_all"
    )
    assert limits in out
    assert "governor: on drawdown 5% → reduce_only" in out
    assert "governor: on drawdown 10% → flatten" in out
    assert "governor: on daily_loss 300 USD → halt" in out
    assert "max gross exposure 5000 USD" in out
    for secret in (FAKE_KEY, FAKE_KEY[2:]):
        assert secret not in out
        assert secret not in result.stderr
    nothing_started(tmp_path)


def test_an_empty_confirmation_variable_is_not_a_yes(tmp_path: Path) -> None:
    """docker-compose passes SPARK_YES through even when unset (empty): that must not confirm."""
    env = {
        "SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY": FAKE_KEY,
        "SPARKSTACKER_HYPERLIQUID_ACCOUNT_ADDRESS": ADDRESS,
        "SPARK_YES": "",
    }
    result = live(tmp_path, str(REPO / "rules" / "examples" / "rsi_eth_4h.rules"), env=env)
    assert result.returncode == 2
    assert "refusing to trade live without --yes" in result.stderr
    nothing_started(tmp_path)
