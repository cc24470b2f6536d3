"""Metrics as a plugin: hookimpls for run/signal/order/fill events, methods for everything else.

The engine registers a :class:`MetricsPlugin` in its plugin manager like any other plugin and
calls the plain methods (``update_account``, ``set_indicators``, ``observe_order_latency``, …)
for values that are not hook events. Indicator updates can be throttled (``indicator_interval``)
so calling them every bar of a fast backtest costs a dictionary lookup.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal

from prometheus_client import Gauge
from sparkstacker.context import RunContext
from sparkstacker.errors import ConfigError
from sparkstacker.hookspecs import hookimpl
from sparkstacker.model import (
    AccountState,
    FillEvent,
    OrderEvent,
    OrderEventKind,
    Position,
    SignalEvent,
)
from sparkstacker.observe.metrics import GOVERNOR_STATES, Metrics

_TERMINAL_KINDS = frozenset(
    {
        OrderEventKind.FILL,
        OrderEventKind.CANCELLED,
        OrderEventKind.EXPIRED,
        OrderEventKind.REJECTED,
    }
)
MACD_COMPONENTS = {
    "macd": "macd",
    "signal": "signal",
    "hist": "histogram",
    "histogram": "histogram",
}
_UNSET = "none"


def _f(value: Decimal | float | int) -> float:
    return float(value)


def trade_result(event: OrderEvent) -> str | None:
    """filled | partial | rejected | cancelled for terminal events, None otherwise."""
    if event.kind not in _TERMINAL_KINDS:
        return None
    if event.kind is OrderEventKind.FILL:
        return "filled"
    if event.kind is OrderEventKind.REJECTED:
        return "rejected"
    return "partial" if event.order.filled_size > 0 else "cancelled"


def leg_type(leg: str | None) -> str:
    """The ``type`` label: ``hedge`` for hedge legs (and their protective orders), else main."""
    return "hedge" if leg is not None and leg.lower().startswith("hedge") else "main"


class MetricsPlugin:
    """Feeds a :class:`Metrics` from hook events and from the engine's direct calls."""

    def __init__(self, metrics: Metrics, *, indicator_interval: float = 0.0) -> None:
        if indicator_interval < 0:
            raise ConfigError(f"indicator_interval must be >= 0 seconds, got {indicator_interval}")
        self.metrics = metrics
        self.indicator_interval = indicator_interval
        self._indicator_at: dict[str, float] = {}
        self._indicator_children: dict[tuple[str, str, str], list[Gauge]] = {}
        self._liquidation_symbols: dict[tuple[str, str], set[str]] = {}
        self._governor: dict[str, str] = {}
        self._strategy_liquidation: dict[tuple[str, str], str] = {}  # (strategy, type) → source
        self._run: RunContext | None = None

    # ---- hooks --------------------------------------------------------------------------------

    @hookimpl
    def startup(self, run: RunContext) -> None:
        self._run = run
        self.metrics.run_info.labels(run_id=run.run_id, mode=run.mode).set(1)

    @hookimpl
    def shutdown(self, run: RunContext) -> None:
        self.metrics.run_info.labels(run_id=run.run_id, mode=run.mode).set(0)

    @hookimpl
    def on_signal(self, event: SignalEvent) -> None:
        signal = event.signal
        m = self.metrics
        m.signals_generated.labels(
            strategy=signal.strategy,
            direction=signal.direction.value,
            accepted="true" if event.accepted else "false",
        ).inc()
        m.strategy_signals.labels(strategy=signal.strategy, symbol=signal.symbol).set(
            signal.direction.sign
        )

    @hookimpl
    def on_order_event(self, event: OrderEvent) -> None:
        order = event.order
        m = self.metrics
        m.order_events.labels(venue=order.venue, kind=event.kind.value).inc()
        result = trade_result(event)
        if result is None:
            return
        strategy = order.strategy or _UNSET
        m.trades_executed.labels(strategy=strategy, result=result).inc()
        if order.filled_size > 0:
            m.trades.labels(
                strategy=strategy, venue=order.venue, symbol=order.symbol, side=order.side.value
            ).inc()

    @hookimpl
    def on_fill(self, event: FillEvent) -> None:
        fill = event.fill
        m = self.metrics
        m.fills.labels(
            venue=fill.venue,
            symbol=fill.symbol,
            side=fill.side.value,
            liquidity=fill.liquidity.value,
        ).inc()
        if fill.fee > 0:
            m.fees_paid.labels(venue=fill.venue, symbol=fill.symbol).inc(_f(fill.fee))
        elif fill.fee < 0:
            m.fee_rebates.labels(venue=fill.venue, symbol=fill.symbol).inc(_f(-fill.fee))
        if event.realized_pnl is not None:
            m.pnl.labels(venue=fill.venue, account=fill.account or "main", kind="realized").inc(
                _f(event.realized_pnl)
            )
        if event.position is not None:
            self.set_strategy_position(
                strategy=event.order.strategy or _UNSET,
                position=event.position,
                type_=leg_type(event.order.leg),
            )

    # ---- values that are not hook events ------------------------------------------------------

    def set_strategy_position(self, *, strategy: str, position: Position, type_: str) -> None:
        """Set the long/short gauges of one strategy leg from a position (the other side: 0)."""
        labels = {"strategy": strategy, "venue": position.venue, "symbol": position.symbol}
        size = _f(abs(position.size))
        long_size = size if position.size > 0 else 0.0
        short_size = size if position.size < 0 else 0.0
        gauge = self.metrics.strategy_position
        gauge.labels(**labels, side="long", type=type_).set(long_size)
        gauge.labels(**labels, side="short", type=type_).set(short_size)

    def update_account(self, account: AccountState) -> None:
        """Equity, open positions, margin ratio, unrealized PnL, liquidation distances."""
        m = self.metrics
        key = {"venue": account.venue, "account": account.account}
        m.account_balance.labels(**key, simulated="true" if account.simulated else "false").set(
            _f(account.equity)
        )
        open_positions = [p for p in account.positions if not p.is_flat]
        m.active_positions.labels(**key).set(len(open_positions))
        m.margin_ratio.labels(**key).set(_f(account.margin_ratio))
        unrealized = sum((p.unrealized_pnl for p in open_positions), Decimal(0))
        m.pnl.labels(**key, kind="unrealized").set(_f(unrealized))
        seen: set[str] = set()
        for position in open_positions:
            distance = position.liquidation_distance()
            if distance is not None:
                m.liquidation_distance.labels(**key, symbol=position.symbol).set(_f(distance))
                seen.add(position.symbol)
        previous = self._liquidation_symbols.get((account.venue, account.account), set())
        for symbol in previous - seen:
            m.liquidation_distance.remove(account.venue, account.account, symbol)
        self._liquidation_symbols[(account.venue, account.account)] = seen

    def set_strategy_liquidation_distance(
        self, *, strategy: str, type_: str, distance: Decimal | float | None, source: str
    ) -> None:
        """Distance to liquidation of one strategy leg (``main``/``hedge``) or hedged group
        (``group``); ``None`` removes the series (flat, or it cannot be liquidated)."""
        gauge = self.metrics.strategy_liquidation_distance
        key = (strategy, type_)
        previous = self._strategy_liquidation.get(key)
        if previous is not None and (distance is None or previous != source):
            gauge.remove(strategy, type_, previous)
            del self._strategy_liquidation[key]
        if distance is None:
            return
        gauge.labels(strategy=strategy, type=type_, source=source).set(_f(distance))
        self._strategy_liquidation[key] = source

    def set_indicators(
        self,
        strategy: str,
        indicator: str,
        values: Mapping[str, float | Decimal],
        *,
        at: float | None = None,
    ) -> bool:
        """Set an indicator's components (``{"macd": …, "signal": …, "hist": …}``).

        Throttled per strategy and indicator to one update per ``indicator_interval`` seconds
        of ``at`` (event time, e.g. the bar's epoch seconds; wall clock if omitted). Returns
        whether the gauges were updated. An indicator named ``macd`` also feeds
        ``spark_stacker_macd_value`` for the old dashboards.
        """
        if self.indicator_interval > 0:
            now = time.monotonic() if at is None else at
            key = f"{strategy}\x00{indicator}"
            last = self._indicator_at.get(key)
            if last is not None and now - last < self.indicator_interval:
                return False
            self._indicator_at[key] = now
        for component, value in values.items():
            children = self._indicator_children.get((strategy, indicator, component))
            if children is None:
                children = self._indicator_gauges(strategy, indicator, component)
            number = _f(value)
            for child in children:
                child.set(number)
        return True

    def _indicator_gauges(self, strategy: str, indicator: str, component: str) -> list[Gauge]:
        """The labelled gauges one indicator component feeds (cached: labels() is not free)."""
        m = self.metrics
        children = [
            m.indicator_value.labels(strategy=strategy, indicator=indicator, component=component)
        ]
        if indicator.lower() == "macd" and component.lower() in MACD_COMPONENTS:
            name = MACD_COMPONENTS[component.lower()]
            children.append(m.macd_value.labels(strategy=strategy, component=name))
        self._indicator_children[(strategy, indicator, component)] = children
        return children

    def observe_order_latency(self, seconds: float, *, venue: str) -> None:
        """Time from the market-data event that triggered an order to the order request."""
        if seconds < 0:
            raise ConfigError(f"order latency cannot be negative ({seconds} s on {venue})")
        self.metrics.order_latency.labels(venue=venue).observe(seconds)

    def record_funding(self, *, venue: str, symbol: str, amount: Decimal) -> None:
        """One funding payment: positive was paid, negative was received."""
        if amount > 0:
            self.metrics.funding_paid.labels(venue=venue, symbol=symbol).inc(_f(amount))
        elif amount < 0:
            self.metrics.funding_received.labels(venue=venue, symbol=symbol).inc(_f(-amount))

    def set_rate_limit_headroom(
        self, *, venue: str, fraction: float, limit: str = "requests"
    ) -> None:
        """Fraction of the venue's rate-limit budget left (1 = untouched, 0 = exhausted)."""
        if not 0 <= fraction <= 1:
            raise ConfigError(f"rate-limit headroom must be within 0..1, got {fraction} ({venue})")
        self.metrics.rate_limit_headroom.labels(venue=venue, limit=limit).set(fraction)

    def record_reconnect(self, *, venue: str, stream: str = "websocket") -> None:
        self.metrics.reconnects.labels(venue=venue, stream=stream).inc()

    def set_reconciliation_drift(self, *, venue: str, symbol: str, drift: Decimal) -> None:
        """Venue position minus journal position after reconciliation (0 = in agreement)."""
        self.metrics.reconciliation_drift.labels(venue=venue, symbol=symbol).set(_f(drift))

    def set_governor_state(self, state: object, *, scope: str = "portfolio") -> None:
        """ACTIVE / REDUCE_ONLY / HALTED / FLATTEN (a string or an enum with that name/value).

        One series per scope: the previous state's series is removed.
        """
        raw = getattr(state, "name", None) or getattr(state, "value", None) or state
        name = str(raw).upper().replace("-", "_").replace(" ", "_")
        if name not in GOVERNOR_STATES:
            raise ConfigError(
                f"unknown governor state {state!r}; expected one of {', '.join(GOVERNOR_STATES)}"
            )
        gauge: Gauge = self.metrics.governor_state
        previous = self._governor.get(scope)
        if previous is not None and previous != name:
            gauge.remove(scope, previous)
        gauge.labels(scope=scope, state=name).set(GOVERNOR_STATES[name])
        self._governor[scope] = name

    def record_risk_event(self, *, check: str, action: str) -> None:
        """A risk check fired (``check``: what, e.g. max_drawdown; ``action``: what it did)."""
        self.metrics.risk_events.labels(check=check, action=action).inc()
