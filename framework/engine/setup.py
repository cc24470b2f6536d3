"""Set-up shared by the backtest runner and the paper/live runtime.

Which venue instances a set of compiled strategies needs (a hedge on the main leg's own
one-way venue gets a second account), which markets each instance trades at which timeframes,
the simulated venue's options from the rule files' cost clauses, and the strategy runtime each
plan runs. Keeping it here means a backtest and a paper run of the same rules are built the
same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sparkstacker.lang.plan import StrategyPlan
from sparkstacker.model.timeframe import timeframe_seconds

if TYPE_CHECKING:
    from sparkstacker.registry import Registry
    from sparkstacker.strategy import StrategyRuntime

DEFAULT_EQUITY = Decimal(10_000)

# Options a caller may pass to :func:`sim_options` (None values mean "the rule file's, else the
# simulated venue's default").
SIM_OVERRIDES = (
    "maker_fee",
    "taker_fee",
    "slippage",
    "slippage_params",
    "fill_at",
    "intrabar_path",
    "volume_share",
    "latency_ms",
)


def hedge_instance(plan: StrategyPlan) -> str:
    """The venue instance a strategy's hedge leg trades on.

    A hedge on the main leg's own venue needs a second account: one-way venues (Hyperliquid)
    net same-asset opposite legs in one account, so the hedge goes to ``<venue>.<account>``
    (``hedge`` when the rule names none).
    """
    assert plan.hedge is not None
    venue = plan.hedge.venue
    account = plan.hedge.account
    if account:
        return f"{venue}.{account}"
    if venue == plan.venue:
        return f"{venue}.hedge"
    return venue


def venue_plans(plans: Iterable[StrategyPlan]) -> dict[str, list[StrategyPlan]]:
    """Venue instance → the plans that trade on it (main legs and hedge legs)."""
    out: dict[str, list[StrategyPlan]] = {}
    for plan in plans:
        out.setdefault(plan.venue, []).append(plan)
        if plan.hedge is not None:
            out.setdefault(hedge_instance(plan), []).append(plan)
    return out


def market_needs(plans: Iterable[StrategyPlan]) -> dict[tuple[str, str], set[str]]:
    """(venue instance, symbol) → the timeframes strategies decide on there."""
    needs: dict[tuple[str, str], set[str]] = {}
    for plan in plans:
        needs.setdefault((plan.venue, plan.symbol), set()).add(plan.timeframe)
        if plan.hedge is not None:
            symbol = plan.hedge.symbol or plan.symbol
            needs.setdefault((hedge_instance(plan), symbol), set()).add(plan.timeframe)
    return needs


def base_timeframe(timeframes: Iterable[str]) -> str:
    """The finest of several timeframes (what a market is fed at)."""
    return min(timeframes, key=timeframe_seconds)


def data_venue(instance: str) -> str:
    """The venue whose market data an instance trades on (``hyperliquid.hedge`` → hyperliquid)."""
    return instance.split(".")[0]


def initial_equity(plans: Iterable[StrategyPlan], override: Decimal | None = None) -> Decimal:
    """Starting equity per simulated account: the override, a rule file's, else 10,000."""
    if override is not None:
        return Decimal(override)
    for plan in plans:
        if plan.costs.initial_equity is not None:
            return Decimal(plan.costs.initial_equity)
    return DEFAULT_EQUITY


def sim_options(
    instance: str,
    plans: list[StrategyPlan],
    *,
    equity: Decimal,
    overrides: Mapping[str, Any] | None = None,
) -> Any:
    """The :class:`SimOptions` of one simulated account: overrides, else the rule files' costs."""
    from sparkstacker_plugins.exchanges.sim.options import SimOptions

    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(given) - set(SIM_OVERRIDES)
    if unknown:
        raise ValueError(f"unknown simulated-venue override(s): {', '.join(sorted(unknown))}")
    costs = [p.costs for p in plans]

    def first(attr: str) -> Any:
        return next((getattr(c, attr) for c in costs if getattr(c, attr) is not None), None)

    values: dict[str, Any] = {"initial_equity": equity, "account": instance}
    for name, attr in (("maker_fee", "maker_fee"), ("taker_fee", "taker_fee")):
        value = given.get(name, first(attr))
        if value is not None:
            values[name] = value
    slippage = given.get("slippage") or first("slippage_model")
    if slippage is not None:
        values["slippage"] = slippage
        params = given.get("slippage_params")
        if params is None:
            params = next(
                (dict(c.slippage_params) for c in costs if c.slippage_model == slippage), {}
            )
        values["slippage_params"] = dict(params)
    fill_at = given.get("fill_at") or first("fill_at")
    if fill_at is not None:
        values["fill_at"] = fill_at
    for name in ("intrabar_path", "latency_ms"):
        if name in given:
            values[name] = given[name]
    if "volume_share" in (overrides or {}):
        values["volume_share"] = (overrides or {})["volume_share"]
    return SimOptions(**values)


def create_runtime(registry: Registry, plan: StrategyPlan) -> StrategyRuntime:
    """The strategy runtime a plan runs: the rule strategy, or the ``uses`` plugin."""
    return registry.strategies.get(plan.uses or "rule").create(plan)
