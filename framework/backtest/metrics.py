"""Performance numbers of a backtest: returns, risk, trades, costs, split by strategy and leg.

Conventions (also in docs/backtesting.md, "Reading a report"):

* The equity curve starts at ``initial_equity`` at the open of the first bar, then takes
  ``result.equity`` at every bar close. Per-bar returns are simple returns between consecutive
  points of that curve.
* **Sharpe** = mean / sample std (ddof 1) of per-bar returns × √(bars per year); **Sortino** =
  mean / downside deviation × √(bars per year), downside deviation = √(mean(min(r, 0)²)) over
  all bars. Risk-free rate 0. Bars per year use a 365-day year (crypto trades every day) and
  the bar length (median spacing of the timeline). Undefined values are ``None``, never NaN.
* **CAGR** uses calendar time from the open of the first bar to the close of the last.
  **Calmar** = CAGR / max drawdown fraction.
* Trade statistics count closed round trips and use net PnL (price PnL − fees − funding);
  money sums (PnL, fees, funding) include positions still open at the end, marked at the
  last price, so they reconcile with equity.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sparkstacker.backtest.metrics_series import (
    Drawdown,
    bar_milliseconds,
    exposure_fraction,
    max_drawdown,
    monthly_returns,
    return_stats,
    validate_curve,
)
from sparkstacker.backtest.result import BacktestResult, RoundTrip
from sparkstacker.model import Liquidity, from_millis

ZERO = Decimal(0)
ALL = "all"

__all__ = ["ALL", "BacktestMetrics", "Drawdown", "GroupStats", "compute_metrics"]


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Trades of one group (a strategy, a leg, a strategy's leg, or a direction).

    ``strategy`` / ``leg`` / ``direction`` are ``"all"`` when the group spans every value.
    """

    strategy: str
    leg: str
    direction: str
    trades: int  # closed round trips
    open_trades: int
    wins: int  # closed with net PnL > 0
    losses: int  # closed with net PnL < 0
    pnl: Decimal  # price PnL, every trade (open ones marked at the last price)
    fees: Decimal
    funding: Decimal  # paid; negative means received
    net_pnl: Decimal

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None

    @property
    def label(self) -> str:
        parts = [p for p in (self.strategy, self.leg, self.direction) if p != ALL]
        return " / ".join(parts) or ALL


@dataclass(frozen=True, slots=True)
class BacktestMetrics:
    """Every number a report shows. ``None`` means undefined for this run (say why in docs)."""

    # period
    start: datetime | None  # open of the first bar
    end: datetime | None  # close of the last bar
    bars: int
    bar_seconds: float | None
    bars_per_year: float | None
    # returns and risk (from the float equity curve)
    initial_equity: Decimal
    final_equity: float
    net_profit: float
    total_return: float | None
    cagr: float | None
    annual_volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: Drawdown | None
    longest_drawdown: timedelta | None  # longest time under water (open one counts to the end)
    wiped_out: bool  # equity reached zero or below
    exposure: float | None  # fraction of bars with any position open
    # trades (closed round trips, net of fees and funding)
    trades: int
    open_trades: int
    wins: int
    losses: int
    win_rate: float | None
    gross_profit: Decimal  # sum of winning net PnL
    gross_loss: Decimal  # sum of losing net PnL, as a positive number
    profit_factor: float | None  # None when there is no losing trade (see gross_loss)
    expectancy: Decimal | None  # mean net PnL per closed trade
    avg_win: Decimal | None
    avg_loss: Decimal | None  # negative
    best_trade: Decimal | None
    worst_trade: Decimal | None
    max_consecutive_losses: int
    avg_holding_time: timedelta | None
    avg_bars_held: float | None
    # costs and execution
    fees_paid: Decimal  # net of maker rebates
    rebates: Decimal  # rebates received, positive
    funding_paid: Decimal
    funding_received: Decimal  # positive
    fills: int
    maker_fills: int
    maker_ratio: float | None  # maker fills / all fills
    maker_notional_ratio: float | None  # maker notional / all notional
    liquidations: int
    liquidated_trades: int
    risk_events: int
    governor_actions: int
    margin_actions: int  # margin-warning crossings that sent an order ("liquidations avoided")
    # breakdowns
    by_strategy: tuple[GroupStats, ...] = ()
    by_leg: tuple[GroupStats, ...] = ()
    by_strategy_leg: tuple[GroupStats, ...] = ()
    by_direction: tuple[GroupStats, ...] = ()
    monthly_returns: tuple[tuple[int, int, float], ...] = ()  # (year, month, return)
    engine: str = "event"
    synthetic_data: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def net_funding(self) -> Decimal:
        return self.funding_paid - self.funding_received


