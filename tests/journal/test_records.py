"""Runs (rule files, config without secrets), signals, account snapshots, funding, risk, groups."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal
from sparkstacker.model import (
    AccountState,
    Balance,
    Direction,
    MarginMode,
    Position,
    Signal,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
# sha256("abc"), the FIPS 180-2 test vector.
SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def rows(journal: Journal, sql: str) -> list[tuple[object, ...]]:
    with journal.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


# ---- runs ---------------------------------------------------------------------------------------


def test_run_records_rule_files_with_sha256_and_its_end(journal: Journal, tmp_path: Path) -> None:
    rule = tmp_path / "macd.rules"
    rule.write_bytes(b"abc")
    run_id = journal.start_run("backtest", [rule], {"symbol": "ETH-USD", "leverage": Decimal("3")})
    run = journal.run(run_id)
    assert run is not None
    assert run.mode == "backtest"
    assert run.status == "running"
    assert run.ended_at is None
    assert [(f.path, f.sha256) for f in run.rule_files] == [(str(rule), SHA256_ABC)]
    assert run.config == {"symbol": "ETH-USD", "leverage": "3"}

    journal.end_run(run_id, "completed", {"trades": 3, "pnl": Decimal("12.50")})
    ended = journal.run(run_id)
    assert ended is not None
    assert ended.status == "completed"
    assert ended.summary == {"trades": 3, "pnl": "12.50"}
    assert ended.ended_at is not None
    assert ended.ended_at >= ended.started_at


def test_run_ids_are_unique_in_their_first_twelve_characters(journal: Journal) -> None:
    """The engine derives client order ids from ``run_id[:12]``."""
    ids = [journal.start_run("backtest", [], {}) for _ in range(20)]
    assert len({i[:12] for i in ids}) == 20


def test_runs_list_newest_first_and_resolve_prefix(journal: Journal) -> None:
    first = journal.start_run("paper", [], {})
    second = journal.start_run("backtest", [], {})
    assert [r.id for r in journal.runs()][:2] == [second, first]
    assert [r.id for r in journal.runs(mode="paper")] == [first]
    assert journal.resolve_run(first[:10]) == first
    with pytest.raises(JournalError, match="no run id starts with"):
        journal.resolve_run("zzzz")
    with pytest.raises(JournalError, match="ambiguous"):
        journal.resolve_run("")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda j, p: j.start_run("sandbox", [], {}), "run mode"),
        (lambda j, p: j.start_run("paper", [p / "missing.rules"], {}), "cannot be read"),
        (lambda j, p: j.end_run("ghost", "completed", {}), "not in the journal"),
        (lambda j, p: j.start_run("paper", [], {"when": object()}), "cannot store object"),
    ],
)
def test_bad_run_input_is_a_clear_journal_error(
    journal: Journal, tmp_path: Path, call: object, message: str
) -> None:
    with pytest.raises(JournalError, match=message):
        call(journal, tmp_path)  # type: ignore[operator]
    assert journal.runs() == []


def test_secrets_never_reach_the_journal(journal: Journal, tmp_path: Path) -> None:
    private_key = "0x" + "ab12" * 16
    config = {
        "exchange": {
            "name": "hyperliquid",
            "wallet_address": "0x" + "cd" * 20,
            "private_key": "pk-LEAK-1",
            "api_secret": SecretStr("LEAK-2"),
            "settings": {"ApiKey": "LEAK-3", "passphrase": "LEAK-4"},
        },
        "accessToken": "LEAK-5",
        "db_password": "LEAK-6",
        "signers": [private_key, "keep-me"],
        "leverage": 3,
        "note": SecretStr("LEAK-7"),
    }
    run_id = journal.start_run("live", [], config)
    run = journal.run(run_id)
    assert run is not None
    assert run.config["exchange"]["name"] == "hyperliquid"
    assert run.config["exchange"]["wallet_address"] == "0x" + "cd" * 20  # an address is public
    assert run.config["leverage"] == 3
    assert run.config["signers"] == ["keep-me"]
    assert run.config["_redacted"] == sorted(
        [
            "accessToken",
            "db_password",
            "exchange.api_secret",
            "exchange.private_key",
            "exchange.settings.ApiKey",
            "exchange.settings.passphrase",
            "note",
            "signers[0]",
        ]
    )
    # Same rule for the summary, risk data and hedge-group data.
    journal.end_run(run_id, "stopped", {"token": "LEAK-8", "ok": True})
    journal.record_risk_event(run_id, "k", "info", "m", data={"secret": "LEAK-9"})
    journal.record_group_event(run_id, "g", "open", {"auth": {"x": "LEAK-10"}, "private": 1})
    counts = journal.export_all(tmp_path / "csv")
    assert counts["runs"] == 1
    dumped = "".join(p.read_text() for p in (tmp_path / "csv").glob("*.csv"))
    assert "LEAK" not in dumped
    assert private_key not in dumped
    assert "keep-me" in dumped  # the dump does contain the config


# ---- signals, snapshots, funding -----------------------------------------------------------------


def test_signals_record_decision_and_strategy_once(journal: Journal, run_id: str) -> None:
    signal = Signal(
        strategy="macd_eth",
        venue="sim",
        symbol="ETH-USD",
        direction=Direction.LONG,
        confidence=Decimal("0.75"),
        timestamp=T0,
        source="enter long at macd_eth.rules:7",
        price=Decimal("2500.5"),
        reason="macd crossed",
    )
    journal.record_signal(run_id, signal, accepted=True, reason=None)
    journal.record_signal(
        run_id,
        signal.model_copy(update={"direction": Direction.FLAT}),
        accepted=False,
        reason="risk: daily loss limit",
    )
    assert rows(journal, "SELECT name FROM strategies") == [("macd_eth",)]
    stored = rows(
        journal,
        "SELECT direction, confidence, price, accepted, decision_reason, source "
        "FROM signals ORDER BY id",
    )
    assert [(d, c, p, bool(a), r) for d, c, p, a, r, _ in stored] == [
        ("long", "0.75", "2500.5", True, None),
        ("flat", "0.75", "2500.5", False, "risk: daily loss limit"),
    ]


def test_account_snapshot_keeps_balances_and_positions_exactly(
    journal: Journal, run_id: str
) -> None:
    account = AccountState(
        venue="hyperliquid",
        account="main",
        equity=Decimal("10123.456789"),
        collateral=Decimal("10000"),
        margin_used=Decimal("812.5"),
        maintenance_margin=Decimal("101.25"),
        balances=(Balance(asset="USDC", total=Decimal("10000"), available=Decimal("9187.5")),),
        positions=(
            Position(
                venue="hyperliquid",
                symbol="ETH-USD",
                size=Decimal("-1.5"),
                entry_price=Decimal("2500"),
                leverage=Decimal("5"),
                margin_mode=MarginMode.ISOLATED,
                liquidation_price=Decimal("3100.1"),
                unrealized_pnl=Decimal("123.456789"),
                mark_price=Decimal("2417.70"),
            ),
        ),
        timestamp=T0,
        simulated=True,
    )
    journal.record_account(run_id, account)
    assert rows(
        journal, "SELECT equity, collateral, margin_used, simulated, account FROM balances"
    ) == [("10123.456789", "10000", "812.5", True, "main")]
    assert rows(
        journal,
        "SELECT symbol, size, entry_price, margin_mode, liquidation_price, mark_price, account "
        "FROM positions",
    ) == [("ETH-USD", "-1.5", "2500", "isolated", "3100.1", "2417.70", "main")]


def test_funding_is_recorded_once_per_settlement(journal: Journal, run_id: str) -> None:
    args = ("hyperliquid", "ETH-USD", T0, Decimal("0.0000125"), Decimal("-0.031250"))
    journal.record_funding(run_id, *args)
    journal.record_funding(run_id, *args)  # replayed after a reconnect: not counted twice
    journal.record_funding(run_id, *args, account="sub")
    assert rows(journal, "SELECT rate, payment, account FROM funding_payments ORDER BY id") == [
        ("0.0000125", "-0.031250", "main"),
        ("0.0000125", "-0.031250", "sub"),
    ]


# ---- risk events and hedge groups ----------------------------------------------------------------


def test_blocking_risk_events_by_market_venue_and_globally(journal: Journal, run_id: str) -> None:
    market = journal.record_risk_event(
        run_id,
        "unexplained_position",
        "critical",
        "venue shows 2 ETH we never ordered",
        venue="hyperliquid",
        symbol="ETH-USD",
        blocks_entries=True,
        data={"size": Decimal("2")},
    )
    venue_wide = journal.record_risk_event(
        run_id, "format_error", "error", "bad response", venue="sim", blocks_entries=True
    )
    notice = journal.record_risk_event(
        run_id, "drift", "warning", "notice only", venue="hyperliquid"
    )

    def blocking(venue: str, symbol: str) -> list[int]:
        return [e.id for e in journal.blocking_risk_events(venue, symbol)]

    assert blocking("hyperliquid", "ETH-USD") == [market]
    assert blocking("hyperliquid", "BTC-USD") == []
    assert blocking("sim", "BTC-USD") == [venue_wide]
    [event] = journal.blocking_risk_events("hyperliquid", "ETH-USD")
    assert event.data == {"size": "2"}
    assert event.severity == "critical"

    everything = journal.record_risk_event(
        run_id, "kill", "critical", "kill switch", blocks_entries=True
    )
    assert blocking("hyperliquid", "BTC-USD") == [everything]

    journal.resolve_risk_event(market, "adopted the position after review")
    assert blocking("hyperliquid", "ETH-USD") == [everything]
    resolved = next(e for e in journal.risk_events(run_id) if e.id == market)
    assert resolved.is_resolved
    assert resolved.resolution == "adopted the position after review"
    assert [e.id for e in journal.risk_events(unresolved_only=True)] == [
        venue_wide,
        notice,
        everything,
    ]
    with pytest.raises(JournalError, match="already resolved"):
        journal.resolve_risk_event(market, "again")
    with pytest.raises(JournalError, match="not in the journal"):
        journal.resolve_risk_event(10_000, "nope")


def test_group_events_are_sequenced_per_group(journal: Journal, run_id: str) -> None:
    steps: list[tuple[str, dict[str, object]]] = [
        ("open_main", {"cloid": "m1"}),
        ("open_hedge", {"cloid": "h1", "ratio": Decimal("0.5")}),
        ("hedged", {}),
    ]
    for n, (step, data) in enumerate(steps):
        journal.record_group_event(run_id, "g1", step, data, at=T0 + timedelta(seconds=n))
    journal.record_group_event(run_id, "g2", "open_main", {"cloid": "m2"})
    events = journal.group_events("g1")
    assert [(e.seq, e.step, e.data) for e in events] == [
        (1, "open_main", {"cloid": "m1"}),
        (2, "open_hedge", {"cloid": "h1", "ratio": "0.5"}),
        (3, "hedged", {}),
    ]
    assert events[2].timestamp == T0 + timedelta(seconds=2)
    assert rows(
        journal, "SELECT group_id, last_step, steps FROM position_groups ORDER BY group_id"
    ) == [
        ("g1", "hedged", 3),
        ("g2", "open_main", 1),
    ]
    assert journal.group_events("none") == []


def test_rule_file_digest_matches_hashlib(journal: Journal, tmp_path: Path) -> None:
    rule = tmp_path / "big.rules"
    rule.write_bytes(bytes(range(256)) * 1000)
    run = journal.run(journal.start_run("paper", [rule], {}))
    assert run is not None
    assert run.rule_files[0].sha256 == hashlib.sha256(rule.read_bytes()).hexdigest()
