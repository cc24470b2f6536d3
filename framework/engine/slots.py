"""A strategy slot: one compiled strategy bound to its venue, instrument and runtime state."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sparkstacker.engine.positions import Leg
from sparkstacker.lang.plan import StrategyPlan
from sparkstacker.model import TERMINAL_STATUSES, Instrument, MarginMode, Order
from sparkstacker.strategy import StrategyRuntime


@dataclass
class StrategySlot:
    plan: StrategyPlan
    runtime: StrategyRuntime
    instrument: Instrument
    leg: Leg
    margin_mode: MarginMode = MarginMode.CROSS
    halted: str | None = None
    entry_order: Order | None = None
    exit_order: Order | None = None
    protective: dict[str, Order] = field(default_factory=dict)  # "stop_loss"/"take_profit" -> order
    trail_anchor: Decimal | None = None
    bar_index: int = -1
    last_close: float = float("nan")
    signals: int = 0
    ignored_signals: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def venue(self) -> str:
        return self.plan.venue

    @property
    def symbol(self) -> str:
        return self.plan.symbol

    @property
    def busy(self) -> bool:
        """An entry or exit is still working: do not stack another on top of it."""
        entry, exit_ = self.entry_order, self.exit_order
        return (entry is not None and entry.status not in TERMINAL_STATUSES) or (
            exit_ is not None and exit_.status not in TERMINAL_STATUSES
        )
