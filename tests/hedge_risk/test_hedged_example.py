"""The hedged MACD example trades with both legs visible everywhere: backtest and paper mode.

``rules/examples/macd_eth_1m_hedged.rules`` runs on recorded Binance ETHUSDT 1m candles:

* as a backtest with a SQLite journal and the HTML/JSON report — main and hedge fills, the hedge
  leg's PnL in the report JSON and in ``equity_by_leg``, the protocol steps in the journal;
* as a paper run through the real ``spark-stacker run`` (a child process, replaying the same
  candles from a data store) — both legs in the journal, in orders.log and in the metrics.

The hedge's size is checked against its rule, not against the engine: after every bar the hedge
account holds ``-20 % × the main account's position``, rounded down to ETH's 0.0001 lot.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from hedgekit import (
    EXAMPLE,
    STRATEGY,
    eth_frame,
    hedge_target,
    paper_dirs,
    run_scraped,
    samples,
    series,
    spark,
)
from sparkstacker.backtest.metrics import compute_metrics
from sparkstacker.backtest.report import write_reports
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.journal import Journal
from sparkstacker.lang import compile_file
from sparkstacker.model import Fill, to_millis

pytestmark = pytest.mark.shared

D = Decimal
MAIN, HEDGE = "hyperliquid", "hyperliquid.hedge"
START_ROW, BARS = 15_100, 600  # 2023-07-14 11:06 UTC onwards: a quiet hour, then a 5 % drop
PAPER_FROM, PAPER_BARS = "2023-07-14T12:00", 240


def assert_hedge_follows_its_rule(fills: list[Fill]) -> int:
    """After every bar (fills grouped by minute) the hedge is -20 % of the main leg, lot-rounded.

    Returns the number of bars checked with a position open."""
    by_minute: dict[int, list[Fill]] = defaultdict(list)
    for fill in fills:
        by_minute[to_millis(fill.timestamp) // 60_000].append(fill)
    held = {MAIN: D(0), HEDGE: D(0)}
    checked = 0
    for minute in sorted(by_minute):
        for fill in by_minute[minute]:
            held[fill.venue] += fill.signed_size
        assert held[HEDGE] == hedge_target(held[MAIN]), (minute, held)
        checked += held[MAIN] != 0
    return checked


def replay_leg(fills: list[Fill]) -> tuple[Decimal, Decimal, Decimal, Decimal | None]:
    """Realised price PnL, fees, final size and average entry of one account's fills."""
    size, entry, realized, fees = D(0), None, D(0), D(0)
    for fill in fills:
        quantity, price = fill.signed_size, fill.price
        fees += fill.fee
        if size == 0 or (size > 0) == (quantity > 0):
            entry = (abs(size) * (entry or D(0)) + abs(quantity) * price) / abs(size + quantity)
            size += quantity
            continue
        closed = min(abs(quantity), abs(size))
        assert entry is not None
        realized += closed * (price - entry) * (1 if size > 0 else -1)
        rest = size + quantity
        if rest == 0:
            entry = None
        elif (rest > 0) != (size > 0):
            entry = price
        size = rest
    return realized, fees, size, entry


