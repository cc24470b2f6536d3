"""Strategies and their bars: each strategy's timeframe built from its market's base bars,
its warm-up before the first traded bar, and history for hot reload."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sparkstacker.engine.engine import Engine
from sparkstacker.engine.setup import create_runtime, data_venue, hedge_instance
from sparkstacker.engine.slots import StrategySlot
from sparkstacker.registry import Registry
from sparkstacker.runtime.bars import Bar, BarAggregator
from sparkstacker.runtime.feeds import CandleFeed, FeedMarket, ReplayFeed

log = logging.getLogger("sparkstacker.runtime")


@dataclass
class SlotFeed:
    """How one strategy gets its bars from its market's base bars."""

    slot: StrategySlot
    market: FeedMarket
    aggregator: BarAggregator


@dataclass
class StrategyFeeds:
    markets: list[FeedMarket]
    by_market: dict[tuple[str, str], list[SlotFeed]] = field(default_factory=dict)
    last_bar_ms: int | None = None

    def attach(self, engine: Engine, registry: Registry, plans: list[Any]) -> None:
        """Add every plan to the engine with its runtime, hedge venue and bar aggregator."""
        by_key = {m.key: m for m in self.markets}
        for plan in plans:
            runtime = create_runtime(registry, plan)
            hedge_venue = hedge_instance(plan) if plan.hedge is not None else None
            slot = engine.add_strategy(plan, runtime, hedge_venue=hedge_venue)
            market = by_key[(data_venue(plan.venue), plan.symbol)]
            aggregator = BarAggregator(market.timeframe, plan.timeframe)
            self.by_market.setdefault(market.key, []).append(SlotFeed(slot, market, aggregator))

    def of(self, market: FeedMarket) -> list[SlotFeed]:
        return self.by_market.get(market.key, [])

    def history(
        self, feed: ReplayFeed | CandleFeed, slot: StrategySlot, count: int
    ) -> list[dict[str, float]]:
        """The ``count`` latest closed bars of a strategy's own timeframe (warm-up, reload)."""
        for items in self.by_market.values():
            for item in items:
                if item.slot is not slot:
                    continue
                market = item.market
                until = self.last_bar_ms if self.last_bar_ms is not None else market.start_ms
                base = feed.history(market, until, (count + 1) * item.aggregator.expected)
                fresh = BarAggregator(market.timeframe, slot.plan.timeframe)
                bars = [b for b in (fresh.push(*bar) for bar in base) if b is not None]
                return [bar_dict(b) for b in bars[-count:]]
        return []

    def warm_up(self, engine: Engine, feed: ReplayFeed | CandleFeed, factor: int) -> None:
        """Marks from the last bar before the start; each strategy's stream fed its warm-up."""
        for market in self.markets:
            last = feed.history(market, market.start_ms, 1)
            if last:
                for instance in market.instances:
                    engine.accounting.set_mark(instance, market.symbol, Decimal(repr(last[-1][4])))
            for item in self.of(market):
                warm = getattr(item.slot.runtime, "warm_up", None)
                if warm is None:
                    continue
                count = max(item.slot.plan.warmup_bars, 1) * factor + 2
                fed = warm(self.history(feed, item.slot, count))
                log.info(
                    "%s warmed up on %d %s bar(s)", item.slot.name, fed, item.slot.plan.timeframe
                )


def bar_dict(bar: Bar) -> dict[str, float]:
    return {
        "timestamp": float(bar[0]),
        "open": bar[1],
        "high": bar[2],
        "low": bar[3],
        "close": bar[4],
        "volume": bar[5],
    }
