"""Round trips rebuilt from fills; expected numbers are worked out by hand in each test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sparkstacker.journal import Journal
from sparkstacker.journal.trades import FundingEntry, round_trips
from sparkstacker.model import Direction, Fill, Side

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal


def fill(n: int, side: Side, size: str, price: str, fee: str = "0", **kw: object) -> Fill:
    fields: dict[str, object] = {
        "fill_id": f"f{n}",
        "venue": "sim",
        "symbol": "ETH-USD",
        "side": side,
        "size": D(size),
        "price": D(price),
        "fee": D(fee),
        "timestamp": T0 + timedelta(hours=n),
    }
    fields.update(kw)
    return Fill(**fields)  # type: ignore[arg-type]


B, S = Side.BUY, Side.SELL


def test_scaling_out_of_a_long() -> None:
    # 0.5 × (110 − 100) + 0.5 × (120 − 100) = 15; fees 0.1 + 0.05 + 0.06 = 0.21
    [trip] = round_trips(
        [
            fill(0, B, "1", "100", "0.1"),
            fill(1, S, "0.5", "110", "0.05"),
            fill(2, S, "0.5", "120", "0.06"),
        ]
    )
    assert trip.direction is Direction.LONG
    assert (trip.entry_price, trip.exit_price) == (D(100), D(115))
    assert (trip.pnl, trip.fees, trip.net_pnl) == (D(15), D("0.21"), D("14.79"))
    assert (trip.size, trip.max_size, trip.fills) == (D(1), D(1), 3)
    assert (trip.opened_at, trip.closed_at) == (T0, T0 + timedelta(hours=2))
    assert trip.duration_seconds == 7200
    assert not trip.is_open


def test_averaged_entry() -> None:
    # entry (100 + 110) / 2 = 105; exit 2 × (120 − 105) = 30
    [trip] = round_trips([fill(0, B, "1", "100"), fill(1, B, "1", "110"), fill(2, S, "2", "120")])
    assert (trip.entry_price, trip.pnl, trip.size, trip.max_size) == (D(105), D(30), D(2), D(2))


def test_short_round_trip_profits_when_price_falls() -> None:
    [trip] = round_trips([fill(0, S, "2", "50"), fill(1, B, "2", "40")])
    assert trip.direction is Direction.SHORT
    assert trip.pnl == D(20)


def test_a_fill_through_zero_closes_one_trade_and_opens_the_next() -> None:
    # long 1 @ 100; sell 3 @ 90 closes it (−10, fee 0.3 × 1/3 = 0.1) and opens short 2 @ 90
    # (fee 0.2); buy 2 @ 80 closes the short: 2 × (90 − 80) = +20.
    first, second = round_trips(
        [fill(0, B, "1", "100"), fill(1, S, "3", "90", "0.3"), fill(2, B, "2", "80")]
    )
    assert (first.direction, first.pnl, first.fees, first.net_pnl) == (
        Direction.LONG,
        D(-10),
        D("0.1"),
        D("-10.1"),
    )
    assert first.closed_at == T0 + timedelta(hours=1)
    assert (second.direction, second.entry_price, second.size) == (Direction.SHORT, D(90), D(2))
    assert (second.pnl, second.fees, second.net_pnl, second.fills) == (
        D(20),
        D("0.2"),
        D("19.8"),
        2,
    )
    assert second.opened_at == T0 + timedelta(hours=1)


def test_open_trade_has_no_exit() -> None:
    [trip] = round_trips([fill(0, S, "1.5", "100"), fill(1, B, "0.5", "90")])
    assert trip.is_open
    assert (trip.exit_price, trip.pnl, trip.open_size) == (D(90), D(5), D("-1"))


def test_funding_paid_while_open_is_charged_to_the_trade() -> None:
    payments = [
        FundingEntry("sim", "main", "ETH-USD", T0 + timedelta(hours=1), D("0.5")),
        FundingEntry("sim", "main", "ETH-USD", T0 + timedelta(hours=2), D("-0.2")),
        FundingEntry("sim", "main", "ETH-USD", T0 + timedelta(hours=4), D("9")),  # after close
        FundingEntry("sim", "main", "BTC-USD", T0 + timedelta(hours=2), D("7")),  # other market
    ]
    [trip] = round_trips([fill(0, B, "1", "100"), fill(3, S, "1", "100")], payments)
    assert (trip.pnl, trip.funding, trip.net_pnl) == (D(0), D("0.3"), D("-0.3"))


def test_markets_and_accounts_are_separate_books() -> None:
    trips = round_trips(
        [
            fill(0, B, "1", "100"),
            fill(1, B, "1", "20000", symbol="BTC-USD"),
            fill(2, S, "1", "110", account="sub"),
            fill(3, S, "1", "105"),
        ]
    )
    summary = [(t.symbol, t.account, t.direction, t.is_open) for t in trips]
    assert summary == [
        ("ETH-USD", None, Direction.LONG, False),
        ("BTC-USD", None, Direction.LONG, True),
        ("ETH-USD", "sub", Direction.SHORT, True),
    ]


def test_journal_trades_span_restarts_but_keep_backtests_apart(journal: Journal) -> None:
    first, restart = journal.start_run("paper", [], {}), journal.start_run("paper", [], {})
    journal.record_fill(first, fill(0, B, "1", "100"))
    journal.record_fill(restart, fill(1, S, "1", "110"))
    bt1, bt2 = journal.start_run("backtest", [], {}), journal.start_run("backtest", [], {})
    for run in (bt1, bt2):
        journal.record_fill(run, fill(2, S, "2", "50"))
        journal.record_fill(run, fill(3, B, "2", "40"))
    journal.record_funding(
        first, "sim", "ETH-USD", T0 + timedelta(minutes=30), D("0.0001"), D("0.01")
    )

    trips = journal.trades()
    assert [(t.run_id, t.direction, t.pnl, t.net_pnl, t.is_open) for t in trips] == [
        (None, Direction.LONG, D(10), D("9.99"), False),  # opened in one run, closed in the next
        (bt1, Direction.SHORT, D(20), D(20), False),
        (bt2, Direction.SHORT, D(20), D(20), False),
    ]
    # One run alone sees only its own fills: the first paper run still holds the long.
    [open_trip] = journal.trades(first)
    assert open_trip.is_open
    assert open_trip.run_id == first
