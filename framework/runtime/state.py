"""The run's state folder: who is running, what it holds, and requests to it.

``spark_stacker_state/`` (``--state-dir`` / ``SPARKSTACKER_STATE_DIR``) holds

* ``lock`` — an exclusive ``flock`` held by the running process: two processes never trade the
  same paper account or journal scope from one folder;
* ``run.json`` — the running process's status, rewritten atomically every few seconds and at
  shutdown (positions, open orders, equity, governor, blocks; ``spark-stacker status`` reads it);
* ``control.json`` — a request to the running process (``stop``, ``flatten``), written by
  ``spark-stacker stop``; the process handles it at the next bar boundary and deletes it;
* ``paper/<venue>.jsonl`` — the durable paper accounts (see :mod:`.paper_venue`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sparkstacker.errors import ConfigError
from sparkstacker.model import utcnow

RUN_FILE = "run.json"
CONTROL_FILE = "control.json"
LOCK_FILE = "lock"
PAPER_DIR = "paper"
CONTROL_ACTIONS = ("stop", "flatten")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` so a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); delete it") from None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class StateDir:
    root: Path

    @property
    def run_file(self) -> Path:
        return self.root / RUN_FILE

    @property
    def control_file(self) -> Path:
        return self.root / CONTROL_FILE

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK_FILE

    def paper_log(self, venue: str) -> Path:
        return self.root / PAPER_DIR / f"{venue}.jsonl"

    def paper_logs(self) -> list[Path]:
        folder = self.root / PAPER_DIR
        return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []

    # ---- the lock ---------------------------------------------------------------------------

    def acquire(self) -> IO[str]:
        """Take the folder's lock or raise ConfigError naming the process that holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_file, "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"a run is already going from {self.root} (pid {holder}); stop it first "
                "(spark-stacker stop) or use another --state-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def holder(self) -> int | None:
        """The pid holding the lock now, or None when no run is going."""
        if not self.lock_file.exists():
            return None
        with open(self.lock_file, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                text = handle.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return None

    # ---- status and control -----------------------------------------------------------------

    def write_status(self, status: dict[str, Any]) -> None:
        write_json_atomic(self.run_file, {**status, "updated_at": utcnow().isoformat()})

    def read_status(self) -> dict[str, Any] | None:
        return read_json(self.run_file)

    def request(self, action: str, *, note: str = "") -> None:
        if action not in CONTROL_ACTIONS:
            raise ConfigError(
                f"unknown control action {action!r}; use {', '.join(CONTROL_ACTIONS)}"
            )
        write_json_atomic(
            self.control_file,
            {
                "action": action,
                "note": note,
                "requested_at": utcnow().isoformat(),
                "by": os.getpid(),
            },
        )

    def take_request(self) -> dict[str, Any] | None:
        """The pending request, removed from the folder (None when there is none)."""
        try:
            mtime = self.control_file.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        request = read_json(self.control_file)
        with contextlib.suppress(FileNotFoundError):
            if self.control_file.stat().st_mtime_ns == mtime:
                self.control_file.unlink()
        if request is None or request.get("action") not in CONTROL_ACTIONS:
            return None
        return request
