"""The concrete :class:`~sparkstacker.lang.plan.StrategyPlan` the compiler produces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sparkstacker.lang.check import PluginUse
from sparkstacker.lang.evaluate import PreparedRules, RuleStream
from sparkstacker.lang.params import field_unit, value_text
from sparkstacker.lang.plan import (
    BarFrame,
    ExecutionCosts,
    HedgeSpec,
    MoneyLimit,
    RiskSpec,
    SizingSpec,
    SourceRef,
)
from sparkstacker.lang.program import ExplainTree, Program
from sparkstacker.lang.units import fraction_text
from sparkstacker.model.timeframe import timeframe_seconds


@dataclass(frozen=True, eq=False)
class RuleStrategyPlan:
    """One compiled ``strategy`` block: settings, resolved plugins and its evaluable program.

    Plugin strategies (``uses``) carry an empty program: their decisions come from the plugin.
    """

    name: str
    venue: str
    symbol: str
    timeframe: str
    extra_timeframes: tuple[str, ...]
    warmup_bars: int
    leverage: Decimal
    sizing: SizingSpec | None
    hedge: HedgeSpec | None
    risk: RiskSpec
    costs: ExecutionCosts
    uses: str | None
    params: Any
    source: SourceRef
    program: Program = field(repr=False)
    plugins: tuple[PluginUse, ...] = ()

    @property
    def state_free(self) -> bool:
        return self.program.state_free

    def prepare(self, frame: BarFrame) -> PreparedRules:
        """Evaluate every state-free series over ``frame`` (whole arrays, once)."""
        return PreparedRules(self.program, frame)

    def stream(self, *, exact: bool = True) -> RuleStream:
        """A fresh incremental evaluator: feed it one bar at a time (see :class:`RuleStream`)."""
        return RuleStream(self.program, exact=exact)

    def describe(self) -> Mapping[str, Any]:
        program = self.program
        dag = program.dag
        base_seconds = timeframe_seconds(self.timeframe)
        cache: dict[int, int] = {}
        users: dict[int, int] = {}
        for node in dag.nodes:
            for arg in node.args:
                users[arg] = users.get(arg, 0) + 1
        for root in program.roots:
            users[root] = users.get(root, 0) + 1
        nodes = [
            {
                "id": node.id,
                "expr": dag.short_text(node.id),
                "full": dag.text(node.id),
                "args": list(node.args),
                "op": node.op,
                "timeframe": node.domain or "constant",
                "state": node.stateful,
                "used_by": users.get(node.id, 0),
                "warmup_bars": dag.lookback(node.id, base_seconds, cache)
                if node.domain in (self.timeframe, "")
                else f"{dag.domain_lookback(node.id)} ({node.domain} bars)",
            }
            for node in dag.nodes
            if node.op != "const"
        ]
        return {
            "name": self.name,
            "kind": f"plugin strategy {self.uses}" if self.uses else "rules",
            "market": self.symbol,
            "venue": self.venue,
            "timeframe": self.timeframe,
            "extra_timeframes": list(self.extra_timeframes),
            "warmup_bars": self.warmup_bars,
            "state_free": program.state_free,
            "leverage": f"{self.leverage}x",
            "dag": nodes,
            "entries": [
                {
                    "side": rule.side,
                    "when": rule.text,
                    "node": rule.condition,
                    "confidence": dag.text(rule.confidence)
                    if rule.confidence is not None
                    else None,
                    "order": "limit" if rule.order == "limit" else "market",
                    "limit_price": dag.text(rule.limit_price)
                    if rule.limit_price is not None
                    else None,
                    "post_only": rule.post_only,
                    "line": rule.line,
                }
                for rule in program.entries
            ],
            "exits": [
                {
                    "side": rule.side or "any",
                    "when": rule.text,
                    "node": rule.condition,
                    "line": rule.line,
                }
                for rule in program.exits
            ],
            "sizing": _sizing(self.sizing),
            "hedge": _hedge(self.hedge),
            "risk": _risk(self.risk),
            "costs": _costs(self.costs),
            "uses": self.uses,
            "params": _model(self.params) if self.params is not None else None,
            "plugins": [vars(p) | {} for p in self.plugins],
            "source": f"{self.source.file}:{self.source.line}",
        }

    def explain_trees(self) -> list[tuple[str, ExplainTree]]:
        """(label, tree) for every rule, in file order."""
        out = [(f"enter {r.side}", r.explain) for r in self.program.entries]
        out += [(f"exit {r.side}" if r.side else "exit", r.explain) for r in self.program.exits]
        return out


def _model(model: BaseModel) -> dict[str, str]:
    out = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        unit = field_unit(info)
        shown = info.alias or name
        out[shown] = _with_unit(value, unit)
    return out


def _with_unit(value: Any, unit: str | None) -> str:
    return "none" if value is None else value_text(value, unit)


def _sizing(sizing: SizingSpec | None) -> dict[str, Any] | None:
    if sizing is None:
        return None
    return {"sizer": sizing.sizer, "params": _model(sizing.params)}


def _hedge(hedge: HedgeSpec | None) -> dict[str, Any] | None:
    if hedge is None:
        return None
    timeout = f"retry {hedge.retries}" if hedge.on_timeout == "retry" else hedge.on_timeout
    return {
        "ratio": fraction_text(hedge.ratio),
        "leverage": f"{hedge.leverage}x",
        "venue": hedge.venue,
        "market": hedge.symbol or "same as the main leg",
        "account": hedge.account or "default",
        "within": f"{hedge.within.total_seconds():g}s",
        "else": timeout,
    }


def _limit(limit: MoneyLimit | None) -> str | None:
    if limit is None:
        return None
    if limit.amount is not None:
        return f"{limit.amount} USD"
    assert limit.fraction is not None
    return f"{fraction_text(limit.fraction)} of equity"


def _risk(risk: RiskSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("stop_loss", "take_profit", "trailing_stop", "max_drawdown"):
        value = getattr(risk, key)
        if value is not None:
            out[key] = fraction_text(value)
    if risk.max_position is not None:
        out["max_position"] = _limit(risk.max_position)
    if risk.daily_loss is not None:
        out["daily_loss"] = _limit(risk.daily_loss)
    if risk.max_leverage is not None:
        out["max_leverage"] = f"{risk.max_leverage}x"
    if risk.max_duration is not None:
        out["max_duration"] = str(risk.max_duration)
    if risk.max_duration_bars is not None:
        out["max_duration"] = f"{risk.max_duration_bars} bars"
    if risk.margin_warnings:
        out["margin_warnings"] = [
            f"at {fraction_text(w.level)}: {w.action}"
            + (f" {fraction_text(w.reduce_fraction)}" if w.reduce_fraction is not None else "")
            for w in risk.margin_warnings
        ]
    return out


def _costs(costs: ExecutionCosts) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if costs.maker_fee is not None:
        out["maker_fee"] = fraction_text(costs.maker_fee)
    if costs.taker_fee is not None:
        out["taker_fee"] = fraction_text(costs.taker_fee)
    if costs.slippage_model is not None:
        params = {
            k: str(v.normalize()) if isinstance(v, Decimal) else str(v)
            for k, v in costs.slippage_params.items()
        }
        out["slippage"] = {"model": costs.slippage_model, "params": params}
    if costs.fill_at is not None:
        out["fill_at"] = costs.fill_at
    if costs.initial_equity is not None:
        out["initial_equity"] = f"{costs.initial_equity} USD"
    return out
