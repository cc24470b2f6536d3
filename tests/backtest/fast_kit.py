"""Recorded Binance data and the event-vs-fast comparison used by the fast-path tests.

Import it after putting this folder on sys.path (the test modules do that themselves).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sparkstacker.backtest.fast import run_fast
from sparkstacker.backtest.result import BacktestResult
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.data.frames import datetimes_to_ms
from sparkstacker.data.funding import align_funding
from sparkstacker.data.resample import resample_candles
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame, CompiledRules
from sparkstacker.model.timeframe import timeframe_seconds
from sparkstacker.registry import Registry

BINANCE = Path("Alpergulsen__freqtrade/user_data/data/binance/futures")
EQUITY_RTOL = 1e-9

RULE = """
strategy "{name}" {{
    market {symbol} on {venue}
    timeframe {timeframe}
{body}
    size {size}
    leverage {leverage}x
    fees maker 0.015% taker {taker}
    slippage {slippage}
    fill at {fill_at}
}}
"""
MACD_FLIP = """
    let m = macd(close, 12, 26, 9)
    enter long when m.macd crosses above m.signal
    enter short when m.macd crosses below m.signal
"""


def rules(
    body: str = MACD_FLIP,
    *,
    name: str = "s",
    symbol: str = "ETH-USD",
    venue: str = "sim",
    timeframe: str = "1m",
    size: str = "fixed_units(0.5)",
    leverage: int = 3,
    taker: str = "0.045%",
    slippage: str = "1 bps",
    fill_at: str = "next_open",
) -> str:
    """One rule strategy in the fast-path tests' template (``body`` holds its lets and rules)."""
    return RULE.format(
        name=name,
        symbol=symbol,
        venue=venue,
        timeframe=timeframe,
        body=body,
        size=size,
        leverage=leverage,
        taker=taker,
        slippage=slippage,
        fill_at=fill_at,
    )


@cache
def candles(marketdata: Path, coin: str) -> pd.DataFrame:
    """Binance USDⓈ-M ``coin``USDT perp 1m candles (canonical columns, ms timestamps)."""
    raw = pd.read_feather(marketdata / BINANCE / f"{coin}_USDT_USDT-1m-futures.feather")
    return pd.DataFrame(
        {
            "timestamp": raw["date"].astype("datetime64[ms, UTC]"),
            "open": raw["open"].to_numpy(dtype=np.float64),
            "high": raw["high"].to_numpy(dtype=np.float64),
            "low": raw["low"].to_numpy(dtype=np.float64),
            "close": raw["close"].to_numpy(dtype=np.float64),
            "volume": raw["volume"].to_numpy(dtype=np.float64),
        }
    )


@cache
def funding_prints(marketdata: Path, coin: str) -> tuple[np.ndarray, np.ndarray]:
    """Binance's recorded 8-hourly funding prints for ``coin``: (epoch ms, rate)."""
    raw = pd.read_feather(marketdata / BINANCE / f"{coin}_USDT_USDT-8h-funding_rate.feather")
    return datetimes_to_ms(raw["date"]), raw["open"].to_numpy(dtype=np.float64)


