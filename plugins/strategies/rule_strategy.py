"""The rule strategy: runs a compiled rule-file strategy block inside the engine.

Backtests evaluate the plan vectorised once over the whole frame (``attach_frame``); paper and
live runs evaluate it incrementally bar by bar (``plan.stream()``). Both give the same decisions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from sparkstacker import hookimpl
from sparkstacker.lang.plan import (
    FLAT_STATE,
    BarDecision,
    BarFrame,
    PreparedStrategy,
    StrategyPlan,
    StrategyState,
    StrategyStream,
)
from sparkstacker.model.members import LONG, SHORT
from sparkstacker.strategy import StrategyContext, StrategyPlugin


class RuleParams(BaseModel):
    """The rule strategy takes no parameters: everything is in the rule file."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleRuntime:
    """Turns each bar's :class:`BarDecision` into enter / exit / flip actions."""

    def __init__(self, plan: StrategyPlan) -> None:
        self.plan = plan
        self.name = plan.name
        self.prepared: PreparedStrategy | None = None
        self.stream: StrategyStream | None = None
        self._active: np.ndarray | None = None
        self._acts: memoryview | None = None  # ``_active`` as Python bools, read per bar

    def attach_frame(self, frame: BarFrame) -> None:
        """Backtests: evaluate every state-free series once over the whole frame."""
        self.prepared = prepared = self.plan.prepare(frame)
        if prepared.state_free:
            el, es = prepared.entries()
            xl, xs = prepared.exits()
            self._active = np.asarray(el | es | xl | xs, dtype=bool)
            self._acts = np.ascontiguousarray(self._active).data
        release = getattr(prepared, "release_intermediates", None)
        if release is not None:
            release()  # a backtest only decides: the inner steps of its conditions can go

    def detach_frame(self) -> None:
        """Backtests: the run is over; drop the whole-frame series (they are the largest
        thing a strategy holds: tens of MB at a million bars) before the result is built."""
        self.prepared = None
        self._active = self._acts = None

    def warm_up(self, bars: Iterable[Mapping[str, float]]) -> int:
        """Paper and live runs: feed history bars before the first traded one.

        The stream's indicators see them exactly like live bars; the decisions are discarded.
        Returns how many bars were fed.
        """
        if self.stream is None:
            self.stream = self.plan.stream()
        fed = 0
        for bar in bars:
            self.stream.update(bar, FLAT_STATE)
            fed += 1
        return fed

    def indicator_values(self) -> dict[str, dict[str, float]]:
        """Newest values of the rule's named series (incremental runs; empty before a bar).

        Outputs of one indicator are grouped under the indicator's name (``macd`` →
        ``{"macd": …, "signal": …}``), or under the ``let`` name when the rule uses that
        indicator twice; other ``let`` bindings appear as ``{"value": …}``.
        """
        stream = self.stream
        program = getattr(stream, "program", None)
        if stream is None or program is None:
            return {}
        values = stream.values  # type: ignore[attr-defined]
        groups: dict[tuple[str, str], dict[str, float]] = {}
        for let, node_id in program.named.items():
            node = program.dag[node_id]
            prefix = let.split(".", 1)[0]
            if node.op == "out" and program.dag[node.args[0]].op == "ind":
                indicator = str(program.dag[node.args[0]].attrs[0])
                component = str(node.attrs[0])
            else:
                indicator, component = let, "value"
            value = values[node_id]
            if isinstance(value, float | int) and math.isfinite(value):
                groups.setdefault((prefix, indicator), {})[component] = float(value)
        counts: dict[str, int] = {}
        for _, indicator in groups:
            counts[indicator] = counts.get(indicator, 0) + 1
        return {
            (indicator if counts[indicator] == 1 else prefix): components
            for (prefix, indicator), components in groups.items()
        }

    def active_bars(self) -> np.ndarray | None:
        """Bars on which a state-free plan can act (None: it may act on any bar)."""
        return self._active

    def decide(self, ctx: StrategyContext, state: StrategyState) -> BarDecision:
        if self.prepared is not None:
            return self.prepared.decide(ctx.bar_index, state)
        if self.stream is None:
            self.stream = self.plan.stream()
        bar: dict[str, float] = {
            "open": getattr(ctx, "open", math.nan),
            "high": getattr(ctx, "high", math.nan),
            "low": getattr(ctx, "low", math.nan),
            "close": ctx.close,
            "volume": getattr(ctx, "volume", math.nan),
            "timestamp": float(ctx.timestamp_ms),
        }
        return self.stream.update(bar, state)

    async def on_bar(self, ctx: StrategyContext) -> None:
        prepared = self.prepared
        if prepared is not None and prepared.state_free:
            index = ctx.bar_index
            acts = self._acts
            if acts is not None and not acts[index]:
                return
            # Backtests of a state-free plan: the vectorised form decides, no engine state.
            await act(ctx, prepared.decide(index, FLAT_STATE))
            return
        engine: Any = getattr(ctx, "_engine", None)
        slot: Any = getattr(ctx, "slot", None)
        if engine is not None and slot is not None:
            state = engine.strategy_state(slot, ctx.bar_index, ctx.close)
        else:
            state = StrategyState(position=float(ctx.position))
        decision = self.decide(ctx, state)
        await act(ctx, decision)


async def act(ctx: StrategyContext, decision: BarDecision) -> None:
    """Apply a decision. An entry against the open position flips it (exit + entry in one
    decision); otherwise exits are applied first and an entry on the same bar is not stacked."""
    position = ctx.position
    reason = _reason(decision.reasons)
    if decision.enter_long and decision.enter_short:
        direction = None  # contradictory entries on one bar: none (documented in docs/rules.md)
    elif decision.enter_long:
        direction = LONG
    elif decision.enter_short:
        direction = SHORT
    else:
        direction = None
    limit = decision.limit_price if decision.style.kind == "limit" else None
    if direction is not None and ((position < 0) if direction is LONG else (position > 0)):
        await ctx.enter(
            direction,
            confidence=decision.confidence,
            limit_price=limit,
            post_only=decision.style.post_only,
            reason=reason or f"flip {direction.value}",
        )
        return
    if (decision.exit_long and position > 0) or (decision.exit_short and position < 0):
        await ctx.exit(reason=reason or "exit")
        return
    if direction is not None:
        await ctx.enter(
            direction,
            confidence=decision.confidence,
            limit_price=limit,
            post_only=decision.style.post_only,
            reason=reason or f"enter {direction.value}",
        )


_REASONS: dict[tuple[str, ...], str] = {}


def _reason(reasons: tuple[str, ...]) -> str:
    """``"; ".join(reasons)``, one string per distinct tuple (each order keeps its reason)."""
    found = _REASONS.get(reasons)
    if found is None:
        if len(_REASONS) >= 4096:
            _REASONS.clear()
        found = _REASONS[reasons] = "; ".join(reasons)
    return found


@hookimpl
def register_strategies() -> list[StrategyPlugin]:
    return [
        StrategyPlugin(
            name="rule",
            summary="Runs a strategy block of a rule file (entries, exits, flips, sizing, hedge).",
            params_model=RuleParams,
            create=RuleRuntime,
        )
    ]
