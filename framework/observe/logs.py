"""The four log files of a run, set up and torn down idempotently.

``_logs/spark_stacker.log``  everything logged under ``sparkstacker`` / ``sparkstacker_plugins``
                            (text or one JSON object per line)
``_logs/orders.log``         one JSON line per order lifecycle event (always JSON)
``_logs/balance.log``        JSON account snapshots
``_logs/markets.log``        throttled JSON market snapshots

All four rotate (``max_bytes``, ``backups``) and every handler scrubs secrets. Logging is
process-global, so one :class:`LogFiles` is active at a time: a second ``setup_logging`` closes
the first (no duplicated handlers, no leaked file descriptors).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType
from typing import Literal

from sparkstacker.errors import ConfigError
from sparkstacker.observe.jsonl import JsonFormatter, JsonLinesFile
from sparkstacker.observe.records import BalanceLog, MarketLog, OrdersLog
from sparkstacker.observe.secrets import install_scrubber, refresh_secrets

LogFormat = Literal["text", "json"]
MAIN_LOG = "spark_stacker.log"
ORDERS_LOG = "orders.log"
BALANCE_LOG = "balance.log"
MARKETS_LOG = "markets.log"
DEFAULT_LOGGERS = ("sparkstacker", "sparkstacker_plugins")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 5
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
TEXT_FORMAT_RUN = "%(asctime)s %(levelname)-7s [%(run_id)s] %(name)s: %(message)s"

_OWNED = "_sparkstacker_observe"
_active_lock = threading.Lock()
_active: LogFiles | None = None


class _UtcTextFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


class _RunIdFilter(logging.Filter):
    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "run_id", None):
            record.run_id = self.run_id
        return True


class LogFiles:
    """The open log files of one run; close with :meth:`close` or use as a context manager."""

    def __init__(
        self,
        log_dir: Path,
        *,
        fmt: LogFormat,
        level: int,
        max_bytes: int,
        backups: int,
        run_id: str | None,
        loggers: Sequence[str],
        console: bool,
        market_interval: float,
        balance_interval: float,
        fsync_orders: bool,
    ) -> None:
        self.log_dir = log_dir
        self.fmt = fmt
        self.run_id = run_id
        log_dir.mkdir(parents=True, exist_ok=True)
        self.main_path = log_dir / MAIN_LOG
        self.handlers: list[logging.Handler] = [
            _main_handler(self.main_path, fmt, run_id, max_bytes, backups)
        ]
        if console:
            self.handlers.append(_console_handler(fmt, run_id))
        self._loggers: list[tuple[logging.Logger, int]] = []
        for name in loggers:
            logger = logging.getLogger(name)
            self._loggers.append((logger, logger.level))
            logger.setLevel(level)
            for handler in self.handlers:
                logger.addHandler(handler)
        files = {
            name: JsonLinesFile(
                log_dir / name,
                max_bytes=max_bytes,
                backups=backups,
                fsync=fsync_orders and name == ORDERS_LOG,
            )
            for name in (ORDERS_LOG, BALANCE_LOG, MARKETS_LOG)
        }
        self.orders = OrdersLog(files[ORDERS_LOG], run_id=run_id)
        self.balance = BalanceLog(files[BALANCE_LOG], run_id=run_id, min_interval=balance_interval)
        self.markets = MarketLog(files[MARKETS_LOG], run_id=run_id, min_interval=market_interval)
        self.closed = False

    @property
    def paths(self) -> dict[str, Path]:
        return {
            MAIN_LOG: self.main_path,
            ORDERS_LOG: self.orders.file.path,
            BALANCE_LOG: self.balance.file.path,
            MARKETS_LOG: self.markets.file.path,
        }

    def close(self) -> None:
        """Detach and close every handler and file; safe to call twice."""
        global _active
        if self.closed:
            return
        self.closed = True
        for logger, previous_level in self._loggers:
            for handler in self.handlers:
                logger.removeHandler(handler)
            logger.setLevel(previous_level)
        for handler in self.handlers:
            handler.close()
        for log in (self.orders, self.balance, self.markets):
            log.file.close()
        with _active_lock:
            if _active is self:
                _active = None

    def __enter__(self) -> LogFiles:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _formatter(fmt: LogFormat, run_id: str | None) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    return _UtcTextFormatter(TEXT_FORMAT_RUN if run_id else TEXT_FORMAT)


def _decorate(handler: logging.Handler, fmt: LogFormat, run_id: str | None) -> logging.Handler:
    setattr(handler, _OWNED, True)
    if run_id:
        handler.addFilter(_RunIdFilter(run_id))
    install_scrubber(handler)
    handler.setFormatter(_formatter(fmt, run_id))
    return handler


def _main_handler(
    path: Path, fmt: LogFormat, run_id: str | None, max_bytes: int, backups: int
) -> logging.Handler:
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    return _decorate(handler, fmt, run_id)


def _console_handler(fmt: LogFormat, run_id: str | None) -> logging.Handler:
    return _decorate(logging.StreamHandler(sys.stderr), fmt, run_id)


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ConfigError(
            f"log level {level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
        )
    return value


def setup_logging(
    log_dir: Path | None = None,
    *,
    fmt: LogFormat | None = None,
    level: str | int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
    run_id: str | None = None,
    loggers: Sequence[str] = DEFAULT_LOGGERS,
    console: bool = False,
    market_interval: float = 60.0,
    balance_interval: float = 0.0,
    fsync_orders: bool = False,
) -> LogFiles:
    """Open the four log files in ``log_dir`` and attach the main one to ``loggers``.

    ``log_dir``, ``fmt`` and ``level`` default to ``Settings().log_dir/log_format/log_level``.
    ``market_interval`` / ``balance_interval`` throttle markets.log / balance.log (seconds of
    event time per symbol / account). ``console`` also logs to stderr (scrubbed, same format).
    Any previously active set of files is closed first.
    """
    global _active
    if log_dir is None or fmt is None or level is None:
        from sparkstacker.config import load_settings

        settings = load_settings()
        log_dir = settings.log_dir if log_dir is None else log_dir
        fmt = settings.log_format if fmt is None else fmt
        level = settings.log_level if level is None else level
    if fmt not in ("text", "json"):
        raise ConfigError(f"log format {fmt!r} is not 'text' or 'json'")
    if max_bytes < 0 or backups < 0:
        raise ConfigError(
            f"log rotation needs max_bytes >= 0 and backups >= 0, got {max_bytes}, {backups}"
        )
    if market_interval < 0 or balance_interval < 0:
        raise ConfigError(
            "throttle interval must be >= 0 seconds, got "
            f"market_interval={market_interval}, balance_interval={balance_interval}"
        )
    numeric_level = _level(level)
    refresh_secrets()
    teardown_logging()
    _remove_stray_handlers(loggers)
    files = LogFiles(
        Path(log_dir),
        fmt=fmt,
        level=numeric_level,
        max_bytes=max_bytes,
        backups=backups,
        run_id=run_id,
        loggers=loggers,
        console=console,
        market_interval=market_interval,
        balance_interval=balance_interval,
        fsync_orders=fsync_orders,
    )
    with _active_lock:
        _active = files
    return files


def teardown_logging() -> None:
    """Close the active log files, if any (idempotent)."""
    with _active_lock:
        current = _active
    if current is not None:
        current.close()


def active_log_files() -> LogFiles | None:
    return _active


def _remove_stray_handlers(loggers: Sequence[str]) -> None:
    """Remove handlers this module installed that nobody closed (a crashed earlier setup)."""
    for name in (*loggers, *DEFAULT_LOGGERS):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if getattr(handler, _OWNED, False):
                logger.removeHandler(handler)
                handler.close()
