"""The Grafana dashboard, Prometheus config and compose file stay in step with the metrics.

Docker is not run here (no engine in CI); these tests parse what users run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sparkstacker.observe.metrics import CATALOGUE, MetricSpec, exported_sample_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bspark_stacker_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(spark_stacker_[a-z0-9_]+)\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
LEGEND = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
SUFFIXES = ("_bucket", "_sum", "_count", "_created")


def _spec_for(series: str) -> MetricSpec:
    for spec in CATALOGUE:
        if series in spec.sample_names():
            return spec
    raise AssertionError(f"{series} is not exported by sparkstacker.observe.Metrics")


def _dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "dashboard.json").read_text())


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(where, expr, legend) for every PromQL expression in panels and template variables."""
    found = []
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            found.append((panel["title"], target["expr"], target.get("legendFormat", "")))
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found.append((f"${variable['name']}", query["query"], ""))
    return found


def test_every_metric_the_dashboard_queries_is_exported():
    exported = exported_sample_names()
    queries = _queries(_dashboard())
    assert len(queries) > 20
    for where, expr, _ in queries:
        names = METRIC.findall(expr)
        assert names, f"panel {where!r} queries no Spark Stacker metric: {expr}"
        for name in names:
            assert name in exported, f"panel {where!r} uses {name}, which Metrics does not export"


def test_every_label_the_dashboard_uses_exists_on_its_metric():
    for where, expr, legend in _queries(_dashboard()):
        specs = [_spec_for(name) for name in METRIC.findall(expr)]
        available = {label for spec in specs for label in spec.labels}
        if any(spec.kind == "histogram" for spec in specs):
            available.add("le")
        for name, matchers in SELECTOR.findall(expr):
            for label in MATCHER.findall(matchers):
                assert label in _spec_for(name).labels, f"{where!r}: {name} has no label {label}"
        for group in GROUPING.findall(expr):
            for label in (part.strip() for part in group.split(",") if part.strip()):
                assert label in available, f"{where!r}: cannot group by {label} in {expr}"
        for label in LEGEND.findall(legend):
            assert label in available, f"{where!r}: legend uses {label}, not a label of {expr}"


def test_dashboard_covers_the_promised_panels():
    dashboard = _dashboard()
    exprs = " ".join(expr for _, expr, _ in _queries(dashboard))
    for name in (
        "spark_stacker_account_balance",
        "spark_stacker_pnl",
        "spark_stacker_strategy_position",
        "spark_stacker_strategy_signals",
        "spark_stacker_strategy_trade_executed_total",
        "spark_stacker_fills_total",
        "spark_stacker_fees_paid_total",
        "spark_stacker_funding_paid_total",
        "spark_stacker_order_latency_seconds_bucket",
        "spark_stacker_margin_ratio",
        "spark_stacker_liquidation_distance",
        "spark_stacker_governor_state",
        "spark_stacker_rate_limit_headroom",
        "spark_stacker_reconnects_total",
        "spark_stacker_reconciliation_drift",
        "spark_stacker_macd_value",
    ):
        assert name in exprs, f"the dashboard has no panel for {name}"
    assert "histogram_quantile(0.5," in exprs
    assert "histogram_quantile(0.99," in exprs
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in _panels(dashboard):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24


def test_prometheus_scrapes_the_bot_on_port_9000():
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    targets = [t for static in job["static_configs"] for t in static["targets"]]
    assert targets == ["bot:9000"]
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_compose_wires_bot_prometheus_and_grafana():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"bot", "prometheus", "grafana"}
    bot = services["bot"]
    assert bot["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert (DEPLOY / "Dockerfile").is_file()
    assert bot["environment"]["SPARKSTACKER_METRICS_PORT"] == "9000"
    assert bot["environment"]["SPARKSTACKER_METRICS_HOST"] == "0.0.0.0"
    assert bot["command"][0] == "run"
    assert "ports" not in bot, "the metrics port stays inside the compose network"
    prometheus_mounts = services["prometheus"]["volumes"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus_mounts
    grafana = services["grafana"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in grafana["volumes"]}
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./grafana/dashboard.json"].startswith("/var/lib/grafana/dashboards/")
    for service in ("prometheus", "grafana"):
        for port in services[service]["ports"]:
            assert port.startswith("127.0.0.1:"), f"{service} must not listen on every interface"
    for host_path in [*mounts, "./prometheus.yml"]:
        if host_path.startswith("./"):
            assert (DEPLOY / host_path).exists(), f"compose mounts missing {host_path}"


def test_dockerfile_runs_spark_stacker_with_metrics_on_9000():
    text = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["spark-stacker"]' in text
    assert "EXPOSE 9000" in text
    assert "SPARKSTACKER_METRICS_HOST=0.0.0.0" in text


@pytest.mark.parametrize(
    "path",
    [
        "grafana/provisioning/datasources/prometheus.yml",
        "grafana/provisioning/dashboards/spark-stacker.yml",
    ],
)
def test_grafana_provisioning_parses(path):
    config = yaml.safe_load((DEPLOY / path).read_text())
    assert config["apiVersion"] == 1
    if "datasources" in config:
        (source,) = config["datasources"]
        assert source["type"] == "prometheus"
        assert source["url"] == "http://prometheus:9090"
    else:
        (provider,) = config["providers"]
        assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
