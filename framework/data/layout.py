"""Where the store keeps things on disk, and the small file primitives it relies on.

::

    <root>/candles/venue=<v>/symbol=<s>/timeframe=<tf>/2024-01.parquet   (bars under 1h: monthly)
    <root>/candles/venue=<v>/symbol=<s>/timeframe=<tf>/2024.parquet      (1h and longer: yearly)
    <root>/funding/venue=<v>/symbol=<s>/2024.parquet
    <dataset folder>/_dataset.json   flags (synthetic), provenance and a cached summary

Names are percent-encoded in folder names (``/`` and ``:`` are legal in venue symbols). Writes
go to a temporary file in the same folder and are renamed into place, so a reader never sees a
half-written file; a per-dataset lock file serialises writers.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
from sparkstacker.errors import DataError

META_FILE = "_dataset.json"
LOCK_FILE = ".lock"
MONTHLY_BELOW_SECONDS = 3600


def encode(name: str, what: str) -> str:
    text = str(name).strip()
    if not text or set(text) <= {"."}:
        raise DataError(f"{what} {name!r} is not a usable name")
    return quote(text, safe="-_.+@")


def decode(part: str) -> str:
    return unquote(part.split("=", 1)[1]) if "=" in part else unquote(part)


def period_kind(step_seconds: int | None) -> str:
    """``M`` (one file per month) for bars under an hour, else ``Y`` (one file per year)."""
    if step_seconds is not None and step_seconds < MONTHLY_BELOW_SECONDS:
        return "M"
    return "Y"


def period_keys(timestamps_ms: np.ndarray, kind: str) -> np.ndarray:
    """The partition of each timestamp as an integer (months or years since 1970)."""
    stamps = np.asarray(timestamps_ms, dtype="int64").astype("datetime64[ms]")
    return np.asarray(stamps.astype(f"datetime64[{kind}]").astype("int64"))


def period_name(key: int, kind: str) -> str:
    """``2024-01`` (kind ``M``) or ``2024`` (kind ``Y``) for a key from :func:`period_keys`."""
    if kind == "M":
        return f"{1970 + key // 12:04d}-{key % 12 + 1:02d}"
    return f"{1970 + key:04d}"


def period_bounds(name: str, kind: str) -> tuple[int, int]:
    """[start, end) of a partition (``2024-01`` or ``2024``) in epoch ms; ValueError if neither."""
    if kind == "M":
        year_text, _, month_text = name.partition("-")
        year, month = int(year_text), int(month_text)
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    else:
        year = int(name)
        start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def partition_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith("."))


def overlapping(files: list[Path], kind: str, start: int | None, end: int | None) -> list[Path]:
    """Partitions whose period intersects [start, end)."""
    chosen = []
    for path in files:
        try:
            lo, hi = period_bounds(path.stem, kind)
        except ValueError:
            raise DataError(f"{path} is not a partition file of this store") from None
        if (start is None or hi > start) and (end is None or lo < end):
            chosen.append(path)
    return chosen


def temp_path(final: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".tmp", dir=final.parent)
    os.close(handle)
    return Path(name)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = temp_path(path)
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is unreadable ({exc}); delete it to rebuild it") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} does not hold a JSON object; delete it to rebuild it")
    return data


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` (POSIX ``flock``; a no-op where unavailable)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(folder / LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
