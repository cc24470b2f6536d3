"""CSV export and the ``orders`` / ``trades`` / ``export`` commands against a real journal."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sparkstacker.cli.journal_cmds  # noqa: F401 - registers the commands on ``app``
from sparkstacker.cli import app, main
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal
from sparkstacker.model import Fill, Order, OrderEvent, OrderEventKind, OrderStatus, Side
from typer.testing import CliRunner

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
EXPECTED_CSVS = {"orders", "order_events", "fills", "signals", "balances", "funding", "risk_events"}


def populate(
    journal: Journal, make_order: Callable[..., Order], make_fill: Callable[..., Fill]
) -> str:
    """One filled round trip (buy 1 @ 2500, sell 1 @ 2600, fees 0.5 each) and one open order."""
    run_id = journal.start_run("backtest", [], {"name": "cli"})
    for cloid, side, price in (("buy-1", Side.BUY, "2500"), ("sell-1", Side.SELL, "2600")):
        order = make_order(cloid, side=side, price=Decimal(price), size=Decimal(1))
        journal.record_intent(run_id, order, strategy="s", reason=None)
        submitted = order.transition(OrderStatus.SUBMITTED, at=T0)
        journal.record_order_event(
            run_id, OrderEvent(kind=OrderEventKind.SUBMITTED, order=submitted, timestamp=T0)
        )
        at = T0 + timedelta(minutes=1 if side is Side.BUY else 2)
        fill = make_fill(
            f"f-{cloid}", client_order_id=cloid, side=side, price=Decimal(price), timestamp=at
        )
        journal.record_order_event(
            run_id,
            OrderEvent(
                kind=OrderEventKind.FILL, order=submitted.apply_fill(fill), timestamp=at, fill=fill
            ),
        )
    journal.record_intent(run_id, make_order("resting"), strategy="s", reason=None)
    journal.record_funding(run_id, "sim", "ETH-USD", T0, Decimal("0.0001"), Decimal("0.25"))
    journal.record_risk_event(run_id, "drawdown", "warning", "5% down")
    return run_id


@pytest.fixture
def sqlite_journal(
    tmp_path: Path, make_order: Callable[..., Order], make_fill: Callable[..., Fill]
) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with Journal(url) as journal:
        run_id = populate(journal, make_order, make_fill)
        journal.start_run("paper", [], {})  # another run that the --run filter must leave out
    return url, run_id


def test_export_csv_writes_exact_values(
    journal: Journal,
    make_order: Callable[..., Order],
    make_fill: Callable[..., Fill],
    tmp_path: Path,
) -> None:
    run_id = populate(journal, make_order, make_fill)
    other = journal.start_run("paper", [], {})
    journal.record_fill(other, make_fill("elsewhere"))
    count = journal.export_csv("fills", tmp_path / "fills.csv", run_id)
    with (tmp_path / "fills.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert count == len(rows) == 2
    assert [(r["fill_id"], r["price"], r["fee"], r["side"]) for r in rows] == [
        ("f-buy-1", "2500", "0.5", "buy"),
        ("f-sell-1", "2600", "0.5", "sell"),
    ]
    assert rows[0]["timestamp"] == "2024-03-01T12:01:00+00:00"
    assert rows[0]["is_liquidation"] == "false"
    with pytest.raises(JournalError, match="no table 'nope'"):
        journal.export_csv("nope", tmp_path / "x.csv")


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_orders_command_table_and_json(sqlite_journal: tuple[str, str]) -> None:
    url, run_id = sqlite_journal
    table = invoke("orders", "--db", url)
    assert "Orders (3)" in table
    for text in ("buy-1", "sell-1", "resting", "filled", "2500.5"):
        assert text in table
    listed = json.loads(invoke("orders", "--db", url, "--run", run_id[:8], "--json"))
    assert [o["client_order_id"] for o in listed] == ["buy-1", "sell-1", "resting"]
    assert listed[0]["avg_fill_price"] == "2500"
    opened = json.loads(invoke("orders", "--db", url, "--open", "--json"))
    assert [o["client_order_id"] for o in opened] == ["resting"]


def test_trades_command(sqlite_journal: tuple[str, str]) -> None:
    url, run_id = sqlite_journal
    [trip] = json.loads(invoke("trades", "--db", url, "--run", run_id, "--json"))
    # (2600 − 2500) × 1 = 100 gross; fees 0.5 + 0.5 = 1; funding 0.25 was at T0, before entry.
    assert (trip["pnl"], trip["fees"], trip["net_pnl"]) == ("100", "1.0", "99.0")
    table = invoke("trades", "--db", url)
    assert "Trades (1)" in table
    assert "99" in table


def test_export_command_writes_one_csv_per_table(
    sqlite_journal: tuple[str, str], tmp_path: Path
) -> None:
    url, run_id = sqlite_journal
    out = tmp_path / "out"
    invoke("export", "--csv", str(out), "--db", url, "--run", run_id)
    written = {p.stem for p in out.glob("*.csv")}
    assert written >= EXPECTED_CSVS
    with (out / "runs.csv").open() as handle:
        assert [r["id"] for r in csv.DictReader(handle)] == [run_id]
    with (out / "order_events.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 7  # 2 × (intent, submitted, fill) + intent


def test_missing_database_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(SystemExit) as exit_info:
        main(["orders", "--db", f"sqlite:///{missing}"])
    assert exit_info.value.code == 2
    assert "no journal at" in capsys.readouterr().err
    assert not missing.exists()  # a read command never creates a database


def test_db_defaults_to_the_settings(
    sqlite_journal: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, _ = sqlite_journal
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPARKSTACKER_DB", url)
    assert "Orders (3)" in invoke("orders")
