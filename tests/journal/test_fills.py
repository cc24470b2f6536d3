"""Fills: recorded once per venue fill id, read back exactly, and the times reconciliation needs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal
from sparkstacker.model import Fill, Liquidity, Side

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
MakeFill = Callable[..., Fill]


def test_a_fill_is_recorded_once_and_reads_back_exactly(
    journal: Journal, run_id: str, make_fill: MakeFill
) -> None:
    fill = make_fill(
        venue_order_id="9001",
        side=Side.SELL,
        price=Decimal("0.000012340"),
        size=Decimal("12345.678"),
        fee=Decimal("-0.0001"),  # a maker rebate
        fee_currency="USDC",
        liquidity=Liquidity.MAKER,
        is_liquidation=True,
        closed_pnl=Decimal("-3.50"),
        account="sub-1",
    )
    assert journal.record_fill(run_id, fill) is True
    assert journal.record_fill(run_id, fill) is False
    assert journal.fills() == [fill]
    assert str(journal.fills()[0].price) == "0.000012340"


def test_same_fill_id_on_two_venues_are_two_fills(
    journal: Journal, run_id: str, make_fill: MakeFill
) -> None:
    assert journal.record_fill(run_id, make_fill("7", venue="sim"))
    assert journal.record_fill(run_id, make_fill("7", venue="hyperliquid"))
    assert len(journal.fills()) == 2
    assert [f.venue for f in journal.fills(venue="hyperliquid")] == ["hyperliquid"]


def test_a_restarted_run_recognises_fills_of_the_run_before(
    journal: Journal, make_fill: MakeFill
) -> None:
    first = journal.start_run("live", [], {})
    second = journal.start_run("live", [], {})
    assert journal.record_fill(first, make_fill("f1"))
    assert journal.record_fill(second, make_fill("f1")) is False  # reconciliation replay
    assert journal.record_fill(second, make_fill("f2"))
    assert [f.fill_id for f in journal.fills(first)] == ["f1"]
    assert [f.fill_id for f in journal.fills(second)] == ["f2"]


def test_backtests_and_paper_do_not_mask_live_fills(journal: Journal, make_fill: MakeFill) -> None:
    bt1, bt2 = journal.start_run("backtest", [], {}), journal.start_run("backtest", [], {})
    paper, live = journal.start_run("paper", [], {}), journal.start_run("live", [], {})
    for run in (bt1, bt2, paper, live):
        assert journal.record_fill(run, make_fill("f1")) is True
    assert len(journal.fills()) == 4


def test_fills_since_is_inclusive_and_ordered_by_time(
    journal: Journal, run_id: str, make_fill: MakeFill
) -> None:
    for n in (3, 1, 2):
        journal.record_fill(run_id, make_fill(f"f{n}", timestamp=T0 + timedelta(minutes=n)))
    assert [f.fill_id for f in journal.fills()] == ["f1", "f2", "f3"]
    since = journal.fills(since=T0 + timedelta(minutes=2))
    assert [f.fill_id for f in since] == ["f2", "f3"]
    with pytest.raises(JournalError, match="naive"):
        journal.fills(since=datetime(2024, 1, 1))


def test_last_fill_time_per_venue_and_account_ignoring_backtests(
    journal: Journal, make_fill: MakeFill
) -> None:
    live = journal.start_run("live", [], {})
    backtest = journal.start_run("backtest", [], {})
    assert journal.last_fill_time("hyperliquid") is None
    journal.record_fill(live, make_fill("a", venue="hyperliquid", account="main", timestamp=T0))
    journal.record_fill(
        live,
        make_fill("b", venue="hyperliquid", account="sub", timestamp=T0 + timedelta(hours=1)),
    )
    journal.record_fill(live, make_fill("c", venue="sim", timestamp=T0 + timedelta(hours=5)))
    journal.record_fill(
        backtest, make_fill("d", venue="hyperliquid", timestamp=T0 + timedelta(days=9))
    )
    assert journal.last_fill_time("hyperliquid") == T0 + timedelta(hours=1)
    assert journal.last_fill_time("hyperliquid", "main") == T0
    assert journal.last_fill_time("hyperliquid", mode="backtest") == T0 + timedelta(days=9)
    assert journal.last_fill_time("hyperliquid", mode="paper") is None
    assert journal.last_fill_time("sim") == T0 + timedelta(hours=5)


def test_fill_for_unknown_run_is_refused(journal: Journal, make_fill: MakeFill) -> None:
    with pytest.raises(JournalError, match="not in the journal"):
        journal.record_fill("ghost", make_fill())


_IDS = st.lists(st.text("abcdef0123456789", min_size=1, max_size=6), min_size=1, max_size=12)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ids=_IDS.map(lambda xs: sorted(set(xs))), data=st.data())
def test_a_shuffled_duplicated_stream_of_fills_records_each_fill_once(
    journal: Journal, make_fill: MakeFill, ids: list[str], data: st.DataObject
) -> None:
    run_id = journal.start_run("backtest", [], {})  # a fresh id space per example
    fills = [
        make_fill(fill_id, size=Decimal(n + 1), timestamp=T0 + timedelta(seconds=n))
        for n, fill_id in enumerate(ids)
    ]
    repeats = data.draw(st.lists(st.sampled_from(fills), max_size=20), label="repeats")
    stream = data.draw(st.permutations(fills + repeats), label="stream")
    inserted = [journal.record_fill(run_id, fill) for fill in stream]
    assert sum(inserted) == len(fills)
    # The first sighting of each id is the one that counted.
    first_seen = {f.fill_id: i for i, f in reversed(list(enumerate(stream)))}
    assert {i for i, ok in enumerate(inserted) if ok} == set(first_seen.values())
    assert sorted(journal.fills(run_id), key=lambda f: f.fill_id) == fills
