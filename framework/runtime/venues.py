"""Venues and markets of a run: durable paper accounts, live adapters, and the fed markets."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sparkstacker.data.frames import timestamp_ms
from sparkstacker.engine.setup import (
    base_timeframe,
    data_venue,
    initial_equity,
    market_needs,
    sim_options,
    venue_plans,
)
from sparkstacker.errors import ConfigError, DataError
from sparkstacker.exchange import Exchange
from sparkstacker.lang.plan import StrategyPlan
from sparkstacker.model.timeframe import timeframe_seconds
from sparkstacker.registry import Registry
from sparkstacker.runtime.feeds import FeedMarket
from sparkstacker.runtime.options import DEFAULT_REPLAY_BARS, RunOptions
from sparkstacker.runtime.paper_venue import PaperVenue
from sparkstacker.runtime.state import StateDir

log = logging.getLogger("sparkstacker.runtime")


def feed_markets(plans: list[StrategyPlan]) -> list[FeedMarket]:
    """One fed market per (data venue, symbol), at the finest timeframe any strategy needs."""
    markets: dict[tuple[str, str], FeedMarket] = {}
    for (instance, symbol), timeframes in market_needs(plans).items():
        key = (data_venue(instance), symbol)
        base = base_timeframe(timeframes)
        market = markets.get(key)
        if market is None:
            market = markets[key] = FeedMarket(data_venue=key[0], symbol=symbol, timeframe=base)
        elif timeframe_seconds(base) != timeframe_seconds(market.timeframe):
            market.timeframe = base_timeframe((base, market.timeframe))
        market.instances.append(instance)
    return list(markets.values())


def open_paper_venues(
    plans: list[StrategyPlan],
    state: StateDir,
    registry: Registry,
    options: RunOptions,
) -> dict[str, PaperVenue]:
    """Restore (or create) one durable simulated account per venue instance the rules use."""
    equity = initial_equity(plans, options.equity)
    venues: dict[str, PaperVenue] = {}
    for instance, instance_plans in venue_plans(plans).items():
        settings = sim_options(instance, instance_plans, equity=equity)
        venues[instance] = PaperVenue.open(
            state.paper_log(instance),
            instance,
            settings,
            registry=registry,
            reset=options.reset_paper,
        )
    return venues


def load_replay_frames(markets: list[FeedMarket], options: RunOptions) -> None:
    """Attach each market's stored bars (or the labelled synthetic sample) for the replay."""
    from sparkstacker.config import load_settings
    from sparkstacker.data.source import load_frame
    from sparkstacker.data.store import CandleStore

    root = options.data_dir or load_settings().data_dir
    store = CandleStore(root)
    for market in markets:
        frame, origin = load_frame(store, market.data_venue, market.symbol, market.timeframe)
        if len(frame) == 0:
            raise DataError(
                f"no {market.timeframe} bars for {market.symbol} on {market.data_venue}"
            )
        market.frame = frame
        market.label = origin.describe()
        market.synthetic = origin.synthetic


def plan_replay(
    markets: list[FeedMarket],
    venues: Mapping[str, PaperVenue],
    warmup_bars: Mapping[tuple[str, str], int],
    options: RunOptions,
) -> int | None:
    """Set each market's first traded bar; return the replay's end (exclusive, ms) or None.

    A paper account that already traded continues after the last bar it saw (its positions
    live in that time). A new account starts after enough bars to warm the strategies up, or
    at ``--from``.
    """
    starts = []
    for market in markets:
        assert market.frame is not None
        stamps = market.frame.timestamp
        seen = [venues[i].market_time(market.symbol)[0] for i in market.instances if i in venues]
        known = [t for t in seen if t is not None]
        if known:
            if options.start is not None:
                raise ConfigError(
                    f"--from: the paper account on {', '.join(market.instances)} already traded "
                    f"{market.symbol} up to {_iso(max(known))}; it continues from there. Use "
                    "--reset-paper to start a new paper account at another time."
                )
            market.start_ms = max(known) + market.step_ms
        elif options.start is not None:
            market.start_ms = timestamp_ms(options.start)
        else:
            need = warmup_bars.get(market.key, 0)
            market.start_ms = int(stamps[min(need, len(stamps) - 1)])
        if market.start_ms > int(stamps[-1]):
            raise DataError(
                f"the replay data for {market.symbol} ends at {_iso(int(stamps[-1]))} and the "
                f"paper account has already traded up to there; import or download more data, "
                "or start a new paper account with --reset-paper"
            )
        starts.append(market.start_ms)
    start = min(starts)
    if options.duration_ms is not None:
        return start + options.duration_ms
    bars = DEFAULT_REPLAY_BARS if options.bars is None else options.bars
    if bars == 0:
        return None
    step = min(m.step_ms for m in markets)
    return start + bars * step


def _iso(ms: int) -> str:
    from sparkstacker.data.frames import describe_ms

    return describe_ms(ms)


# ---- live ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueConfig:
    instance: str
    plugin: str
    options: dict[str, Any]


def read_exchange_config(path: Path | None) -> dict[str, VenueConfig]:
    """``[exchanges.<instance>]`` tables of a TOML file: ``plugin`` plus the plugin's options.

    Credentials never go here: each plugin reads them from the environment.
    """
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--exchange-config {path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--exchange-config {path}: {exc}") from None
    tables = data.get("exchanges", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"--exchange-config {path}: [exchanges] must be a table")
    out = {}
    for instance, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"--exchange-config {path}: [exchanges.{instance}] must be a table")
        options = dict(table)
        plugin = str(options.pop("plugin", data_venue(instance)))
        out[instance] = VenueConfig(instance, plugin, options)
    return out


def live_venues(
    plans: list[StrategyPlan], registry: Registry, config: Mapping[str, VenueConfig]
) -> dict[str, Exchange]:
    """One adapter instance per venue instance the rules trade (credentials from the env)."""
    venues: dict[str, Exchange] = {}
    for instance in venue_plans(plans):
        chosen = config.get(instance) or VenueConfig(instance, data_venue(instance), {})
        plugin = registry.exchanges.get(chosen.plugin)
        if not plugin.live:
            raise ConfigError(
                f"venue {instance!r} maps to the {chosen.plugin!r} plugin, which cannot trade live"
            )
        venues[instance] = plugin.create(instance, chosen.options)
    return venues


def warmup_base_bars(
    plans: list[StrategyPlan], markets: list[FeedMarket], factor: int
) -> dict[tuple[str, str], int]:
    """Base bars each market needs before its first traded bar (for the slowest strategy)."""
    need: dict[tuple[str, str], int] = {}
    by_symbol = {(m.data_venue, m.symbol): m for m in markets}
    for plan in plans:
        market = by_symbol.get((data_venue(plan.venue), plan.symbol))
        if market is None:
            continue
        ratio = timeframe_seconds(plan.timeframe) // timeframe_seconds(market.timeframe)
        bars = (max(plan.warmup_bars, 1) * factor + 2) * ratio
        need[market.key] = max(need.get(market.key, 0), bars)
    return need


def reference_equity(venues: Mapping[str, Any]) -> Decimal:
    total = Decimal(0)
    for venue in venues.values():
        state = venue.account_state() if hasattr(venue, "account_state") else None
        if state is not None:
            total += state.equity
    return total
