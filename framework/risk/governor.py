"""The account-level governor: peak drawdown and daily loss, graded states, hysteresis.

States escalate ACTIVE → REDUCE_ONLY (no new exposure) → HALTED (no strategy orders; the
engine's own protective and flattening orders still go) → FLATTEN (close everything).
Drawdown is measured from the running equity **peak**, not from the start (the complaint
against Hummingbot's kill switch), and the daily loss from the equity at the configured daily
reset time. A level is left only when its metric has recovered below
``threshold × (1 − hysteresis)``, so the state does not flap around a threshold; daily-loss
levels also clear at the daily reset. It is fed floats on every bar, so it is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from sparkstacker.lang.plan import GovernorLevel, PortfolioPlan

DAY_MS = 86_400_000


class GovernorState(IntEnum):
    ACTIVE = 0
    REDUCE_ONLY = 1
    HALTED = 2
    FLATTEN = 3

    @classmethod
    def of_action(cls, action: str) -> GovernorState:
        return {"reduce_only": cls.REDUCE_ONLY, "halt": cls.HALTED, "flatten": cls.FLATTEN}[action]


@dataclass(frozen=True)
class GovernorChange:
    """A state change, with the measurement that caused it."""

    previous: GovernorState
    state: GovernorState
    reason: str
    timestamp_ms: int
    drawdown: float
    daily_loss: float
    equity: float


@dataclass
class Governor:
    plan: PortfolioPlan
    state: GovernorState = GovernorState.ACTIVE
    peak: float = float("-inf")
    equity: float = 0.0
    day_start_equity: float = 0.0
    next_reset_ms: int = -1
    drawdown: float = 0.0
    daily_loss: float = 0.0
    active_levels: set[int] = field(default_factory=set)
    changes: list[GovernorChange] = field(default_factory=list)
    manual: GovernorState | None = None  # operator override (kill switch)

    def __post_init__(self) -> None:
        self._levels = [
            (
                level,
                GovernorState.of_action(level.action),
                float(level.threshold.fraction) if level.threshold.fraction is not None else None,
                float(level.threshold.amount) if level.threshold.amount is not None else None,
            )
            for level in self.plan.levels
        ]
        self._hysteresis = 1.0 - float(self.plan.hysteresis)

    def _roll_day(self, now_ms: int, equity: float) -> None:
        now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
        reset = self.plan.daily_reset
        start = now.replace(hour=reset.hour, minute=reset.minute, second=0, microsecond=0)
        if now < start:
            start -= timedelta(days=1)
        self.next_reset_ms = int(start.timestamp() * 1000) + DAY_MS
        self.day_start_equity = equity
        self.active_levels = {
            i for i in self.active_levels if self.plan.levels[i].metric != "daily_loss"
        }

    def update(self, now_ms: int, equity: float) -> GovernorChange | None:
        """Feed the latest account equity; returns the change of state, if any."""
        self.equity = equity
        if equity > self.peak:
            self.peak = equity
        if now_ms >= self.next_reset_ms:
            self._roll_day(now_ms, equity)
        peak = self.peak
        self.drawdown = (peak - equity) / peak if peak > 0 else 0.0
        self.daily_loss = max(0.0, self.day_start_equity - equity)
        target = GovernorState.ACTIVE
        for index, (level, state, fraction, amount) in enumerate(self._levels):
            value, limit = self._measure(level, fraction, amount)
            if value >= limit:
                self.active_levels.add(index)
            elif index in self.active_levels and value < limit * self._hysteresis:
                self.active_levels.discard(index)
            if index in self.active_levels and state > target:
                target = state
        if self.manual is not None and self.manual > target:
            target = self.manual
        if target == self.state:
            return None
        change = GovernorChange(
            previous=self.state,
            state=target,
            reason=self._reason(target),
            timestamp_ms=now_ms,
            drawdown=self.drawdown,
            daily_loss=self.daily_loss,
            equity=equity,
        )
        self.state = target
        self.changes.append(change)
        return change

    def _measure(
        self, level: GovernorLevel, fraction: float | None, amount: float | None
    ) -> tuple[float, float]:
        if level.metric == "drawdown":
            if fraction is not None:
                return self.drawdown, fraction
            return self.peak - self.equity, amount or 0.0
        if amount is not None:
            return self.daily_loss, amount
        return self.daily_loss, (fraction or 0.0) * self.day_start_equity

    def _reason(self, target: GovernorState) -> str:
        if target is GovernorState.ACTIVE:
            return "all limits recovered"
        causes = []
        for index in sorted(self.active_levels):
            level, state, fraction, amount = self._levels[index]
            if state == target:
                value, limit = self._measure(level, fraction, amount)
                if level.metric == "drawdown" and fraction is not None:
                    causes.append(f"drawdown {value:.2%} from peak >= {limit:.2%}")
                else:
                    causes.append(f"{level.metric.replace('_', ' ')} {value:.2f} >= {limit:.2f}")
        if self.manual is not None and self.manual >= target:
            causes.append(f"operator set {self.manual.name}")
        return "; ".join(causes) or target.name

    def entry_block(self) -> str | None:
        """Why new exposure is refused now (None when ACTIVE)."""
        if self.state is GovernorState.ACTIVE:
            return None
        return f"governor {self.state.name}: {self._reason(self.state)}"

    def allows(self, *, reduces: bool, origin: str) -> str | None:
        """Pre-trade: None if this order may be sent in the current state.

        REDUCE_ONLY lets anything that reduces through; HALTED only risk-reducing orders the
        engine itself sends (protective stops, monitor exits, governor/operator flattening),
        not strategy decisions; FLATTEN anything that reduces. Nothing that adds exposure
        passes any state but ACTIVE.
        """
        if self.state is GovernorState.ACTIVE:
            return None
        if reduces and (self.state is not GovernorState.HALTED or origin != "strategy"):
            return None
        return f"governor {self.state.name}: {self._reason(self.state)}"

    def force(self, state: GovernorState | None) -> None:
        """Operator override: the kill switch (FLATTEN) or clearing it (None)."""
        self.manual = state
