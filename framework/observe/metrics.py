"""Prometheus metrics, named as the original Spark Stacker dashboards named them.

Each :class:`Metrics` owns its own ``CollectorRegistry`` (never the global default one), so
tests and several runs in one process never collide. :data:`CATALOGUE` is the single list of
what is exported; docs/observability.md and deploy/grafana/dashboard.json are tested against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MetricKind = Literal["counter", "gauge", "histogram"]

LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

GOVERNOR_STATES = {"ACTIVE": 0, "REDUCE_ONLY": 1, "HALTED": 2, "FLATTEN": 3}


@dataclass(frozen=True)
class MetricSpec:
    """One exported metric: full Prometheus name (counters end in ``_total``), type, labels."""

    name: str
    kind: MetricKind
    help: str
    labels: tuple[str, ...] = ()

    def sample_names(self) -> frozenset[str]:
        """The series names Prometheus stores for this metric."""
        if self.kind == "histogram":
            return frozenset(f"{self.name}{s}" for s in ("_bucket", "_sum", "_count", "_created"))
        if self.kind == "counter":
            return frozenset({self.name, self.name.removesuffix("_total") + "_created"})
        return frozenset({self.name})


def _spec(name: str, kind: MetricKind, help_: str, *labels: str) -> MetricSpec:
    return MetricSpec(f"spark_stacker_{name}", kind, help_, tuple(labels))


# ---- names kept from the original dashboards -------------------------------------------------
TRADES = _spec(
    "trades_total",
    "counter",
    "Orders that ended with a fill",
    "strategy",
    "venue",
    "symbol",
    "side",
)
ACTIVE_POSITIONS = _spec(
    "active_positions", "gauge", "Open (non-flat) positions per account", "venue", "account"
)
ACCOUNT_BALANCE = _spec(
    "account_balance", "gauge", "Account equity in USD", "venue", "account", "simulated"
)
STRATEGY_SIGNALS = _spec(
    "strategy_signals",
    "gauge",
    "Last signal direction (-1 short, 0 flat, 1 long)",
    "strategy",
    "symbol",
)
SIGNALS_GENERATED = _spec(
    "strategy_signal_generated_total",
    "counter",
    "Signals produced",
    "strategy",
    "direction",
    "accepted",
)
TRADES_EXECUTED = _spec(
    "strategy_trade_executed_total",
    "counter",
    "Orders that reached a terminal state, by result (filled|partial|rejected|cancelled)",
    "strategy",
    "result",
)
STRATEGY_POSITION = _spec(
    "strategy_position",
    "gauge",
    "Position size (base units) per strategy leg",
    "strategy",
    "venue",
    "symbol",
    "side",
    "type",
)
MACD_VALUE = _spec(
    "macd_value", "gauge", "MACD components (old dashboards)", "strategy", "component"
)
INDICATOR_VALUE = _spec(
    "indicator_value", "gauge", "Latest indicator value", "strategy", "indicator", "component"
)

# ---- trading-semantic metrics ---------------------------------------------------------------
ORDER_EVENTS = _spec(
    "order_events_total", "counter", "Order lifecycle events by kind", "venue", "kind"
)
ORDER_LATENCY = _spec(
    "order_latency_seconds", "histogram", "Market-data event to order request", "venue"
)
FILLS = _spec("fills_total", "counter", "Fills", "venue", "symbol", "side", "liquidity")
FEES_PAID = _spec("fees_paid_total", "counter", "Trading fees paid (USD)", "venue", "symbol")
FEE_REBATES = _spec(
    "fee_rebates_total", "counter", "Maker rebates received (USD)", "venue", "symbol"
)
FUNDING_PAID = _spec("funding_paid_total", "counter", "Funding paid (USD)", "venue", "symbol")
FUNDING_RECEIVED = _spec(
    "funding_received_total", "counter", "Funding received (USD)", "venue", "symbol"
)
PNL = _spec("pnl", "gauge", "PnL in USD, kind=realized|unrealized", "venue", "account", "kind")
MARGIN_RATIO = _spec(
    "margin_ratio", "gauge", "Maintenance margin / equity (1 = liquidation)", "venue", "account"
)
LIQUIDATION_DISTANCE = _spec(
    "liquidation_distance",
    "gauge",
    "|mark - liquidation price| / mark",
    "venue",
    "account",
    "symbol",
)
STRATEGY_LIQUIDATION_DISTANCE = _spec(
    "strategy_liquidation_distance",
    "gauge",
    "|mark - liquidation price| / mark per strategy leg (type main|hedge) and hedged group "
    "(type group: the nearer leg); source venue|estimate",
    "strategy",
    "type",
    "source",
)
RATE_LIMIT_HEADROOM = _spec(
    "rate_limit_headroom",
    "gauge",
    "Fraction of the venue's rate-limit budget left (0..1)",
    "venue",
    "limit",
)
RECONNECTS = _spec("reconnects_total", "counter", "Stream reconnects", "venue", "stream")
RECONCILIATION_DRIFT = _spec(
    "reconciliation_drift",
    "gauge",
    "Venue position minus journal position (base units)",
    "venue",
    "symbol",
)
GOVERNOR_STATE = _spec(
    "governor_state",
    "gauge",
    "Account governor: 0 ACTIVE, 1 REDUCE_ONLY, 2 HALTED, 3 FLATTEN",
    "scope",
    "state",
)
RISK_EVENTS = _spec("risk_events_total", "counter", "Risk checks that fired", "check", "action")
RUN_INFO = _spec("run_info", "gauge", "1 while a run is going, 0 after it ended", "run_id", "mode")
BUILD_INFO = _spec("build_info", "gauge", "Always 1; the label carries the version", "version")

CATALOGUE: tuple[MetricSpec, ...] = (
    TRADES,
    ACTIVE_POSITIONS,
    ACCOUNT_BALANCE,
    STRATEGY_SIGNALS,
    SIGNALS_GENERATED,
    TRADES_EXECUTED,
    STRATEGY_POSITION,
    MACD_VALUE,
    INDICATOR_VALUE,
    ORDER_EVENTS,
    ORDER_LATENCY,
    FILLS,
    FEES_PAID,
    FEE_REBATES,
    FUNDING_PAID,
    FUNDING_RECEIVED,
    PNL,
    MARGIN_RATIO,
    LIQUIDATION_DISTANCE,
    STRATEGY_LIQUIDATION_DISTANCE,
    RATE_LIMIT_HEADROOM,
    RECONNECTS,
    RECONCILIATION_DRIFT,
    GOVERNOR_STATE,
    RISK_EVENTS,
    RUN_INFO,
    BUILD_INFO,
)


def exported_sample_names() -> frozenset[str]:
    """Every series name a scrape can contain (``_total``, ``_bucket``, … included)."""
    names: set[str] = set()
    for spec in CATALOGUE:
        names |= spec.sample_names()
    return frozenset(names)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spark-stacker")
    except PackageNotFoundError:
        return "unknown"


class Metrics:
    """Every Spark Stacker metric, registered in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.trades = self._counter(TRADES)
        self.active_positions = self._gauge(ACTIVE_POSITIONS)
        self.account_balance = self._gauge(ACCOUNT_BALANCE)
        self.strategy_signals = self._gauge(STRATEGY_SIGNALS)
        self.signals_generated = self._counter(SIGNALS_GENERATED)
        self.trades_executed = self._counter(TRADES_EXECUTED)
        self.strategy_position = self._gauge(STRATEGY_POSITION)
        self.macd_value = self._gauge(MACD_VALUE)
        self.indicator_value = self._gauge(INDICATOR_VALUE)
        self.order_events = self._counter(ORDER_EVENTS)
        self.order_latency = Histogram(
            ORDER_LATENCY.name,
            ORDER_LATENCY.help,
            ORDER_LATENCY.labels,
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.fills = self._counter(FILLS)
        self.fees_paid = self._counter(FEES_PAID)
        self.fee_rebates = self._counter(FEE_REBATES)
        self.funding_paid = self._counter(FUNDING_PAID)
        self.funding_received = self._counter(FUNDING_RECEIVED)
        self.pnl = self._gauge(PNL)
        self.margin_ratio = self._gauge(MARGIN_RATIO)
        self.liquidation_distance = self._gauge(LIQUIDATION_DISTANCE)
        self.strategy_liquidation_distance = self._gauge(STRATEGY_LIQUIDATION_DISTANCE)
        self.rate_limit_headroom = self._gauge(RATE_LIMIT_HEADROOM)
        self.reconnects = self._counter(RECONNECTS)
        self.reconciliation_drift = self._gauge(RECONCILIATION_DRIFT)
        self.governor_state = self._gauge(GOVERNOR_STATE)
        self.risk_events = self._counter(RISK_EVENTS)
        self.run_info = self._gauge(RUN_INFO)
        self.build_info = self._gauge(BUILD_INFO)
        self.build_info.labels(version=_version()).set(1)

    def _counter(self, spec: MetricSpec) -> Counter:
        return Counter(spec.name, spec.help, spec.labels, registry=self.registry)

    def _gauge(self, spec: MetricSpec) -> Gauge:
        return Gauge(spec.name, spec.help, spec.labels, registry=self.registry)

    def exposition(self) -> bytes:
        """The text a Prometheus scrape receives."""
        return generate_latest(self.registry)
