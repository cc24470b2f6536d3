"""What the fast path refuses before it runs, and why.

The fast path reproduces the event engine exactly for a subset of rule files; everything else is
refused with the strategy, the construct and the reason, so a user never gets a fast answer that
differs from the engine's. Run-time refusals (a margin rejection, a possible liquidation) are
raised by the loop itself (see :mod:`sparkstacker.backtest.fast_liquidation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sparkstacker.errors import ConfigError
from sparkstacker.lang.plan import CompiledRules, StrategyPlan

SIZERS = ("fixed_units", "fixed_usd", "percent_equity")
"""Sizers whose decision depends only on the sizing request (price, equity, confidence)."""

SLIPPAGE_MODELS = ("fixed_bps", "volume_impact", "book_walk")
"""Built-in slippage models: pure functions of side, price, size and bar volume (no book)."""

_RISK_CLAUSES = (
    ("stop_loss", "trigger orders along the intrabar path"),
    ("take_profit", "trigger orders along the intrabar path"),
    ("trailing_stop", "a bar-by-bar trailing anchor"),
    ("max_duration", "bar-by-bar position monitoring"),
    ("max_duration_bars", "bar-by-bar position monitoring"),
    ("max_drawdown", "the risk governor's running equity peak"),
    ("daily_loss", "the risk governor's daily PnL"),
    ("max_position", "pre-trade risk limits"),
    ("max_leverage", "pre-trade risk limits"),
)


@dataclass(frozen=True)
class Refusal:
    """One construct the fast path cannot simulate exactly."""

    strategy: str | None  # None: a run-wide setting
    construct: str
    reason: str

    def __str__(self) -> str:
        where = f"strategy {self.strategy!r}: " if self.strategy else ""
        return f"{where}fast path cannot simulate {self.construct} ({self.reason})"


def refusals(compiled: CompiledRules, options: Any) -> list[Refusal]:
    """Every reason the fast path refuses ``compiled`` with ``options`` (empty: supported).

    Only the rule files and options are looked at; data-dependent checks (funding boundaries
    inside bars) happen once the bars are loaded.
    """
    found: list[Refusal] = []
    found.extend(_options_refusals(options))
    portfolio = compiled.portfolio
    if portfolio is not None and (
        portfolio.max_gross_exposure is not None
        or portfolio.max_leverage is not None
        or portfolio.levels
    ):
        found.append(Refusal(None, "the portfolio block", "the account-level risk governor"))
    markets: dict[tuple[str, str], list[str]] = {}
    for plan in compiled.strategies:
        found.extend(plan_refusals(plan))
        key = (plan.venue.split(".")[0], plan.symbol)
        markets.setdefault(key, []).append(plan.name)
    for (venue, symbol), names in markets.items():
        if len(names) > 1:
            found.append(
                Refusal(
                    names[1],
                    f"several strategies on {symbol} on {venue} ({', '.join(names)})",
                    "they net into one venue position; one strategy per market",
                )
            )
    return found


def plan_refusals(plan: StrategyPlan) -> list[Refusal]:
    """The constructs of one strategy the fast path cannot simulate."""
    name = plan.name
    out: list[Refusal] = []
    if plan.uses:
        out.append(Refusal(name, f"the plugin strategy `uses {plan.uses}`", "decisions in Python"))
        return out
    if plan.hedge is not None:
        out.append(Refusal(name, "hedge", "a second account and the hedge coordinator"))
    risk = plan.risk
    for attr, why in _RISK_CLAUSES:
        if getattr(risk, attr) is not None:
            out.append(Refusal(name, attr.replace("_bars", ""), why))
    if risk.margin_warnings:
        out.append(Refusal(name, "margin_warning", "actions on the account's margin ratio"))
    if plan.sizing is not None and plan.sizing.sizer not in SIZERS:
        out.append(
            Refusal(
                name,
                f"the {plan.sizing.sizer} sizer",
                f"supported sizers: {', '.join(SIZERS)}",
            )
        )
    model = plan.costs.slippage_model
    if model is not None and model not in SLIPPAGE_MODELS:
        out.append(
            Refusal(name, f"the {model} slippage model", f"supported: {', '.join(SLIPPAGE_MODELS)}")
        )
    stateful = state_reads(plan)
    if stateful:
        out.append(
            Refusal(
                name,
                f"conditions that read engine state ({', '.join(stateful)})",
                "they depend on the simulated position bar by bar",
            )
        )
    program = getattr(plan, "program", None)
    for rule in getattr(program, "entries", ()):
        if rule.order == "limit" or rule.post_only:
            kind = "post-only limit" if rule.post_only else "limit"
            out.append(Refusal(name, f"{kind} entries ({rule.text})", "resting orders on the path"))
            break
    return out


def state_reads(plan: StrategyPlan) -> list[str]:
    """Names of the engine state a strategy's conditions read (``position``, …), sorted."""
    program = getattr(plan, "program", None)
    if program is None:
        return []
    if program.state_free:
        return []
    names = {node.attrs[0] for node in program.dag.nodes if node.op == "state"}
    return sorted(names) or ["engine state"]


def _options_refusals(options: Any) -> list[Refusal]:
    out: list[Refusal] = []
    if getattr(options, "latency_ms", 0):
        out.append(Refusal(None, f"latency {options.latency_ms} ms", "orders going live mid-bar"))
    slippage = getattr(options, "slippage", None)
    if slippage is not None and slippage not in SLIPPAGE_MODELS:
        out.append(
            Refusal(
                None,
                f"the {slippage} slippage model",
                f"supported models: {', '.join(SLIPPAGE_MODELS)}",
            )
        )
    if getattr(options, "journal", None) is not None:
        out.append(Refusal(None, "journaling", "the fast path writes no journal"))
    return out


def raise_refusals(found: Sequence[Refusal]) -> None:
    """Raise one :class:`ConfigError` listing every refusal (nothing when empty)."""
    if not found:
        return
    lines = "; ".join(str(r) for r in found)
    raise ConfigError(f"{lines}; run without --fast")
