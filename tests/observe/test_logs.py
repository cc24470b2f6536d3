"""The four log files: formats, rotation, idempotent setup/teardown, balance and market logs."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sparkstacker.errors import ConfigError
from sparkstacker.model import AccountState, Balance, OrderBook, Position
from sparkstacker.model.market import BookLevel, FundingRate
from sparkstacker.observe import OrderLogPlugin, setup_logging, teardown_logging
from sparkstacker.observe.logs import DEFAULT_LOGGERS, active_log_files

T0_ISO = "2025-03-01T12:00:00.000Z"


def _our_handlers() -> list[logging.Handler]:
    return [h for name in DEFAULT_LOGGERS for h in logging.getLogger(name).handlers]


def _open_fds_under(path: Path) -> list[str]:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("no /proc on this platform")
    found = []
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(fd_dir / fd)
        except OSError:
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


def test_setup_creates_the_four_files(tmp_path: Path):
    with setup_logging(tmp_path / "_logs", fmt="text", level="INFO") as files:
        names = sorted(p.name for p in (tmp_path / "_logs").iterdir())
        assert set(files.paths) == set(names)
    assert names == ["balance.log", "markets.log", "orders.log", "spark_stacker.log"]


def test_text_lines_have_utc_time_level_logger_and_message(tmp_path: Path):
    with setup_logging(tmp_path, fmt="text", level="INFO") as files:
        logging.getLogger("sparkstacker.engine").info("bar %d processed", 42)
        logging.getLogger("sparkstacker_plugins.exchanges.sim").warning("slow fill")
        logging.getLogger("sparkstacker.engine").debug("below the level")
        text = files.main_path.read_text()
    lines = text.splitlines()
    assert len(lines) == 2
    pattern = (
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO    sparkstacker\.engine: bar 42 processed"
    )
    assert re.fullmatch(pattern, lines[0])
    assert lines[1].endswith("WARNING sparkstacker_plugins.exchanges.sim: slow fill")


def test_json_format_has_structured_fields_and_exceptions(tmp_path: Path):
    with setup_logging(tmp_path, fmt="json", level="DEBUG", run_id="bt-7") as files:
        log = logging.getLogger("sparkstacker.risk")
        log.debug("drawdown %s%%", Decimal("4.5"), extra={"strategy": "macd", "dd": 0.045})
        try:
            raise RuntimeError("venue went away")
        except RuntimeError:
            log.exception("order loop crashed")
        lines = [json.loads(line) for line in files.main_path.read_text().splitlines()]
    assert lines[0]["message"] == "drawdown 4.5%"
    assert lines[0]["level"] == "DEBUG"
    assert lines[0]["logger"] == "sparkstacker.risk"
    assert lines[0]["run_id"] == "bt-7"
    assert lines[0]["strategy"] == "macd"
    assert lines[0]["dd"] == 0.045
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0]["ts"])
    assert lines[1]["level"] == "ERROR"
    assert "Traceback (most recent call last)" in lines[1]["exc"]
    assert "RuntimeError: venue went away" in lines[1]["exc"]


def test_setup_twice_does_not_duplicate_handlers_or_leak_files(tmp_path: Path):
    before = len(_our_handlers())
    first = setup_logging(tmp_path / "a", fmt="text", level="INFO")
    second = setup_logging(tmp_path / "b", fmt="json", level="INFO")
    third = setup_logging(tmp_path / "b", fmt="json", level="INFO")
    try:
        assert first.closed
        assert second.closed
        assert not third.closed
        assert active_log_files() is third
        # one main handler per logger we attach to
        assert len(_our_handlers()) == before + len(DEFAULT_LOGGERS)
        logging.getLogger("sparkstacker").info("once")
        assert (tmp_path / "b" / "spark_stacker.log").read_text().count('"once"') == 1
        assert (tmp_path / "a" / "spark_stacker.log").read_text() == ""
        assert _open_fds_under(tmp_path / "a") == []
    finally:
        teardown_logging()
    assert len(_our_handlers()) == before
    assert _open_fds_under(tmp_path) == []
    teardown_logging()  # idempotent


def test_teardown_restores_logger_levels(tmp_path: Path):
    logger = logging.getLogger("sparkstacker")
    previous = logger.level
    with setup_logging(tmp_path, fmt="text", level="DEBUG"):
        assert logger.level == logging.DEBUG
    assert logger.level == previous


def test_main_log_rotates(tmp_path: Path):
    with setup_logging(tmp_path, fmt="text", level="INFO", max_bytes=2000, backups=2) as files:
        log = logging.getLogger("sparkstacker.rotation")
        for i in range(200):
            log.info("line %03d %s", i, "x" * 40)
    rotated = sorted(p.name for p in tmp_path.glob("spark_stacker.log*"))
    assert rotated == ["spark_stacker.log", "spark_stacker.log.1", "spark_stacker.log.2"]
    for path in tmp_path.glob("spark_stacker.log*"):
        assert path.stat().st_size <= 2000
    # the newest line is in the live file, older ones were dropped past two backups
    assert "line 199" in files.main_path.read_text()
    assert "line 000" not in "".join(p.read_text() for p in tmp_path.glob("spark_stacker.log*"))


def test_orders_log_rotates_and_keeps_whole_lines(tmp_path, lifecycle, json_lines):
    with setup_logging(tmp_path, fmt="text", level="INFO", max_bytes=1500, backups=3) as files:
        plugin = OrderLogPlugin(files.orders)
        for i in range(30):
            plugin.on_order_event(lifecycle(client_order_id=f"rot-{i:02d}").intent())
    files_on_disk = sorted(tmp_path.glob("orders.log*"))
    assert [p.name for p in files_on_disk] == [
        "orders.log",
        "orders.log.1",
        "orders.log.2",
        "orders.log.3",
    ]
    assert all(p.stat().st_size <= 1500 for p in files_on_disk)
    seqs = sorted(line["seq"] for path in files_on_disk for line in json_lines(path))
    # every line on disk parses; the newest are kept without a gap, the oldest rotated away
    assert seqs == list(range(seqs[0], 31))
    assert seqs[0] > 1
    assert json_lines(tmp_path / "orders.log")[-1]["client_order_id"] == "rot-29"


def test_balance_log_writes_account_snapshots(tmp_path, json_lines):
    from datetime import UTC, datetime

    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    position = Position(
        venue="hyperliquid",
        symbol="ETH-USD",
        size=Decimal("-0.5"),
        entry_price=Decimal("2600"),
        mark_price=Decimal("2500"),
        liquidation_price=Decimal("3000"),
        unrealized_pnl=Decimal("50"),
        leverage=Decimal("5"),
    )
    flat = Position(venue="hyperliquid", symbol="BTC-USD")
    account = AccountState(
        venue="hyperliquid",
        equity=Decimal("1050"),
        collateral=Decimal("1000"),
        margin_used=Decimal("250"),
        maintenance_margin=Decimal("105"),
        positions=(position, flat),
        balances=(Balance(asset="USDC", total=Decimal("1000"), available=Decimal("750")),),
        timestamp=at,
        simulated=True,
    )
    with setup_logging(tmp_path, fmt="text", level="INFO", run_id="paper-1") as files:
        assert files.balance.write(account)
    (line,) = json_lines(tmp_path / "balance.log")
    assert line["ts"] == T0_ISO
    assert line["run_id"] == "paper-1"
    assert line["simulated"] is True
    assert Decimal(line["equity"]) == Decimal("1050")
    assert Decimal(line["collateral"]) == Decimal("1000")
    assert Decimal(line["available_margin"]) == Decimal("800")  # 1050 - 250
    assert Decimal(line["margin_ratio"]) == Decimal("0.1")  # 105 / 1050
    assert len(line["positions"]) == 1  # flat positions are left out
    pos = line["positions"][0]
    assert pos["direction"] == "short"
    assert Decimal(pos["size"]) == Decimal("-0.5")
    assert Decimal(pos["liquidation_distance"]) == Decimal("0.2")  # |2500 - 3000| / 2500
    assert line["balances"] == [{"asset": "USDC", "total": "1000", "available": "750"}]


def test_balance_log_throttles_per_account(tmp_path, json_lines):
    from datetime import UTC, datetime

    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def snapshot(seconds: int, account: str = "main") -> AccountState:
        return AccountState(
            venue="sim",
            account=account,
            equity=Decimal(1000 + seconds),
            collateral=Decimal(1000),
            timestamp=at + timedelta(seconds=seconds),
        )

    with setup_logging(tmp_path, fmt="text", level="INFO", balance_interval=60) as files:
        written = [files.balance.write(snapshot(s)) for s in (0, 30, 59, 60, 61, 130)]
        assert files.balance.write(snapshot(0, account="hedge"))
        assert files.balance.write(snapshot(1, account="hedge"), force=True)
    assert written == [True, False, False, True, False, True]
    equities = [line["equity"] for line in json_lines(tmp_path / "balance.log")]
    assert equities == ["1000", "1060", "1130", "1000", "1001"]


def test_market_log_throttles_per_symbol_on_event_time(tmp_path, json_lines):
    from datetime import UTC, datetime

    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    with setup_logging(tmp_path, fmt="text", level="INFO", market_interval=60) as files:
        results = []
        for minute_fraction in range(0, 300, 15):  # every 15 s for 5 minutes
            results.append(
                files.markets.write(
                    venue="hyperliquid",
                    symbol="ETH-USD",
                    ts=t0 + timedelta(seconds=minute_fraction),
                    best_bid=Decimal("2500.1"),
                    best_ask=Decimal("2500.3"),
                    mark=Decimal("2500.25"),
                    funding_rate=Decimal("0.0000125"),
                )
            )
        files.markets.write(venue="hyperliquid", symbol="BTC-USD", ts=t0, mid=Decimal("90000"))
    assert sum(results) == 5  # at 0, 60, 120, 180, 240 s
    lines = json_lines(tmp_path / "markets.log")
    eth = [line for line in lines if line["symbol"] == "ETH-USD"]
    assert [line["ts"][11:19] for line in eth] == [
        "12:00:00",
        "12:01:00",
        "12:02:00",
        "12:03:00",
        "12:04:00",
    ]
    assert Decimal(eth[0]["mid"]) == Decimal("2500.2")  # (2500.1 + 2500.3) / 2
    assert Decimal(eth[0]["spread"]) == Decimal("0.2")
    assert eth[0]["funding_rate"] == "0.0000125"
    btc = [line for line in lines if line["symbol"] == "BTC-USD"]
    assert btc[0]["mid"] == "90000"
    assert btc[0]["best_bid"] is None


def test_market_log_from_an_order_book(tmp_path, json_lines):
    from datetime import UTC, datetime

    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    book = OrderBook(
        venue="hyperliquid",
        symbol="ETH-USD",
        timestamp=at,
        bids=(BookLevel(price=Decimal("2499.9"), size=Decimal("3")),),
        asks=(BookLevel(price=Decimal("2500.1"), size=Decimal("1")),),
    )
    funding = FundingRate(venue="hyperliquid", symbol="ETH-USD", timestamp=at, rate=Decimal("1e-5"))
    with setup_logging(tmp_path, fmt="text", level="INFO") as files:
        assert files.markets.write_book(book, funding=funding)
    (line,) = json_lines(tmp_path / "markets.log")
    assert Decimal(line["mid"]) == Decimal("2500.0")
    assert Decimal(line["best_bid"]) == Decimal("2499.9")
    assert Decimal(line["funding_rate"]) == Decimal("0.00001")


def test_defaults_come_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKSTACKER_LOG_DIR", str(tmp_path / "from_env"))
    monkeypatch.setenv("SPARKSTACKER_LOG_FORMAT", "json")
    monkeypatch.setenv("SPARKSTACKER_LOG_LEVEL", "WARNING")
    monkeypatch.chdir(tmp_path)
    with setup_logging() as files:
        logging.getLogger("sparkstacker").info("hidden")
        logging.getLogger("sparkstacker").warning("shown")
        assert files.log_dir == tmp_path / "from_env"
        lines = files.main_path.read_text().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["shown"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "xml"}, "log format 'xml'"),
        ({"level": "LOUD"}, "log level 'LOUD'"),
        ({"max_bytes": -1}, "max_bytes >= 0"),
        ({"market_interval": -5}, "throttle interval"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path, kwargs, message):
    options = {"fmt": "text", "level": "INFO", **kwargs}
    with pytest.raises(ConfigError, match=re.escape(message)):
        setup_logging(tmp_path, **options)
    teardown_logging()
