"""Read-side records the journal returns besides domain models (runs, risk, groups, trades)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field
from sparkstacker.model import Direction, FrozenModel, UtcDatetime

RunMode = Literal["backtest", "paper", "live"]
RUN_MODES: tuple[RunMode, ...] = ("backtest", "paper", "live")


class RuleFileRecord(FrozenModel):
    path: str
    sha256: str


class RunRecord(FrozenModel):
    id: str
    mode: RunMode
    started_at: UtcDatetime
    ended_at: UtcDatetime | None = None
    status: str
    config: dict[str, Any]
    summary: dict[str, Any] | None = None
    rule_files: tuple[RuleFileRecord, ...] = ()
    framework_version: str


class RiskEventRecord(FrozenModel):
    id: int
    run_id: str
    kind: str
    severity: str
    message: str
    venue: str | None = None
    symbol: str | None = None
    blocks_entries: bool = False
    data: dict[str, Any] | None = None
    created_at: UtcDatetime
    resolved_at: UtcDatetime | None = None
    resolution: str | None = None

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class GroupEventRecord(FrozenModel):
    id: int
    group_id: str
    run_id: str
    seq: int
    step: str
    data: dict[str, Any]
    timestamp: UtcDatetime


class RoundTrip(FrozenModel):
    """One trade from flat to flat, rebuilt from fills (an open one has no exit yet).

    ``pnl`` is the gross realised PnL at the average entry; ``fees`` are the fills' fees (a
    rebate is negative); ``funding`` is what was paid (> 0) or received (< 0) while it was open;
    ``net_pnl = pnl - fees - funding``.
    """

    run_id: str | None = Field(description="The run, or None when trades span runs of a scope")
    venue: str
    account: str | None = None
    symbol: str
    direction: Direction
    size: Decimal = Field(description="Total size entered (base units)")
    max_size: Decimal = Field(description="Largest absolute position held")
    entry_price: Decimal
    exit_price: Decimal | None = None
    opened_at: UtcDatetime
    closed_at: UtcDatetime | None = None
    pnl: Decimal
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal
    fills: int
    open_size: Decimal = Field(description="Size still open (0 once closed), signed")

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def duration_seconds(self) -> float | None:
        return None if self.closed_at is None else _seconds(self.opened_at, self.closed_at)


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()
