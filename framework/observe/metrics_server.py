"""Serve a :class:`~sparkstacker.observe.metrics.Metrics` registry over HTTP for Prometheus."""

from __future__ import annotations

import threading
from types import TracebackType
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from sparkstacker.errors import ConfigError
from sparkstacker.observe.metrics import Metrics


class MetricsServer:
    """A running ``/metrics`` endpoint; :meth:`close` stops it and frees the port."""

    def __init__(self, server: WSGIServer, thread: threading.Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port: int = server.server_port
        self.closed = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve_metrics(
    metrics: Metrics, host: str | None = None, port: int | None = None
) -> MetricsServer:
    """Start serving ``metrics`` on ``host:port`` in a daemon thread (port 0: any free port).

    ``host`` and ``port`` default to ``SPARKSTACKER_METRICS_HOST`` / ``SPARKSTACKER_METRICS_PORT``
    (127.0.0.1:9000). Bind to 0.0.0.0 only inside a container network.
    """
    if host is None or port is None:
        from sparkstacker.config import load_settings

        settings = load_settings()
        host = settings.metrics_host if host is None else host
        port = settings.metrics_port if port is None else port
    if not 0 <= port <= 65535:
        raise ConfigError(f"metrics port {port} is outside 0..65535 (SPARKSTACKER_METRICS_PORT)")
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}. Choose another "
            "SPARKSTACKER_METRICS_PORT (0 picks a free one) or stop what uses that port."
        ) from exc
    return MetricsServer(server, thread, host)