def frame(
    marketdata: Path,
    coin: str,
    timeframe: str = "1m",
    *,
    start: int = 0,
    bars: int | None = None,
    funding: str | None = None,
    hourly_rate: float = 0.0001,
) -> BarFrame:
    """Recorded 1m candles from row ``start``, resampled to ``timeframe``, ``bars`` long.

    ``funding``: None (no column), ``"recorded"`` (Binance's 8h prints aligned to the bars) or
    ``"hourly"`` (a rate on every bar opening on the hour, alternating in sign, to exercise
    payments both ways).
    """
    data = candles(marketdata, coin)
    per_bar = timeframe_seconds(timeframe) // 60
    need = None if bars is None else (bars + 1) * per_bar
    data = data.iloc[start : None if need is None else start + need].reset_index(drop=True)
    if timeframe != "1m":
        data = resample_candles(data, "1m", timeframe).frame
    if bars is not None:
        data = data.iloc[:bars]
    ts = datetimes_to_ms(data["timestamp"])
    step = timeframe_seconds(timeframe) * 1000
    rates = None
    if funding == "recorded":
        rates = align_funding(ts, step, *funding_prints(marketdata, coin))
    elif funding == "hourly":
        on_hour = ts % 3_600_000 == 0
        sign = np.where((ts // 3_600_000) % 3 == 0, -1.0, 1.0)
        rates = np.where(on_hour, hourly_rate * sign, np.nan)
    return BarFrame(
        timeframe=timeframe,
        timestamp=ts,
        open=data["open"].to_numpy(dtype=np.float64),
        high=data["high"].to_numpy(dtype=np.float64),
        low=data["low"].to_numpy(dtype=np.float64),
        close=data["close"].to_numpy(dtype=np.float64),
        volume=data["volume"].to_numpy(dtype=np.float64),
        funding=rates,
    )


@dataclass
class Pair:
    event: BacktestResult
    fast: BacktestResult


def options_for(
    compiled: CompiledRules, frames: Mapping[str, BarFrame], **options: Any
) -> BacktestOptions:
    """Options feeding each strategy the frame of its symbol (``frames`` keyed by symbol)."""
    injected = {
        (plan.venue.split(".")[0], plan.symbol, plan.timeframe): frames[plan.symbol]
        for plan in compiled.strategies
    }
    return BacktestOptions(frames=injected, **options)


def run_both(
    registry: Registry, rules: str | CompiledRules, frames: Mapping[str, BarFrame], **options: Any
) -> Pair:
    compiled = compile_text(rules, registry) if isinstance(rules, str) else rules
    opts = options_for(compiled, frames, **options)
    return Pair(run_backtest(compiled, registry, opts), run_fast(compiled, registry, opts))


def _trade_row(trade: Any) -> tuple[Any, ...]:
    return (
        trade.strategy,
        trade.leg,
        trade.venue,
        trade.symbol,
        trade.direction,
        trade.size,
        trade.entry_time,
        trade.entry_price,
        trade.exit_time,
        trade.exit_price,
        trade.pnl,
        trade.fees,
        trade.funding,
        trade.bars_held,
        trade.exit_reason,
        trade.liquidated,
    )


def _fill_row(fill: Any) -> tuple[Any, ...]:
    return (
        fill.timestamp,
        fill.venue,
        fill.symbol,
        fill.side,
        fill.size,
        fill.price,
        fill.fee,
        fill.closed_pnl,
        fill.liquidity,
        fill.is_liquidation,
        fill.account,
    )


def _order_row(order: Any) -> tuple[Any, ...]:
    return (
        order.strategy,
        order.venue,
        order.symbol,
        order.side,
        order.type,
        order.tif,
        order.size,
        order.reduce_only,
        order.status,
        order.filled_size,
        order.avg_fill_price,
        order.fees,
        order.reason,
        order.annotations.get("reason"),
        order.created_at,
    )


def kernel_ran(result: BacktestResult) -> bool:
    """Whether the fast path's compiled kernel (not the per-trade loop) produced ``result``."""
    return result.assumptions.get("fast path", "").startswith("compiled kernel")


def _local(identifier: str | None, run_id: str) -> str | None:
    """An id without the run's random prefix (``bt-1a2b3c4d5-fl-7`` → ``fl-7``)."""
    if identifier is None:
        return None
    prefix = run_id[:12] + "-"
    return identifier[len(prefix) :] if identifier.startswith(prefix) else identifier


def assert_same_fast(kernel: BacktestResult, loop: BacktestResult) -> None:
    """Two fast-path results (kernel and per-trade loop) identical record for record: every
    field of every fill, order and funding payment, ids included (run prefix aside)."""
    assert [_trade_row(t) for t in kernel.trades] == [_trade_row(t) for t in loop.trades]
    for mine, theirs in zip(kernel.fills, loop.fills, strict=True):
        assert mine.model_dump(exclude={"client_order_id"}) == theirs.model_dump(
            exclude={"client_order_id"}
        )
        assert _local(mine.client_order_id, kernel.run_id) == _local(
            theirs.client_order_id, loop.run_id
        )
        assert str(mine.price) == str(theirs.price)  # the same Decimal, digit for digit
        assert str(mine.size) == str(theirs.size)
        assert str(mine.fee) == str(theirs.fee)
    assert len(kernel.orders) == len(loop.orders)
    for mine, theirs in zip(kernel.orders, loop.orders, strict=True):
        assert mine.model_dump(exclude={"client_order_id"}) == theirs.model_dump(
            exclude={"client_order_id"}
        )
        assert _local(mine.client_order_id, kernel.run_id) == _local(
            theirs.client_order_id, loop.run_id
        )
    assert list(kernel.funding) == list(loop.funding)
    assert [str(p.payment) for p in kernel.funding] == [str(p.payment) for p in loop.funding]
    assert np.array_equal(kernel.timestamp, loop.timestamp)
    scale = np.maximum(np.abs(loop.equity), 1.0)
    assert np.max(np.abs(kernel.equity - loop.equity) / scale, initial=0.0) <= EQUITY_RTOL


def assert_same(pair: Pair) -> None:
    """Trades, fills, orders and funding exactly equal (Decimals compared with ``==``); the
    equity curves equal within ``EQUITY_RTOL`` relative at every bar."""
    event, fast = pair.event, pair.fast
    assert fast.engine == "fast"
    assert event.engine == "event"
    assert [_trade_row(t) for t in fast.trades] == [_trade_row(t) for t in event.trades]
    assert [_fill_row(f) for f in fast.fills] == [_fill_row(f) for f in event.fills]
    assert [_order_row(o) for o in fast.orders] == [_order_row(o) for o in event.orders]
    assert [(p.timestamp, p.venue, p.symbol, p.rate, p.payment) for p in fast.funding] == [
        (p.timestamp, p.venue, p.symbol, p.rate, p.payment) for p in event.funding
    ]
    assert sum((f.fee for f in fast.fills), Decimal(0)) == sum(
        (f.fee for f in event.fills), Decimal(0)
    )
    assert np.array_equal(fast.timestamp, event.timestamp)
    scale = np.maximum(np.abs(event.equity), 1.0)
    assert np.max(np.abs(fast.equity - event.equity) / scale, initial=0.0) <= EQUITY_RTOL
    for leg, curve in event.equity_by_leg.items():
        other = fast.equity_by_leg[leg]
        assert np.max(np.abs(other - curve) / scale, initial=0.0) <= EQUITY_RTOL
    assert fast.initial_equity == event.initial_equity
    assert fast.bars == event.bars
    assert fast.strategies == event.strategies
