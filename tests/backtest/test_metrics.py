"""Backtest metrics against hand calculations and independent formulas."""

from __future__ import annotations

import itertools
import math
import statistics
import sys
from dataclasses import fields
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics_kit import (
    HOUR_MS,
    T0_MS,
    at,
    fill,
    funding,
    hourly,
    market,
    result,
    trade,
)
from sparkstacker.backtest.metrics import compute_metrics
from sparkstacker.backtest.metrics_series import max_drawdown
from sparkstacker.backtest.report_format import profit_factor_text
from sparkstacker.errors import DataError

TEN = [101.0, 102.0, 99.0, 98.0, 100.0, 103.0, 104.0, 102.0, 101.0, 105.0]


def _returns(curve: list[float]) -> list[float]:
    return [b / a - 1 for a, b in itertools.pairwise(curve)]


# ---- the equity curve ---------------------------------------------------------------------


def test_ten_bar_curve_returns_and_ratios_match_hand_formulas() -> None:
    m = compute_metrics(result(TEN))
    curve = [100.0, *TEN]
    r = _returns(curve)
    per_year = 365 * 24  # hourly bars, 365-day year
    assert m.bars == 10
    assert m.bar_seconds == 3600
    assert m.bars_per_year == per_year
    assert m.total_return == pytest.approx(0.05)
    assert m.net_profit == pytest.approx(5.0)
    sharpe = statistics.mean(r) / statistics.stdev(r) * math.sqrt(per_year)
    assert m.sharpe == pytest.approx(sharpe, rel=1e-12)
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / len(r))
    assert m.sortino == pytest.approx(statistics.mean(r) / downside * math.sqrt(per_year))
    assert m.annual_volatility == pytest.approx(statistics.stdev(r) * math.sqrt(per_year))
    # 10 hours of calendar time from the first bar's open to the last close
    assert m.cagr == pytest.approx(1.05 ** (per_year / 10) - 1, rel=1e-9)
    assert m.calmar == pytest.approx(m.cagr / (4 / 102), rel=1e-9)
    assert m.start == at(0)
    assert m.end == at(10)


def test_ten_bar_curve_drawdown_by_hand() -> None:
    dd = compute_metrics(result(TEN)).max_drawdown
    assert dd is not None
    # peak 102 at the close of bar 2 (02:00), trough 98 at 04:00, back above at 103 (06:00)
    assert dd.fraction == pytest.approx(4 / 102)
    assert dd.value == pytest.approx(4.0)
    assert (dd.peak_time, dd.trough_time, dd.recovery_time) == (at(2), at(4), at(6))
    assert dd.duration == timedelta(hours=4)
    assert not dd.is_open


def test_longest_time_under_water_and_open_drawdown() -> None:
    # second dip 104 → 101 lasts longer (7h → never recovered by 12h) but is shallower
    m = compute_metrics(result([101, 102, 99, 98, 100, 103, 104, 103, 102, 101.5, 102, 103]))
    dd = m.max_drawdown
    assert dd is not None
    assert dd.peak_time == at(2)
    assert dd.recovery_time == at(6)
    assert m.longest_drawdown == timedelta(hours=12 - 7)
    still_down = compute_metrics(result([110, 105, 100, 104]))
    open_dd = still_down.max_drawdown
    assert open_dd is not None
    assert open_dd.is_open
    assert open_dd.recovery_time is None
    assert open_dd.fraction == pytest.approx(10 / 110)
    assert open_dd.duration == timedelta(hours=3)  # peak at 01:00 → end at 04:00


def test_drawdown_from_the_initial_equity_counts() -> None:
    m = compute_metrics(result([90, 95, 99]))
    dd = m.max_drawdown
    assert dd is not None
    assert dd.fraction == pytest.approx(0.10)
    assert dd.peak_time == at(0)
    assert dd.trough_time == at(1)
    assert dd.is_open


