"""The governor on equity series: peak-based drawdown, graded states, hysteresis, daily reset."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sparkstacker.lang.plan import GovernorLevel, MoneyLimit, PortfolioPlan
from sparkstacker.risk.governor import Governor, GovernorState

S = GovernorState
HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


DRAWDOWN_LEVELS = (
    GovernorLevel("drawdown", MoneyLimit(fraction=Decimal("0.05")), "reduce_only"),
    GovernorLevel("drawdown", MoneyLimit(fraction=Decimal("0.08")), "halt"),
    GovernorLevel("drawdown", MoneyLimit(fraction=Decimal("0.10")), "flatten"),
)
DAILY_LOSS = GovernorLevel("daily_loss", MoneyLimit(amount=Decimal("300")), "halt")


def plan(hysteresis: str = "0.2", reset: time = time(0, 0), daily: bool = False) -> PortfolioPlan:
    return PortfolioPlan(
        levels=DRAWDOWN_LEVELS + ((DAILY_LOSS,) if daily else ()),
        hysteresis=Decimal(hysteresis),
        daily_reset=reset,
    )


def feed(governor: Governor, equities: list[float], step: int = 60_000) -> list[GovernorState]:
    states = []
    for index, equity in enumerate(equities):
        governor.update(T0 + index * step, equity)
        states.append(governor.state)
    return states


def test_drawdown_is_measured_from_the_peak_not_the_start() -> None:
    governor = Governor(plan())
    # up 20 % first, then down 5.1 % from that peak — still 14 % above the start
    states = feed(governor, [10_000, 12_000, 11_388])
    assert states == [S.ACTIVE, S.ACTIVE, S.REDUCE_ONLY]
    assert "drawdown 5.10% from peak >= 5.00%" in governor.changes[-1].reason


def test_levels_escalate_in_order() -> None:
    governor = Governor(plan())
    states = feed(governor, [10_000, 9_900, 9_500, 9_200, 9_000])
    assert states == [S.ACTIVE, S.ACTIVE, S.REDUCE_ONLY, S.HALTED, S.FLATTEN]
    assert [(c.previous, c.state) for c in governor.changes] == [
        (S.ACTIVE, S.REDUCE_ONLY),
        (S.REDUCE_ONLY, S.HALTED),
        (S.HALTED, S.FLATTEN),
    ]


def test_hysteresis_stops_flapping_around_a_threshold() -> None:
    governor = Governor(plan(hysteresis="0.2"))
    # 5 % triggers; 4.5 % is not below 5 % × 0.8 = 4 %, so it stays; 3.9 % releases
    states = feed(governor, [10_000, 9_500, 9_550, 9_500, 9_550, 9_610])
    assert states == [
        S.ACTIVE,
        S.REDUCE_ONLY,
        S.REDUCE_ONLY,
        S.REDUCE_ONLY,
        S.REDUCE_ONLY,
        S.ACTIVE,
    ]
    assert len(governor.changes) == 2


def test_daily_loss_halts_and_clears_at_the_daily_reset() -> None:
    governor = Governor(plan(reset=time(0, 0), daily=True))
    governor.update(T0 + 1 * HOUR, 20_000)
    governor.update(T0 + 2 * HOUR, 19_650)  # lost 350 today (1.75 %: no drawdown level)
    assert governor.state is S.HALTED
    assert "daily loss 350.00 >= 300.00" in governor.changes[-1].reason
    governor.update(T0 + 25 * HOUR, 19_650)  # a new trading day: the daily level resets
    assert governor.state is S.ACTIVE


def test_operator_kill_switch_overrides() -> None:
    governor = Governor(plan())
    governor.update(T0, 10_000)
    governor.force(S.FLATTEN)
    governor.update(T0 + 1, 10_000)
    assert governor.state is S.FLATTEN
    assert "operator set FLATTEN" in governor.changes[-1].reason
    assert governor.allows(reduces=False, origin="strategy") is not None
    assert governor.allows(reduces=True, origin="operator") is None


def test_what_each_state_lets_through() -> None:
    governor = Governor(plan())
    cases = {
        S.ACTIVE: (True, True, True),
        S.REDUCE_ONLY: (False, True, True),
        S.HALTED: (False, False, True),
        S.FLATTEN: (False, True, True),
    }
    for state, (opens, strategy_exit, protective) in cases.items():
        governor.state = state
        assert (governor.allows(reduces=False, origin="strategy") is None) is opens, state
        assert (governor.allows(reduces=True, origin="strategy") is None) is strategy_exit, state
        assert (governor.allows(reduces=True, origin="protective") is None) is protective, state


@given(st.lists(st.floats(min_value=1_000, max_value=20_000), min_size=1, max_size=60))
def test_state_matches_the_deepest_active_drawdown(equities: list[float]) -> None:
    """Without hysteresis the state is a pure function of the drawdown from the running peak."""
    governor = Governor(PortfolioPlan(levels=DRAWDOWN_LEVELS, hysteresis=Decimal(0)))
    peak = float("-inf")
    for index, equity in enumerate(equities):
        governor.update(T0 + index, equity)
        peak = max(peak, equity)
        drawdown = (peak - equity) / peak
        expected = (
            S.FLATTEN
            if drawdown >= 0.10
            else S.HALTED
            if drawdown >= 0.08
            else S.REDUCE_ONLY
            if drawdown >= 0.05
            else S.ACTIVE
        )
        assert governor.state is expected


def test_daily_loss_outranks_a_milder_drawdown_level() -> None:
    governor = Governor(plan(daily=True))
    assert feed(governor, [10_000, 9_500]) == [S.ACTIVE, S.HALTED]  # dd 5 % but lost 500 today
