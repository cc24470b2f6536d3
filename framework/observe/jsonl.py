"""JSON lines: value encoding, a JSON formatter for spark_stacker.log, a rotating JSON-lines file.

Decimals are written as strings so no digit is lost (``"2500.10"``, not ``2500.1``); times are
ISO 8601 UTC with a ``Z``; enums are their values.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from sparkstacker.errors import SparkStackerError
from sparkstacker.observe.secrets import STANDARD_RECORD_FIELDS, install_scrubber, scrub


def iso(value: datetime) -> str:
    """An aware datetime as ``2025-01-02T03:04:05.678Z`` (UTC, milliseconds)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def dumps(record: dict[str, Any]) -> str:
    """One compact JSON line (no newline) for ``record``; Decimals become strings."""
    return json.dumps(record, default=_default, separators=(",", ":"), ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    """Format a log record as one JSON object: ts, level, logger, message, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": iso(datetime.fromtimestamp(record.created, tz=UTC)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        run_id = getattr(record, "run_id", None)
        if run_id:
            out["run_id"] = run_id
        for key, value in record.__dict__.items():
            if key not in STANDARD_RECORD_FIELDS and key != "run_id":
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return dumps(out)


class JsonLinesFile:
    """An append-only, rotating file of JSON lines, each flushed as it is written.

    Lines pass through a :class:`~sparkstacker.observe.secrets.SecretFilter` like every log
    line. ``fsync=True`` also forces each line to disk (survives a machine crash, costs a disk
    sync per line); the default flush already survives a crash of the process.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        backups: int,
        fsync: bool = False,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fsync = fsync
        self._handler = RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        install_scrubber(self._handler)
        self._lock = threading.Lock()
        self._closed = False
        self.lines_written = 0

    def write(self, record: dict[str, Any]) -> None:
        """Scrub, encode and append one record; writing after :meth:`close` is an error."""
        if self._closed:
            raise SparkStackerError(f"{self.path} is closed; set up logging again to write to it")
        line = dumps(scrub(record))
        log_record = logging.LogRecord(self.path.name, logging.INFO, "", 0, line, None, None)
        with self._lock:
            self._handler.handle(log_record)
            if self.fsync and self._handler.stream is not None:
                os.fsync(self._handler.stream.fileno())
            self.lines_written += 1

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._handler.close()