def compute_metrics(result: BacktestResult) -> BacktestMetrics:
    """Turn a :class:`BacktestResult` into :class:`BacktestMetrics` (pure, no I/O)."""
    ts, equity = validate_curve(result.timestamp, result.equity, run_id=result.run_id)
    bar_ms = bar_milliseconds(ts, [m.timeframe for m in result.markets])
    initial = float(result.initial_equity)
    start_ms = int(ts[0]) - (bar_ms or 0) if len(ts) else None
    curve_ts = np.concatenate([[start_ms], ts]).astype(np.int64) if len(ts) else ts
    curve = np.concatenate([[initial], equity]) if len(ts) else equity
    notes: list[str] = []

    stats = return_stats(curve, curve_ts, bar_ms)
    notes.extend(stats.notes)
    drawdown, longest = max_drawdown(curve, curve_ts) if len(curve) else (None, None)
    trade_part = _trade_stats(result.trades)
    final = float(equity[-1]) if len(equity) else initial
    calmar = (
        _finite(stats.cagr / drawdown.fraction)
        if stats.cagr is not None and drawdown is not None and drawdown.fraction > 0
        else None
    )
    fees_paid, rebates = _fees(result)
    funding_paid, funding_received = _funding(result)
    maker = _maker(result)
    groups = _Groups.of(result.trades, result.strategies)
    return BacktestMetrics(
        start=from_millis(int(curve_ts[0])) if len(ts) else None,
        end=from_millis(int(ts[-1])) if len(ts) else None,
        bars=len(ts),
        bar_seconds=bar_ms / 1000 if bar_ms else None,
        bars_per_year=stats.bars_per_year,
        initial_equity=result.initial_equity,
        final_equity=final,
        net_profit=final - initial,
        total_return=_finite(final / initial - 1) if initial > 0 else None,
        cagr=stats.cagr,
        annual_volatility=stats.volatility,
        sharpe=stats.sharpe,
        sortino=stats.sortino,
        calmar=calmar,
        max_drawdown=drawdown,
        longest_drawdown=longest,
        wiped_out=stats.wiped_out,
        exposure=_exposure(result.trades, ts, bar_ms),
        **trade_part,
        fees_paid=fees_paid,
        rebates=rebates,
        funding_paid=funding_paid,
        funding_received=funding_received,
        fills=maker[0],
        maker_fills=maker[1],
        maker_ratio=maker[2],
        maker_notional_ratio=maker[3],
        liquidations=result.liquidations,
        liquidated_trades=sum(1 for t in result.trades if t.liquidated),
        risk_events=len(result.risk_events),
        governor_actions=len(result.governor_actions),
        margin_actions=sum(
            1
            for e in result.risk_events
            if e.get("kind") == "margin_warning" and (e.get("data") or {}).get("acted") is True
        ),
        by_strategy=groups.by_strategy,
        by_leg=groups.by_leg,
        by_strategy_leg=groups.by_strategy_leg,
        by_direction=groups.by_direction,
        monthly_returns=monthly_returns(curve, curve_ts),
        engine=result.engine,
        synthetic_data=result.synthetic_data,
        notes=tuple(notes),
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ---- trades -------------------------------------------------------------------------------


def _trade_stats(trades: Sequence[RoundTrip]) -> dict[str, Any]:
    closed = sorted((t for t in trades if not t.is_open), key=lambda t: t.exit_time or t.entry_time)
    nets = [t.net_pnl for t in closed]
    wins = [n for n in nets if n > 0]
    losses = [n for n in nets if n < 0]
    gross_profit = sum(wins, ZERO)
    gross_loss = -sum(losses, ZERO)
    streak = longest = 0
    for net in nets:
        streak = streak + 1 if net < 0 else 0
        longest = max(longest, streak)
    held = [t.exit_time - t.entry_time for t in closed if t.exit_time is not None]
    return {
        "trades": len(closed),
        "open_trades": len(trades) - len(closed),
        "wins": len(wins),
        "losses": len(losses),
        "win_rate": len(wins) / len(closed) if closed else None,
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "profit_factor": float(gross_profit / gross_loss) if gross_loss > 0 else None,
        "expectancy": _mean(nets),
        "avg_win": _mean(wins),
        "avg_loss": _mean(losses),
        "best_trade": max(nets) if nets else None,
        "worst_trade": min(nets) if nets else None,
        "max_consecutive_losses": longest,
        "avg_holding_time": sum(held, timedelta()) / len(held) if held else None,
        "avg_bars_held": sum(t.bars_held for t in closed) / len(closed) if closed else None,
    }


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    return sum(values, ZERO) / len(values) if values else None


def _exposure(trades: Sequence[RoundTrip], ts: np.ndarray, bar_ms: int | None) -> float | None:
    if not len(ts):
        return None
    if not trades:
        return 0.0
    far = np.iinfo(np.int64).max // 2
    entries = np.array([_ms(t.entry_time) for t in trades], dtype=np.int64)
    exits = np.array(
        [far if t.exit_time is None else _ms(t.exit_time) for t in trades], dtype=np.int64
    )
    return exposure_fraction(ts, bar_ms or 0, entries, exits)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


# ---- costs --------------------------------------------------------------------------------


def _fees(result: BacktestResult) -> tuple[Decimal, Decimal]:
    """Net fees paid and rebates received; from fills, or from trades when there are none."""
    fees = [f.fee for f in result.fills] if result.fills else [t.fees for t in result.trades]
    return sum(fees, ZERO), -sum((f for f in fees if f < 0), ZERO)


def _funding(result: BacktestResult) -> tuple[Decimal, Decimal]:
    """Funding paid and received (both positive); payments first, trade totals as fallback."""
    if result.funding:
        amounts = [p.payment for p in result.funding]
    else:
        amounts = [t.funding for t in result.trades]
    return sum((a for a in amounts if a > 0), ZERO), -sum((a for a in amounts if a < 0), ZERO)


def _maker(result: BacktestResult) -> tuple[int, int, float | None, float | None]:
    fills = result.fills
    if not fills:
        return 0, 0, None, None
    maker = [f for f in fills if f.liquidity is Liquidity.MAKER]
    notional = sum((f.notional for f in fills), ZERO)
    maker_notional = sum((f.notional for f in maker), ZERO)
    return (
        len(fills),
        len(maker),
        len(maker) / len(fills),
        float(maker_notional / notional) if notional > 0 else None,
    )


# ---- breakdowns ---------------------------------------------------------------------------


@dataclass
class _Acc:
    trades: int = 0
    open_trades: int = 0
    wins: int = 0
    losses: int = 0
    pnl: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO

    def add(self, trade: RoundTrip) -> None:
        self.pnl += trade.pnl
        self.fees += trade.fees
        self.funding += trade.funding
        if trade.is_open:
            self.open_trades += 1
            return
        self.trades += 1
        net = trade.net_pnl
        self.wins += net > 0
        self.losses += net < 0

    def merge(self, other: _Acc) -> None:
        for name in ("trades", "open_trades", "wins", "losses", "pnl", "fees", "funding"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def freeze(self, strategy: str, leg: str, direction: str = ALL) -> GroupStats:
        return GroupStats(
            strategy=strategy,
            leg=leg,
            direction=direction,
            trades=self.trades,
            open_trades=self.open_trades,
            wins=self.wins,
            losses=self.losses,
            pnl=self.pnl,
            fees=self.fees,
            funding=self.funding,
            net_pnl=self.pnl - self.fees - self.funding,
        )


@dataclass(frozen=True)
class _Groups:
    by_strategy: tuple[GroupStats, ...]
    by_leg: tuple[GroupStats, ...]
    by_strategy_leg: tuple[GroupStats, ...]
    by_direction: tuple[GroupStats, ...]

    @classmethod
    def of(cls, trades: Iterable[RoundTrip], strategies: Sequence[str]) -> _Groups:
        cells: dict[tuple[str, str, str], _Acc] = {}
        for trade in trades:
            key = (trade.strategy, trade.leg, trade.direction)
            cells.setdefault(key, _Acc()).add(trade)
        names = _ordered(strategies, (k[0] for k in cells))
        legs = _ordered(("main", "hedge"), (k[1] for k in cells), keep_missing=False)
        directions = _ordered(("long", "short"), (k[2] for k in cells), keep_missing=False)

        def total(pick: tuple[str | None, str | None, str | None]) -> _Acc:
            acc = _Acc()
            for key, cell in cells.items():
                if all(p is None or p == k for p, k in zip(pick, key, strict=True)):
                    acc.merge(cell)
            return acc

        return cls(
            by_strategy=tuple(total((s, None, None)).freeze(s, ALL) for s in names),
            by_leg=tuple(total((None, leg, None)).freeze(ALL, leg) for leg in legs),
            by_strategy_leg=tuple(
                total((s, leg, None)).freeze(s, leg)
                for s in names
                for leg in legs
                if any(k[0] == s and k[1] == leg for k in cells)
            ),
            by_direction=tuple(total((None, None, d)).freeze(ALL, ALL, d) for d in directions),
        )


def _ordered(
    preferred: Sequence[str], seen: Iterable[str], *, keep_missing: bool = True
) -> list[str]:
    """``preferred`` first (all of them, or only those seen), then any others sorted."""
    seen_set = set(seen)
    head = [p for p in preferred if keep_missing or p in seen_set]
    return head + sorted(seen_set - set(head))
