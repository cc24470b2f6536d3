"""Observability: the four log files, secret scrubbing and Prometheus metrics.

Typical engine wiring::

    files = setup_logging(run_id=run.run_id)            # _logs/ from Settings
    metrics = Metrics()
    for name, plugin in observers(files, metrics):
        pm.register(plugin, name=name)                  # same hooks as any plugin
    server = serve_metrics(metrics)                     # live/paper only
    ...
    files.balance.write(account); metrics_plugin.update_account(account)
"""

from sparkstacker.observe.log_plugins import OrderLogPlugin, RunLogPlugin
from sparkstacker.observe.logs import LogFiles, setup_logging, teardown_logging
from sparkstacker.observe.metrics import CATALOGUE, Metrics, MetricSpec
from sparkstacker.observe.metrics_plugin import MetricsPlugin
from sparkstacker.observe.metrics_server import MetricsServer, serve_metrics
from sparkstacker.observe.records import BalanceLog, MarketLog, OrdersLog
from sparkstacker.observe.secrets import (
    REDACTED,
    SecretFilter,
    register_model_secrets,
    register_secret,
    scrub,
)


def observers(
    files: LogFiles | None = None, metrics: Metrics | None = None
) -> list[tuple[str, object]]:
    """The built-in observer plugins with their registration names, for ``pm.register``."""
    plugins: list[tuple[str, object]] = []
    if files is not None:
        plugins.append(("sparkstacker.observe.orders_log", OrderLogPlugin(files.orders)))
        plugins.append(("sparkstacker.observe.run_log", RunLogPlugin()))
    if metrics is not None:
        plugins.append(("sparkstacker.observe.metrics", MetricsPlugin(metrics)))
    return plugins


__all__ = [
    "CATALOGUE",
    "REDACTED",
    "BalanceLog",
    "LogFiles",
    "MarketLog",
    "MetricSpec",
    "Metrics",
    "MetricsPlugin",
    "MetricsServer",
    "OrderLogPlugin",
    "OrdersLog",
    "RunLogPlugin",
    "SecretFilter",
    "observers",
    "register_model_secrets",
    "register_secret",
    "scrub",
    "serve_metrics",
    "setup_logging",
    "teardown_logging",
]
