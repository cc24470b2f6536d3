"""Builders for crafted BacktestResults used by the metrics and report tests.

Import it after putting this folder on sys.path (the test modules do that themselves).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sparkstacker.backtest.result import BacktestResult, FundingPayment, MarketSeries, RoundTrip
from sparkstacker.model import Fill, Liquidity, Side

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def hourly(n: int, start_ms: int = T0_MS) -> np.ndarray:
    """Bar close times of ``n`` hourly bars whose first bar opens at ``start_ms``."""
    return start_ms + HOUR_MS * np.arange(1, n + 1, dtype=np.int64)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def trade(
    net: str | int = "10",
    *,
    strategy: str = "alpha",
    leg: str = "main",
    direction: str = "long",
    entry_h: float = 0,
    exit_h: float | None = 1,
    fees: str = "0",
    funding: str = "0",
    symbol: str = "ETH-USD",
    venue: str = "sim",
    entry_price: str = "100",
    size: str = "1",
    liquidated: bool = False,
) -> RoundTrip:
    """A round trip whose *net* PnL is ``net`` (price PnL is net + fees + funding)."""
    pnl = Decimal(net) + Decimal(fees) + Decimal(funding)
    sign = 1 if direction == "long" else -1
    entry = Decimal(entry_price)
    exit_price = None if exit_h is None else entry + sign * pnl / Decimal(size)
    return RoundTrip(
        strategy=strategy,
        leg=leg,
        venue=venue,
        symbol=symbol,
        direction=direction,
        size=Decimal(size),
        entry_time=at(entry_h),
        entry_price=entry,
        exit_time=None if exit_h is None else at(exit_h),
        exit_price=exit_price,
        pnl=pnl,
        fees=Decimal(fees),
        funding=Decimal(funding),
        bars_held=int((exit_h if exit_h is not None else entry_h) - entry_h),
        exit_reason=None if exit_h is None else "signal",
        liquidated=liquidated,
    )


def fill(
    price: str,
    size: str,
    *,
    fee: str = "0",
    maker: bool = False,
    side: Side = Side.BUY,
    hours: float = 0,
    order_id: str | None = None,
    fill_id: str = "f",
) -> Fill:
    return Fill(
        fill_id=fill_id,
        client_order_id=order_id,
        venue="sim",
        symbol="ETH-USD",
        side=side,
        price=Decimal(price),
        size=Decimal(size),
        fee=Decimal(fee),
        liquidity=Liquidity.MAKER if maker else Liquidity.TAKER,
        timestamp=at(hours),
    )


def funding(payment: str, hours: float = 1) -> FundingPayment:
    return FundingPayment(
        timestamp=at(hours),
        venue="sim",
        symbol="ETH-USD",
        rate=Decimal("0.0001"),
        payment=Decimal(payment),
    )


def market(n: int, *, synthetic: bool = False, start_ms: int = T0_MS) -> MarketSeries:
    """Hourly bars (timestamps are bar opens) of a gentle sine around 100."""
    ts = start_ms + HOUR_MS * np.arange(n, dtype=np.int64)
    close = 100 + 5 * np.sin(np.arange(n) / 5)
    return MarketSeries(
        venue="sim",
        symbol="ETH-USD",
        timeframe="1h",
        timestamp=ts,
        open=close,
        high=close + 0.5,
        low=close - 0.5,
        close=close,
        synthetic=synthetic,
        origin="synthetic sample data (seed 7)" if synthetic else "binance ETHUSDT 1h",
    )


def result(
    equity: list[float] | np.ndarray,
    *,
    initial: str = "100",
    timestamp: np.ndarray | None = None,
    **fields: Any,
) -> BacktestResult:
    eq = np.asarray(equity, dtype=np.float64)
    values: dict[str, Any] = {
        "run_id": "test-run",
        "rule_files": ("examples/test.rules",),
        "strategies": ("alpha",),
        "initial_equity": Decimal(initial),
        "timestamp": hourly(len(eq)) if timestamp is None else timestamp,
        "equity": eq,
        "equity_by_leg": {},
        "trades": [],
        "fills": [],
        "orders": [],
        "funding": [],
        "markets": [],
    }
    values.update(fields)
    return BacktestResult(**values)


def synthetic_result(
    bars: int, trades: int, *, seed: int = 1, minutes: int = 1, hedge_every: int = 3
) -> BacktestResult:
    """A large, plausible-looking result (random walk prices, alternating trades) for size tests."""
    rng = np.random.default_rng(seed)
    step = minutes * MINUTE_MS
    opens = T0_MS + step * np.arange(bars, dtype=np.int64)
    close = 2000 * np.exp(np.cumsum(rng.normal(0, 0.0008, bars)))
    high = close * (1 + np.abs(rng.normal(0, 0.0005, bars)))
    low = close * (1 - np.abs(rng.normal(0, 0.0005, bars)))
    equity = 10_000 + np.cumsum(rng.normal(0.02, 2.0, bars))
    span = max(1, bars // max(trades, 1))
    round_trips = []
    for i in range(trades):
        entry_bar = min(bars - 1, i * span)
        exit_bar = min(bars - 1, entry_bar + max(1, span // 2))
        direction = "long" if i % 2 == 0 else "short"
        leg = "hedge" if hedge_every and i % hedge_every == hedge_every - 1 else "main"
        entry = Decimal(f"{close[entry_bar]:.2f}")
        exit_ = Decimal(f"{close[exit_bar]:.2f}")
        size = Decimal("0.5")
        sign = 1 if direction == "long" else -1
        round_trips.append(
            RoundTrip(
                strategy="trend" if i % 4 else "revert",
                leg=leg,
                venue="sim",
                symbol="ETH-USD",
                direction=direction,
                size=size,
                entry_time=_dt(int(opens[entry_bar])),
                entry_price=entry,
                exit_time=_dt(int(opens[exit_bar])),
                exit_price=exit_,
                pnl=sign * (exit_ - entry) * size,
                fees=(entry + exit_) * size * Decimal("0.00045"),
                funding=Decimal(f"{rng.normal(0, 0.05):.4f}"),
                bars_held=exit_bar - entry_bar,
                exit_reason="signal" if i % 7 else "stop_loss",
            )
        )
    funding_hours = range(0, bars * minutes // 60)
    payments = [
        FundingPayment(
            timestamp=_dt(T0_MS + h * HOUR_MS),
            venue="sim",
            symbol="ETH-USD",
            rate=Decimal("0.0000125"),
            payment=Decimal(f"{rng.normal(0.01, 0.05):.4f}"),
        )
        for h in funding_hours
    ]
    market_series = MarketSeries(
        venue="sim",
        symbol="ETH-USD",
        timeframe=f"{minutes}m",
        timestamp=opens,
        open=close,
        high=high,
        low=low,
        close=close,
        synthetic=True,
        origin="synthetic sample data (seed 7)",
    )
    main = np.cumsum(rng.normal(0.015, 1.6, bars))
    return result(
        equity,
        initial="10000",
        timestamp=opens + step,
        strategies=("trend", "revert"),
        trades=round_trips,
        funding=payments,
        markets=[market_series],
        equity_by_leg={"main": main, "hedge": equity - 10_000 - main},
        assumptions={
            "fill_timing": "market orders fill at the next bar's open",
            "fees": "taker 4.5 bps, maker 1.5 bps (Hyperliquid tier 0)",
            "slippage": "fixed 2 bps",
            "intrabar_path": "open → low → high → close for long stops",
        },
    )


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
