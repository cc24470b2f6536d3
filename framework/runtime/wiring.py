"""A run's observers: the four log files, the metrics endpoint, account snapshots.

Everything here hangs off plugin hooks (orders.log, spark_stacker.log, most metrics) or is fed
by the runtime between bars: balance snapshots (journal ``balances`` + balance.log, every
``balance_interval_ms`` of event time, at start and at the end), markets.log (throttled per
symbol), the account and governor gauges, indicator values and order latency.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sparkstacker.engine.engine import Engine
from sparkstacker.exchange import VenueEvent
from sparkstacker.journal import Journal
from sparkstacker.model import AccountState, Position, from_millis
from sparkstacker.observe import (
    LogFiles,
    Metrics,
    MetricsPlugin,
    MetricsServer,
    OrderLogPlugin,
    RunLogPlugin,
    serve_metrics,
    setup_logging,
)

log = logging.getLogger("sparkstacker.runtime")


@dataclass
class Observers:
    files: LogFiles
    metrics: Metrics
    plugin: MetricsPlugin
    server: MetricsServer | None
    journal: Journal
    run_id: str
    balance_interval_ms: int
    _next_balance_ms: int = -1
    _governor: str | None = None
    _risk_seen: int = 0
    last_accounts: dict[str, AccountState] = field(default_factory=dict)
    _legs: dict[tuple[str, str, str, str], Decimal] = field(default_factory=dict)
    _liquidation_keys: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def open(
        cls,
        *,
        run_id: str,
        journal: Journal,
        log_dir: Path | None,
        log_format: str | None,
        log_level: str | None,
        metrics_on: bool,
        metrics_host: str | None,
        metrics_port: int | None,
        balance_interval_ms: int,
    ) -> Observers:
        files = setup_logging(
            log_dir,
            fmt=log_format,  # type: ignore[arg-type]
            level=log_level,
            run_id=run_id,
            market_interval=60.0,
        )
        metrics = Metrics()
        server = serve_metrics(metrics, metrics_host, metrics_port) if metrics_on else None
        return cls(
            files=files,
            metrics=metrics,
            plugin=MetricsPlugin(metrics, indicator_interval=60.0),
            server=server,
            journal=journal,
            run_id=run_id,
            balance_interval_ms=balance_interval_ms,
        )

    def plugins(self) -> list[tuple[str, object]]:
        return [
            ("sparkstacker.observe.orders_log", OrderLogPlugin(self.files.orders)),
            ("sparkstacker.observe.run_log", RunLogPlugin()),
            ("sparkstacker.observe.metrics", self.plugin),
        ]

    @property
    def metrics_url(self) -> str | None:
        return self.server.url if self.server is not None else None

    # ---- between bars -------------------------------------------------------------------------

    def venue_events(self, events: Iterable[VenueEvent]) -> None:
        for event in events:
            if event.kind == "funding":
                payment = Decimal(str(event.data.get("payment", "0")))
                symbol = str(event.data.get("symbol") or event.symbol)
                self.plugin.record_funding(venue=event.venue, symbol=symbol, amount=payment)

    def market(self, venue: str, symbol: str, ts_ms: int, close: float, rate: float | None) -> None:
        price = Decimal(repr(close))
        self.files.markets.write(
            venue=venue,
            symbol=symbol,
            ts=from_millis(ts_ms),
            mid=price,
            mark=price,
            funding_rate=Decimal(repr(rate)) if rate is not None else None,
        )

    def accounts(
        self, accounts: Iterable[AccountState], now_ms: int, *, force: bool = False
    ) -> bool:
        """Gauges every call; balance.log + the journal every ``balance_interval_ms``."""
        accounts = [
            a
            if a.timestamp.timestamp() > 0
            else a.model_copy(update={"timestamp": from_millis(now_ms)})
            for a in accounts
        ]
        for account in accounts:
            self.plugin.update_account(account)
            self.last_accounts[account.venue] = account
        if not force and now_ms < self._next_balance_ms:
            return False
        self._next_balance_ms = now_ms + self.balance_interval_ms
        for account in accounts:
            self.files.balance.write(account, force=True)
            self.journal.record_account(self.run_id, account)
        return True

    def governor(self, state: str) -> None:
        """The governor gauge, set whenever the state differs from the last one exported."""
        if state != self._governor:
            self._governor = state
            self.plugin.set_governor_state(state)

    def liquidation(self, engine: Engine) -> None:
        """Distance to liquidation per strategy leg and per hedged group (series of legs that
        went flat are removed)."""
        seen: set[tuple[str, str]] = set()
        watch = engine.monitor.liquidation
        for row in watch.legs():
            key = (row.strategy or "none", "hedge" if row.leg == "hedge" else "main")
            seen.add(key)
            self.plugin.set_strategy_liquidation_distance(
                strategy=key[0], type_=key[1], distance=row.distance, source=row.liquidation.source
            )
        for name, (distance, source) in watch.groups().items():
            seen.add((name, "group"))
            self.plugin.set_strategy_liquidation_distance(
                strategy=name, type_="group", distance=distance, source=source
            )
        for strategy, type_ in self._liquidation_keys - seen:
            self.plugin.set_strategy_liquidation_distance(
                strategy=strategy, type_=type_, distance=None, source=""
            )
        self._liquidation_keys = seen

    def engine_state(self, engine: Engine, at_s: float, *, governor: str | None = None) -> None:
        """Per bar: governor state (``governor``: the state to show, see
        :func:`~sparkstacker.runtime.reporting.governor_view`), risk events, positions per leg,
        liquidation distances, indicators."""
        if governor is not None:
            self.governor(governor)
        elif engine.governor is not None:
            self.governor(engine.governor.state.name)
        self.liquidation(engine)
        risk = engine.events.risk_events
        for event in risk[self._risk_seen :]:
            self.plugin.record_risk_event(check=str(event["kind"]), action=str(event["severity"]))
        self._risk_seen = len(risk)
        for leg in engine.book.legs():
            key = (leg.strategy, leg.role, leg.venue, leg.symbol)
            if self._legs.get(key) == leg.size:
                continue
            self._legs[key] = leg.size
            self.plugin.set_strategy_position(
                strategy=leg.strategy or "none",
                position=Position(
                    venue=leg.venue, symbol=leg.symbol, size=leg.size, entry_price=leg.entry_price
                ),
                type_="hedge" if leg.role == "hedge" else "main",
            )
        for slot in engine.slots:
            values = getattr(slot.runtime, "indicator_values", None)
            if values is None:
                continue
            for name, components in values().items():
                if components:
                    self.plugin.set_indicators(slot.name, name, components, at=at_s)

    def latency(self, seconds: float, venue: str) -> None:
        self.plugin.observe_order_latency(seconds, venue=venue)

    def drift(self, venue: str, symbol: str, drift: Decimal) -> None:
        self.plugin.set_reconciliation_drift(venue=venue, symbol=symbol, drift=drift)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        self.files.close()


def account_list(venues: Mapping[str, Any]) -> list[AccountState]:
    """Simulated accounts read synchronously (paper venues)."""
    return [v.account_state() for v in venues.values() if hasattr(v, "account_state")]
