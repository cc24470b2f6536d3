"""Prometheus metrics: real events through a real plugin manager, read back from the exposition."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sparkstacker.context import RunContext
from sparkstacker.errors import ConfigError
from sparkstacker.model import (
    AccountState,
    Direction,
    OrderEventKind,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from sparkstacker.observe import CATALOGUE, Metrics, MetricsPlugin, serve_metrics
from sparkstacker.observe.metrics import LATENCY_BUCKETS, exported_sample_names

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics.exposition().decode()).get((name, frozenset(labels.items())))


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def plugin(metrics: Metrics) -> MetricsPlugin:
    return MetricsPlugin(metrics)


def test_each_metrics_object_has_its_own_registry():
    first, second = Metrics(), Metrics()
    MetricsPlugin(first).record_reconnect(venue="hyperliquid")
    assert value(first, "spark_stacker_reconnects_total", venue="hyperliquid", stream="websocket")
    assert (
        value(second, "spark_stacker_reconnects_total", venue="hyperliquid", stream="websocket")
        is None
    )


def test_names_from_the_original_dashboards_are_exported(metrics):
    names = {
        family.name for family in text_string_to_metric_families(metrics.exposition().decode())
    }
    # the parser drops _total from counter family names
    for name in (
        "spark_stacker_trades",
        "spark_stacker_active_positions",
        "spark_stacker_account_balance",
        "spark_stacker_strategy_signals",
        "spark_stacker_strategy_signal_generated",
        "spark_stacker_strategy_trade_executed",
        "spark_stacker_strategy_position",
        "spark_stacker_macd_value",
        "spark_stacker_indicator_value",
        "spark_stacker_order_latency_seconds",
        "spark_stacker_fills",
        "spark_stacker_fees_paid",
        "spark_stacker_funding_paid",
        "spark_stacker_pnl",
        "spark_stacker_margin_ratio",
        "spark_stacker_liquidation_distance",
        "spark_stacker_rate_limit_headroom",
        "spark_stacker_reconnects",
        "spark_stacker_reconciliation_drift",
        "spark_stacker_governor_state",
        "spark_stacker_risk_events",
    ):
        assert name in names
    assert len(names) == len(CATALOGUE)


def test_order_events_count_trades_and_results(manager, lifecycle, metrics, plugin):
    pm = manager(plugin)
    filled = lifecycle()
    filled.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    filled.fill("0.1", "2500")
    filled.fill("0.3", "2500")
    partial = lifecycle(client_order_id="p", type=OrderType.LIMIT, side=Side.SELL)
    partial.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    partial.fill("0.2", "2500")
    partial.move(OrderStatus.CANCELLED, OrderEventKind.CANCELLED, reason="ioc rest")
    cancelled = lifecycle(client_order_id="c")
    cancelled.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    cancelled.move(OrderStatus.CANCELLED, OrderEventKind.CANCELLED)
    rejected = lifecycle(client_order_id="r", strategy=None)
    rejected.move(OrderStatus.REJECTED, OrderEventKind.REJECTED, reason="margin")
    expired = lifecycle(client_order_id="e")
    expired.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    expired.move(OrderStatus.EXPIRED, OrderEventKind.EXPIRED)
    for order in (filled, partial, cancelled, rejected, expired):
        for event in order.events:
            pm.hook.on_order_event(event=event)

    executed = "spark_stacker_strategy_trade_executed_total"
    assert value(metrics, executed, strategy="macd_eth_1m", result="filled") == 1
    assert value(metrics, executed, strategy="macd_eth_1m", result="partial") == 1
    assert value(metrics, executed, strategy="macd_eth_1m", result="cancelled") == 2
    assert value(metrics, executed, strategy="none", result="rejected") == 1
    trades = "spark_stacker_trades_total"
    labels = {"strategy": "macd_eth_1m", "venue": "hyperliquid", "symbol": "ETH-USD"}
    assert value(metrics, trades, **labels, side="buy") == 1
    assert value(metrics, trades, **labels, side="sell") == 1  # the partial one
    events = "spark_stacker_order_events_total"
    assert value(metrics, events, venue="hyperliquid", kind="submitted") == 4
    assert value(metrics, events, venue="hyperliquid", kind="partial_fill") == 2
    assert value(metrics, events, venue="hyperliquid", kind="fill") == 1


def test_fills_fees_pnl_and_strategy_positions(manager, lifecycle, metrics, plugin):
    pm = manager(plugin)
    main = lifecycle()
    main.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    long_pos = Position(venue="hyperliquid", symbol="ETH-USD", size=Decimal("0.4"))
    main.fill("0.4", "2500", "0.25", position=long_pos, realized=Decimal("0"))
    hedge = lifecycle(client_order_id="h", side=Side.SELL, leg="hedge")
    hedge.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    short_pos = Position(venue="hyperliquid", symbol="ETH-USD", size=Decimal("-0.08"))
    hedge.fill(
        "0.08", "2500", "-0.02", position=short_pos, realized=Decimal("12.5"), liquidity="maker"
    )
    close = lifecycle(client_order_id="x", side=Side.SELL, size="0.4")
    close.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    flat = Position(venue="hyperliquid", symbol="ETH-USD")
    close.fill("0.4", "2510", "0.25", position=flat, realized=Decimal("-2.5"))
    for event in [*main.fill_events, *hedge.fill_events, *close.fill_events]:
        pm.hook.on_fill(event=event)

    fills = "spark_stacker_fills_total"
    assert (
        value(metrics, fills, venue="hyperliquid", symbol="ETH-USD", side="buy", liquidity="taker")
        == 1
    )
    assert (
        value(metrics, fills, venue="hyperliquid", symbol="ETH-USD", side="sell", liquidity="maker")
        == 1
    )
    market = {"venue": "hyperliquid", "symbol": "ETH-USD"}
    assert value(metrics, "spark_stacker_fees_paid_total", **market) == pytest.approx(0.5)
    assert value(metrics, "spark_stacker_fee_rebates_total", **market) == pytest.approx(0.02)
    realized = value(
        metrics, "spark_stacker_pnl", venue="hyperliquid", account="main", kind="realized"
    )
    assert realized == pytest.approx(10.0)  # 0 + 12.5 - 2.5
    position = "spark_stacker_strategy_position"
    leg = {"strategy": "macd_eth_1m", **market}
    # the main leg went long 0.4 then flat; the hedge leg is short 0.08
    assert value(metrics, position, **leg, side="long", type="main") == 0
    assert value(metrics, position, **leg, side="short", type="main") == 0
    assert value(metrics, position, **leg, side="short", type="hedge") == pytest.approx(0.08)
    assert value(metrics, position, **leg, side="long", type="hedge") == 0


def test_signals_set_direction_and_count(manager, metrics, plugin, signal_event):
    pm = manager(plugin)
    pm.hook.on_signal(event=signal_event(Direction.LONG))
    pm.hook.on_signal(event=signal_event(Direction.SHORT))
    pm.hook.on_signal(event=signal_event(Direction.SHORT, accepted=False, reason="cooldown"))
    last = value(
        metrics, "spark_stacker_strategy_signals", strategy="macd_eth_1m", symbol="ETH-USD"
    )
    assert last == -1
    generated = "spark_stacker_strategy_signal_generated_total"
    assert (
        value(metrics, generated, strategy="macd_eth_1m", direction="short", accepted="true") == 1
    )
    assert (
        value(metrics, generated, strategy="macd_eth_1m", direction="short", accepted="false") == 1
    )
    assert value(metrics, generated, strategy="macd_eth_1m", direction="long", accepted="true") == 1
    pm.hook.on_signal(event=signal_event(Direction.FLAT))
    assert (
        value(metrics, "spark_stacker_strategy_signals", strategy="macd_eth_1m", symbol="ETH-USD")
        == 0
    )


def test_latency_histogram_buckets(metrics, plugin):
    for seconds in (0.0004, 0.003, 0.003, 0.04, 0.7, 12.0):
        plugin.observe_order_latency(seconds, venue="hyperliquid")
    name = "spark_stacker_order_latency_seconds_bucket"
    got = {
        le: value(metrics, name, venue="hyperliquid", le=le)
        for le in ("0.001", "0.005", "0.05", "1.0", "10.0", "+Inf")
    }
    # cumulative counts by hand: <=1ms 1, <=5ms 3, <=50ms 4, <=1s 5, <=10s 5, all 6
    assert got == {"0.001": 1, "0.005": 3, "0.05": 4, "1.0": 5, "10.0": 5, "+Inf": 6}
    assert value(metrics, "spark_stacker_order_latency_seconds_count", venue="hyperliquid") == 6
    total = value(metrics, "spark_stacker_order_latency_seconds_sum", venue="hyperliquid")
    assert total == pytest.approx(12.7464)
    les = {
        dict(labels)["le"]
        for (sample, labels) in samples(metrics.exposition().decode())
        if sample == name
    }
    assert len(les) == len(LATENCY_BUCKETS) + 1
    with pytest.raises(ConfigError, match="negative"):
        plugin.observe_order_latency(-0.1, venue="hyperliquid")


def _account(*positions: Position, equity: str = "1000", simulated: bool = False) -> AccountState:
    return AccountState(
        venue="hyperliquid",
        equity=Decimal(equity),
        collateral=Decimal("950"),
        maintenance_margin=Decimal("50"),
        positions=positions,
        timestamp=AT,
        simulated=simulated,
    )


def test_account_updates(metrics, plugin):
    eth = Position(
        venue="hyperliquid",
        symbol="ETH-USD",
        size=Decimal("1"),
        entry_price=Decimal("2400"),
        mark_price=Decimal("2500"),
        liquidation_price=Decimal("2000"),
        unrealized_pnl=Decimal("100"),
    )
    btc = Position(
        venue="hyperliquid",
        symbol="BTC-USD",
        size=Decimal("-0.01"),
        mark_price=Decimal("90000"),
        liquidation_price=Decimal("99000"),
        unrealized_pnl=Decimal("-50"),
    )
    plugin.update_account(_account(eth, btc, simulated=True))
    acct = {"venue": "hyperliquid", "account": "main"}
    assert value(metrics, "spark_stacker_account_balance", **acct, simulated="true") == 1000
    assert value(metrics, "spark_stacker_active_positions", **acct) == 2
    assert value(metrics, "spark_stacker_margin_ratio", **acct) == pytest.approx(0.05)  # 50/1000
    assert value(metrics, "spark_stacker_pnl", **acct, kind="unrealized") == 50
    distance = "spark_stacker_liquidation_distance"
    assert value(metrics, distance, **acct, symbol="ETH-USD") == pytest.approx(0.2)  # 500/2500
    assert value(metrics, distance, **acct, symbol="BTC-USD") == pytest.approx(0.1)  # 9000/90000
    # BTC closed: its liquidation distance series disappears instead of going stale
    plugin.update_account(_account(eth, equity="0", simulated=True))
    assert value(metrics, distance, **acct, symbol="BTC-USD") is None
    assert value(metrics, "spark_stacker_active_positions", **acct) == 1
    assert math.isinf(value(metrics, "spark_stacker_margin_ratio", **acct))  # equity 0


def test_indicators_and_the_macd_gauge(metrics, plugin):
    assert plugin.set_indicators("macd_eth_1m", "macd", {"macd": 1.5, "signal": 1.0, "hist": 0.5})
    indicator = "spark_stacker_indicator_value"
    assert (
        value(metrics, indicator, strategy="macd_eth_1m", indicator="macd", component="hist") == 0.5
    )
    macd = "spark_stacker_macd_value"
    assert value(metrics, macd, strategy="macd_eth_1m", component="histogram") == 0.5
    assert value(metrics, macd, strategy="macd_eth_1m", component="signal") == 1.0
    plugin.set_indicators("macd_eth_1m", "rsi", {"value": Decimal("55.5")})
    assert (
        value(metrics, indicator, strategy="macd_eth_1m", indicator="rsi", component="value")
        == 55.5
    )
    assert value(metrics, macd, strategy="macd_eth_1m", component="value") is None


def test_indicator_updates_are_throttled_on_event_time(metrics):
    plugin = MetricsPlugin(metrics, indicator_interval=60)
    t0 = AT.timestamp()
    results = [
        plugin.set_indicators("s", "rsi", {"value": float(i)}, at=t0 + i * 15) for i in range(9)
    ]
    assert results == [True, False, False, False, True, False, False, False, True]
    assert (
        value(
            metrics,
            "spark_stacker_indicator_value",
            strategy="s",
            indicator="rsi",
            component="value",
        )
        == 8
    )


class GovernorState(Enum):
    ACTIVE = "active"
    REDUCE_ONLY = "reduce_only"
    HALTED = "halted"
    FLATTEN = "flatten"


def test_governor_state_keeps_one_series_per_scope(metrics, plugin):
    plugin.set_governor_state("active")
    plugin.set_governor_state(GovernorState.REDUCE_ONLY)
    current = {
        dict(labels)["state"]: v
        for (name, labels), v in samples(metrics.exposition().decode()).items()
        if name == "spark_stacker_governor_state"
    }
    assert current == {"REDUCE_ONLY": 1}
    plugin.set_governor_state("flatten", scope="hedge-account")
    plugin.set_governor_state(GovernorState.HALTED)
    assert value(metrics, "spark_stacker_governor_state", scope="portfolio", state="HALTED") == 2
    assert (
        value(metrics, "spark_stacker_governor_state", scope="hedge-account", state="FLATTEN") == 3
    )
    with pytest.raises(ConfigError, match="unknown governor state 'paused'"):
        plugin.set_governor_state("paused")


def test_other_operational_values(metrics, plugin):
    plugin.record_funding(venue="hyperliquid", symbol="ETH-USD", amount=Decimal("1.25"))
    plugin.record_funding(venue="hyperliquid", symbol="ETH-USD", amount=Decimal("-0.5"))
    plugin.record_funding(venue="hyperliquid", symbol="ETH-USD", amount=Decimal("0.75"))
    market = {"venue": "hyperliquid", "symbol": "ETH-USD"}
    assert value(metrics, "spark_stacker_funding_paid_total", **market) == 2.0
    assert value(metrics, "spark_stacker_funding_received_total", **market) == 0.5
    plugin.set_rate_limit_headroom(venue="hyperliquid", fraction=0.35, limit="address")
    assert (
        value(metrics, "spark_stacker_rate_limit_headroom", venue="hyperliquid", limit="address")
        == 0.35
    )
    with pytest.raises(ConfigError, match=r"within 0\.\.1"):
        plugin.set_rate_limit_headroom(venue="hyperliquid", fraction=1.5)
    plugin.record_reconnect(venue="hyperliquid", stream="l2Book")
    plugin.record_reconnect(venue="hyperliquid", stream="l2Book")
    assert (
        value(metrics, "spark_stacker_reconnects_total", venue="hyperliquid", stream="l2Book") == 2
    )
    plugin.set_reconciliation_drift(**market, drift=Decimal("-0.01"))
    assert value(metrics, "spark_stacker_reconciliation_drift", **market) == -0.01
    plugin.record_risk_event(check="max_drawdown", action="reduce_only")
    assert (
        value(
            metrics, "spark_stacker_risk_events_total", check="max_drawdown", action="reduce_only"
        )
        == 1
    )


def test_run_info_follows_startup_and_shutdown(manager, metrics, plugin):
    pm = manager(plugin)
    run = RunContext(run_id="live-1", mode="live", registry=None)  # type: ignore[arg-type]
    pm.hook.startup(run=run)
    assert value(metrics, "spark_stacker_run_info", run_id="live-1", mode="live") == 1
    pm.hook.shutdown(run=run)
    assert value(metrics, "spark_stacker_run_info", run_id="live-1", mode="live") == 0


def test_every_exported_series_is_in_the_catalogue(manager, lifecycle, metrics, plugin):
    order = lifecycle()
    order.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    order.fill("0.4", "2500", position=Position(venue="hyperliquid", symbol="ETH-USD"))
    pm = manager(plugin)
    for event in order.events:
        pm.hook.on_order_event(event=event)
    for event in order.fill_events:
        pm.hook.on_fill(event=event)
    plugin.observe_order_latency(0.01, venue="hyperliquid")
    exported = {name for name, _ in samples(metrics.exposition().decode())}
    assert exported <= exported_sample_names()


def test_http_scrape_of_an_ephemeral_port(metrics, plugin):
    plugin.record_reconnect(venue="hyperliquid")
    plugin.observe_order_latency(0.002, venue="hyperliquid")
    with serve_metrics(metrics, host="127.0.0.1", port=0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(server.url, timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            body = response.read().decode()
        plugin.record_reconnect(venue="hyperliquid")
        with urllib.request.urlopen(server.url, timeout=10) as response:
            second = response.read().decode()
    scraped = samples(body)
    key = (
        "spark_stacker_reconnects_total",
        frozenset({("venue", "hyperliquid"), ("stream", "websocket")}),
    )
    assert scraped[key] == 1
    assert samples(second)[key] == 2
    assert "spark_stacker_order_latency_seconds_bucket" in body
    assert server.closed
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(server.url, timeout=2)


def test_metrics_port_in_use_is_a_clear_error(metrics):
    with (
        serve_metrics(metrics, host="127.0.0.1", port=0) as server,
        pytest.raises(ConfigError, match="SPARKSTACKER_METRICS_PORT"),
    ):
        serve_metrics(Metrics(), host="127.0.0.1", port=server.port)


def test_server_defaults_come_from_settings(metrics, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPARKSTACKER_METRICS_HOST", "127.0.0.1")
    monkeypatch.setenv("SPARKSTACKER_METRICS_PORT", "0")
    with serve_metrics(metrics) as server, urllib.request.urlopen(server.url, timeout=10) as resp:
        assert b"spark_stacker_build_info" in resp.read()