def test_backtest_on_real_candles_journals_and_reports_both_legs(
    registry, marketdata: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    frame = eth_frame(marketdata, START_ROW, BARS)
    compiled = compile_file(EXAMPLE, registry)
    with Journal(f"sqlite:///{tmp_path / 'journal.db'}", durability="fast") as journal:
        result = run_backtest(
            compiled,
            registry,
            BacktestOptions(frames={("hyperliquid", "ETH-USD", "1m"): frame}, journal=journal),
        )
        [run] = journal.runs(mode="backtest")
        journaled_orders = journal.orders(result.run_id)
        journaled_fills = journal.fills(result.run_id)
        group_id = f"{result.run_id[:12]}-{STRATEGY}"
        steps = [e.step for e in journal.group_events(group_id)]

    # The runner opened a journal run and named the engine's run after it.
    assert run.id == result.run_id
    assert (run.status, run.summary["fills"]) == ("completed", len(result.fills))
    assert run.ended_at is not None
    assert {(o.venue, o.leg) for o in journaled_orders} == {(MAIN, "main"), (HEDGE, "hedge")}
    assert len(journaled_fills) == len(result.fills)

    # Both legs traded, and the hedge obeyed its rule after every bar.
    fills = sorted(result.fills, key=lambda f: (f.timestamp, f.fill_id))
    main_fills = [f for f in fills if f.venue == MAIN]
    hedge_fills = [f for f in fills if f.venue == HEDGE]
    assert len(main_fills) >= 20
    assert len(hedge_fills) >= 20
    assert assert_hedge_follows_its_rule(fills) >= 20
    # every entry was 100 USD at 10x; the hedge 20 USD (above the 10 USD minimum) at 5x
    entries = [o for o in result.orders if o.venue == MAIN and not o.reduce_only]
    assert all(o.leverage == D(10) for o in entries)
    hedges = [o for o in result.orders if o.venue == HEDGE]
    assert all(o.leverage == D(5) for o in hedges if not o.reduce_only)

    # The protocol, step by step, in the journal: one hedge_sent and one hedge_filled per order.
    assert steps.count("hedge_sent") == len(hedges)
    assert steps.count("hedge_filled") == sum(1 for o in hedges if o.filled_size > 0)
    assert steps[:2] == ["hedge_sent", "hedge_filled"]

    # The hedge leg's PnL, from its own fills (average-entry accounting) and the last close.
    realized, fees, size, entry = replay_leg(hedge_fills)
    unrealized = (D(repr(float(frame.close[-1]))) - entry) * size if entry is not None else D(0)
    metrics = compute_metrics(result)
    files = write_reports(result, metrics, tmp_path / "report")
    report = json.loads(files.json.read_text())
    by_leg = {row["leg"]: row for row in report["metrics"]["by_leg"]}
    assert set(by_leg) == {"main", "hedge"}
    assert D(by_leg["hedge"]["pnl"]) == realized  # open trades carry what they realised so far
    assert D(by_leg["hedge"]["fees"]) == fees
    assert result.equity_by_leg["hedge"][-1] == pytest.approx(
        float(realized + unrealized - fees), abs=1e-6
    )
    # the account curve is the two legs' contributions on top of the starting equity
    total = float(result.initial_equity) + sum(curve[-1] for curve in result.equity_by_leg.values())
    assert result.equity[-1] == pytest.approx(total, rel=1e-12)
    trades = [t for t in report["trades"] if t["leg"] == "hedge"]
    assert trades
    assert all(t["venue"] == HEDGE for t in trades)
    html = files.html.read_text()
    assert "hedge" in html
    assert "Margin-warning actions" in html


@pytest.mark.slow
def test_paper_run_shows_both_legs_in_journal_orders_log_and_metrics(
    marketdata: Path, tmp_path: Path
) -> None:
    store, state, db = paper_dirs(marketdata, tmp_path)
    data = run_scraped(
        tmp_path,
        state,
        "run", str(EXAMPLE), "--data", str(store), "--db", db, "--from", PAPER_FROM,
        "--bars", str(PAPER_BARS), "--speed", "max", "--metrics-port", "0",
        "--state-dir", str(state), "--log-dir", str(tmp_path / "logs"), "--quiet",
    )  # fmt: skip

    with Journal(db, durability="fast") as journal:
        [run] = journal.runs(mode="paper")
        orders = journal.orders(run.id)
        fills = sorted(journal.fills(run.id), key=lambda f: (f.timestamp, f.fill_id))
        steps = [e.step for e in journal.group_events(f"{run.id[:12]}-{STRATEGY}")]
    assert run.status == "completed"
    assert {(o.venue, o.leg) for o in orders} == {(MAIN, "main"), (HEDGE, "hedge")}
    assert {f.venue for f in fills} == {MAIN, HEDGE}
    assert assert_hedge_follows_its_rule(fills) >= 5
    assert steps.count("hedge_sent") == sum(1 for o in orders if o.venue == HEDGE)
    assert "hedge_filled" in steps

    # orders.log: every fill of both legs, each line naming its leg and venue.
    lines = [json.loads(x) for x in (tmp_path / "logs" / "orders.log").read_text().splitlines()]
    logged = [(x["venue"], x["leg"]) for x in lines if x["kind"] == "fill"]
    assert len(logged) == len(fills)
    assert set(logged) == {(MAIN, "main"), (HEDGE, "hedge")}

    # The metrics while it ran: both legs' positions, fills per venue, the governor from the
    # first scrape on (no governor levels in the rules: ACTIVE), liquidation distances per leg.
    scrapes = data["scrapes"]
    assert len(scrapes) >= 3, "the metrics endpoint was scraped too rarely"
    position = "spark_stacker_strategy_position"
    for leg, venue in (("main", MAIN), ("hedge", HEDGE)):
        labels = {"strategy": STRATEGY, "type": leg, "venue": venue}
        seen = [max(samples(s, position, **labels), default=0.0) for s in scrapes]
        assert max(seen) > 0, f"no {leg} position was ever exported"
    last = scrapes[-1]
    assert samples(last, "spark_stacker_fills_total", venue=HEDGE)
    for scrape in scrapes:
        assert series(scrape, "spark_stacker_governor_state") == [
            {"scope": "portfolio", "state": "ACTIVE"}
        ]
    liq = [
        row
        for s in scrapes
        for row in series(s, "spark_stacker_strategy_liquidation_distance")
        if row["strategy"] == STRATEGY
    ]
    assert {row["type"] for row in liq} >= {"hedge", "group"}
    assert {row["source"] for row in liq} == {"venue"}  # the paper venue reports its prices

    # status: the group with both legs and the hedge's target.
    shown = spark(tmp_path, "status", "--db", db, "--state-dir", str(state), "--json")
    assert shown.returncode == 0, shown.stderr
    snapshot = json.loads(shown.stdout)["snapshot"]
    [group] = snapshot["engine"]["groups"]
    assert group["strategy"] == STRATEGY
    assert D(group["hedge"]) == hedge_target(D(group["main"])) == D(group["hedge_target"])
    assert snapshot["engine"]["governor"] == {"state": "ACTIVE", "configured": False}