def test_monthly_returns_chain_across_month_ends() -> None:
    # daily bars closing 2024-01-30 … 2024-02-02; the one closing at Feb 1 00:00 is January's
    day = 24 * HOUR_MS
    first_close = T0_MS + 30 * day
    ts = first_close + day * np.arange(4, dtype=np.int64) - day
    m = compute_metrics(result([110, 120, 126, 138.6], timestamp=ts))
    assert [(y, mo) for y, mo, _ in m.monthly_returns] == [(2024, 1), (2024, 2)]
    # January ends with the bar closing at Feb 1 00:00 (126); February runs 126 → 138.6
    assert m.monthly_returns[0][2] == pytest.approx(0.26)
    assert m.monthly_returns[1][2] == pytest.approx(0.10)


# ---- trades -------------------------------------------------------------------------------


def test_trade_statistics_by_hand() -> None:
    trades = [
        trade("10", entry_h=0, exit_h=2, fees="1", funding="0.5"),
        trade("-5", entry_h=2, exit_h=3, direction="short"),
        trade("-5", entry_h=3, exit_h=4),
        trade("20", entry_h=4, exit_h=8, fees="2"),
        trade("0", entry_h=8, exit_h=9),
        trade("7", entry_h=9, exit_h=None),  # open at the end: not in trade statistics
    ]
    m = compute_metrics(result(TEN, trades=trades))
    assert (m.trades, m.open_trades, m.wins, m.losses) == (5, 1, 2, 2)
    assert m.win_rate == pytest.approx(2 / 5)
    assert m.gross_profit == Decimal(30)
    assert m.gross_loss == Decimal(10)
    assert m.profit_factor == pytest.approx(3.0)
    assert m.expectancy == Decimal(4)
    assert m.avg_win == Decimal(15)
    assert m.avg_loss == Decimal(-5)
    assert m.best_trade == Decimal(20)
    assert m.worst_trade == Decimal(-5)
    assert m.max_consecutive_losses == 2
    assert m.avg_holding_time == timedelta(hours=(2 + 1 + 1 + 4 + 1) / 5)
    assert m.avg_bars_held == pytest.approx(9 / 5)


def test_exposure_counts_bars_with_any_position() -> None:
    # bars are (h-1, h] for h = 1..10; a position over [entry, exit) exposes overlapping bars
    trades = [
        trade(entry_h=1, exit_h=4),  # bars closing 2, 3, 4 → indices 1..3
        trade(entry_h=3, exit_h=6, leg="hedge"),  # overlaps: adds indices 4, 5
        trade(entry_h=7.25, exit_h=7.75),  # inside bar 7 (index 7)
        trade(entry_h=9, exit_h=None),  # open: index 9
    ]
    m = compute_metrics(result(TEN, trades=trades))
    assert m.exposure == pytest.approx(7 / 10)
    assert compute_metrics(result(TEN)).exposure == 0.0


def test_fees_rebates_and_maker_ratio_from_fills() -> None:
    fills = [
        fill("100", "1", fee="-0.5", maker=True, fill_id="a"),
        fill("200", "1", fee="1", fill_id="b"),
        fill("100", "2", fee="2", fill_id="c"),
    ]
    m = compute_metrics(result(TEN, fills=fills, trades=[trade(fees="99")]))
    assert m.fees_paid == Decimal("2.5")  # fills win over trade totals
    assert m.rebates == Decimal("0.5")
    assert (m.fills, m.maker_fills) == (3, 1)
    assert m.maker_ratio == pytest.approx(1 / 3)
    assert m.maker_notional_ratio == pytest.approx(100 / 500)


def test_fees_and_funding_fall_back_to_trades() -> None:
    trades = [trade(fees="1.25", funding="0.75"), trade(fees="0.5", funding="-0.25")]
    m = compute_metrics(result(TEN, trades=trades))
    assert m.fees_paid == Decimal("1.75")
    assert m.maker_ratio is None
    assert m.funding_paid == Decimal("0.75")
    assert m.funding_received == Decimal("0.25")


def test_funding_paid_and_received_are_separate() -> None:
    payments = [funding("1.5"), funding("-0.5", 2), funding("0.25", 3)]
    m = compute_metrics(result(TEN, funding=payments))
    assert m.funding_paid == Decimal("1.75")
    assert m.funding_received == Decimal("0.5")
    assert m.net_funding == Decimal("1.25")


