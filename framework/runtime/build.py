"""Building a run's venues and feed: durable paper accounts (replayed or live-fed) or live."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from sparkstacker.backtest.instruments import simulated_instrument
from sparkstacker.errors import ConfigError, ExchangeError
from sparkstacker.model import Instrument
from sparkstacker.runtime.feeds import CandleFeed, FeedMarket, ReplayFeed
from sparkstacker.runtime.venues import (
    feed_markets,
    live_venues,
    load_replay_frames,
    open_paper_venues,
    plan_replay,
    read_exchange_config,
    warmup_base_bars,
)

if TYPE_CHECKING:
    from sparkstacker.runtime.runtime import Runtime


async def build_venues(rt: Runtime, plans: list[Any]) -> None:
    """Set ``rt.markets``, ``rt.venues`` (``rt.paper`` for paper runs) and ``rt.feed``."""
    opts = rt.options
    rt.markets = feed_markets(plans)
    if opts.mode == "live":
        await _live(rt, plans)
        return
    source: Any = None
    listed: dict[str, Instrument] = {}
    if opts.feed != "replay":  # reach the live venue before creating any paper account
        source, listed = await _connect_source(rt)
    rt.paper = open_paper_venues(plans, rt.state, rt.registry, opts)
    rt.venues = dict(rt.paper)
    if opts.feed == "replay":
        load_replay_frames(rt.markets, opts)
        for market in rt.markets:
            assert market.frame is not None
            reference = float(market.frame.close[0])
            for instance in market.instances:
                instrument = simulated_instrument(instance, market.symbol, reference)
                _add_paper_market(rt, instance, instrument, market)
    else:
        feed = _online_markets(rt, source, listed)
        await feed.prime(warmup_count(rt, plans))
    for venue in rt.paper.values():
        for symbol in list(venue.markets):
            _, at_open = venue.market_time(symbol)
            if at_open:  # the last run stopped inside a bar: the venue finishes it first
                events = venue.on_bar_close(symbol)
                rt.pending_funding.extend(e for e in events if e.kind == "funding")
    if opts.feed == "replay":
        need = warmup_base_bars(plans, rt.markets, opts.warmup_factor)
        end_ms = plan_replay(rt.markets, rt.paper, need, opts)
        speed = opts.speed
        if speed is None and opts.bar_ms is not None:
            speed = min(m.step_ms for m in rt.markets) / opts.bar_ms
        rt.feed = ReplayFeed(rt.markets, end_ms=end_ms, speed=speed)


def warmup_count(rt: Runtime, plans: list[Any]) -> int:
    need = warmup_base_bars(plans, rt.markets, rt.options.warmup_factor)
    return max(need.values(), default=100)


async def _live(rt: Runtime, plans: list[Any]) -> None:
    config = read_exchange_config(rt.options.exchange_config)
    rt.venues = live_venues(plans, rt.registry, config)
    for market in rt.markets:  # market data from the account that trades the market
        market.label = f"live {market.data_venue} candles"
    for venue in rt.venues.values():
        await venue.connect()
    source = rt.venues[rt.markets[0].instances[0]]
    feed = rt.feed = CandleFeed(rt.markets, source, end_ms=None)
    await feed.prime(warmup_count(rt, plans))


def _add_paper_market(
    rt: Runtime, instance: str, instrument: Instrument, market: FeedMarket
) -> None:
    venue = rt.paper[instance]
    if venue.has_market(instrument.symbol):
        was = venue.markets[instrument.symbol]
        if was is not None and was != market.timeframe:
            raise ConfigError(
                f"the paper account {instance} was fed {was} bars of {instrument.symbol}; "
                f"these rules need {market.timeframe}. Start a new paper account "
                "(--reset-paper) to change the market's base timeframe."
            )
        return
    venue.add_market(instrument, timeframe=market.timeframe)


async def _connect_source(rt: Runtime) -> tuple[Any, dict[str, Instrument]]:
    """The live venue feeding a paper run: its instruments, and a clear error offline."""
    feed = rt.options.feed
    source = rt.registry.exchanges.get(feed).create(feed, {"streaming": True})
    try:
        await source.connect()
        listed = {i.symbol: i for i in await source.instruments()}
    except (ExchangeError, OSError) as exc:
        with contextlib.suppress(ExchangeError, OSError):
            await source.close()
        raise ConfigError(
            f"--feed {feed}: cannot reach the venue ({exc}). Without a network, paper runs "
            "replay stored or sample data: leave out --feed."
        ) from exc
    return source, listed


def _online_markets(rt: Runtime, source: Any, listed: dict[str, Instrument]) -> CandleFeed:
    """Paper fed by a live venue's candles: instruments (rules, fees) from the real venue."""
    feed_name = rt.options.feed
    for market in rt.markets:
        instrument = listed.get(market.symbol)
        if instrument is None:
            raise ConfigError(f"{market.symbol} is not listed on {feed_name}")
        market.label = f"live {feed_name} candles"
        for instance in market.instances:
            copy = instrument.model_copy(update={"venue": instance})
            _add_paper_market(rt, instance, copy, market)
    feed = rt.feed = CandleFeed(rt.markets, source, end_ms=None)
    source.on_event(feed.on_event)
    return feed