def test_split_per_strategy_and_leg() -> None:
    trades = [
        trade("10", strategy="a", leg="main", fees="1", funding="0.5"),
        trade("-4", strategy="a", leg="main", direction="short", fees="1"),
        trade("3", strategy="a", leg="hedge", direction="short", funding="-0.25"),
        trade("-2", strategy="b", leg="hedge", fees="0.5"),
        trade("6", strategy="b", leg="main", exit_h=None),
    ]
    m = compute_metrics(result(TEN, trades=trades, strategies=("a", "b")))
    cells = {(g.strategy, g.leg): g for g in m.by_strategy_leg}
    a_main = cells["a", "main"]
    assert (a_main.trades, a_main.wins, a_main.losses) == (2, 1, 1)
    assert a_main.net_pnl == Decimal(6)
    assert a_main.fees == Decimal(2)
    assert a_main.funding == Decimal("0.5")
    assert a_main.pnl == Decimal("8.5")  # 11.5 - 3
    assert a_main.win_rate == pytest.approx(0.5)
    a_hedge = cells["a", "hedge"]
    assert a_hedge.net_pnl == Decimal(3)
    assert a_hedge.funding == Decimal("-0.25")
    b_main = cells["b", "main"]
    assert (b_main.trades, b_main.open_trades, b_main.win_rate) == (0, 1, None)
    assert b_main.net_pnl == Decimal(6)  # open trades count in money, not in win rate
    strategies = {g.strategy: g for g in m.by_strategy}
    assert strategies["a"].net_pnl == Decimal(9)
    assert strategies["a"].trades == 3
    assert strategies["b"].net_pnl == Decimal(4)
    assert strategies["b"].open_trades == 1
    legs = {g.leg: g for g in m.by_leg}
    assert legs["main"].net_pnl == Decimal(12)
    assert legs["hedge"].net_pnl == Decimal(1)
    assert legs["hedge"].win_rate == pytest.approx(0.5)
    directions = {g.direction: g for g in m.by_direction}
    assert directions["short"].trades == 2
    assert directions["long"].trades == 2
    assert list(strategies) == ["a", "b"]
    assert list(legs) == ["main", "hedge"]


# ---- edge cases ---------------------------------------------------------------------------


def _assert_no_nan(m: object) -> None:
    for f in fields(m):  # type: ignore[arg-type]
        value = getattr(m, f.name)
        if isinstance(value, float):
            assert math.isfinite(value), f"{f.name} = {value}"


def test_no_trades() -> None:
    m = compute_metrics(result(TEN))
    assert (m.trades, m.win_rate, m.profit_factor, m.expectancy) == (0, None, None, None)
    assert m.avg_holding_time is None
    assert m.by_strategy_leg == ()
    assert profit_factor_text(m) == "—"


def test_flat_equity_has_no_sharpe() -> None:
    m = compute_metrics(result([100.0] * 10))
    assert m.sharpe is None
    assert m.sortino is None
    assert m.annual_volatility is None
    assert m.total_return == 0
    assert m.cagr == 0
    assert m.max_drawdown is not None
    assert m.max_drawdown.fraction == 0
    assert m.calmar is None
    assert m.longest_drawdown == timedelta(0)
    _assert_no_nan(m)


def test_single_bar() -> None:
    m = compute_metrics(result([99.0], markets=[market(1)]))
    assert m.bars == 1
    assert m.bar_seconds == 3600
    assert m.sharpe is None  # one return has no spread
    assert m.total_return == pytest.approx(-0.01)
    assert m.max_drawdown is not None
    assert m.max_drawdown.fraction == pytest.approx(0.01)
    assert m.cagr == pytest.approx(0.99**8760 - 1)
    unknown = compute_metrics(result([99.0]))  # no market, no spacing: bar length unknown
    assert unknown.bar_seconds is None
    assert unknown.cagr is None
    assert unknown.sharpe is None
    _assert_no_nan(unknown)


def test_empty_run() -> None:
    m = compute_metrics(result([]))
    assert m.bars == 0
    assert m.start is None
    assert m.max_drawdown is None
    assert m.total_return == 0
    assert m.exposure is None


def test_all_winners_show_infinite_profit_factor_clearly() -> None:
    m = compute_metrics(result(TEN, trades=[trade("5"), trade("7", entry_h=2, exit_h=3)]))
    assert m.profit_factor is None
    assert m.gross_loss == 0
    assert m.win_rate == 1.0
    assert profit_factor_text(m) == "∞ (no losing trades)"


def test_negative_equity_is_reported_not_crashed() -> None:
    m = compute_metrics(result([50.0, -10.0, 20.0]))
    assert m.wiped_out
    dd = m.max_drawdown
    assert dd is not None
    assert dd.fraction == pytest.approx(1.1)  # (100 - (-10)) / 100
    # returns stop at the bar that took equity below zero: -50 %, then -120 %
    r = [-0.5, -1.2]
    expected = statistics.mean(r) / statistics.stdev(r) * math.sqrt(8760)
    assert m.sharpe == pytest.approx(expected)
    assert any("zero or below" in note for note in m.notes)
    _assert_no_nan(m)
    ended_negative = compute_metrics(result([50.0, -10.0]))
    assert ended_negative.cagr == -1.0
    assert ended_negative.total_return == pytest.approx(-1.1)


def test_non_positive_initial_equity_leaves_ratios_undefined() -> None:
    m = compute_metrics(result([1.0, 2.0], initial="0"))
    assert m.total_return is None
    assert m.sharpe is None
    assert m.max_drawdown is None
    assert m.notes


def test_cagr_that_overflows_is_none_with_a_note() -> None:
    ts = T0_MS + 60_000 * np.arange(1, 4, dtype=np.int64)  # three minutes
    m = compute_metrics(result([150.0, 200.0, 300.0], timestamp=ts))
    assert m.cagr is None
    assert m.calmar is None
    assert any("overflows" in n for n in m.notes)


def test_short_runs_say_cagr_extrapolates() -> None:
    assert any("extrapolate" in n for n in compute_metrics(result(TEN)).notes)


@pytest.mark.parametrize(
    ("timestamp", "equity", "message"),
    [
        (hourly(3), [1.0, 2.0], "equity has 2 points but the timeline has 3 bars"),
        (np.array([3, 2, 4]), [1.0, 2.0, 3.0], "not strictly increasing at bar 1"),
        (hourly(3), [1.0, float("nan"), 3.0], "not finite at bar 1"),
    ],
)
def test_malformed_results_raise_clear_errors(
    timestamp: np.ndarray, equity: list[float], message: str
) -> None:
    with pytest.raises(DataError, match=message) as err:
        compute_metrics(result(equity, timestamp=timestamp))
    assert "test-run" in str(err.value)


# ---- properties ---------------------------------------------------------------------------


def _brute_force_drawdown(curve: list[float]) -> float:
    worst = 0.0
    for i in range(len(curve)):
        for j in range(i + 1, len(curve)):
            worst = max(worst, (curve[i] - curve[j]) / curve[i])
    return worst


@pytest.mark.filterwarnings("error::RuntimeWarning")
@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=40,
    ),
    st.floats(min_value=0.01, max_value=1e6),
)
def test_max_drawdown_matches_brute_force(equity: list[float], initial: float) -> None:
    curve = [initial, *equity]
    ts = T0_MS + HOUR_MS * np.arange(len(curve), dtype=np.int64)
    dd, longest = max_drawdown(np.array(curve), ts)
    assert dd is not None
    assert longest is not None
    assert 0.0 <= dd.fraction <= 1.0
    assert dd.fraction == pytest.approx(_brute_force_drawdown(curve), rel=1e-12, abs=1e-15)
    assert dd.duration <= longest or dd.fraction == 0
    assert dd.peak_time <= dd.trough_time


@pytest.mark.filterwarnings("error::RuntimeWarning")
@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False), min_size=0, max_size=30))
def test_metrics_never_produce_nan_or_inf(equity: list[float]) -> None:
    m = compute_metrics(result(equity, markets=[market(1)]))
    _assert_no_nan(m)
    if m.exposure is not None:
        assert 0.0 <= m.exposure <= 1.0
