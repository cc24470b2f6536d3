"""Runs a ``spark-stacker run`` command and scrapes its /metrics for as long as it runs.

Usage: ``python scrape_child.py OUT.json STATE_DIR -- COMMAND...``. The run is started with
``--metrics-port 0`` (a free port); its address is read from ``STATE_DIR/run.json``
(``metrics_url``, written when the run has started). Every successful scrape is kept, in order,
with the command's exit code and output, in OUT.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _metrics_url(state_dir: Path) -> str | None:
    try:
        data = json.loads((state_dir / "run.json").read_text())
    except (OSError, ValueError):
        return None
    url = data.get("metrics_url")
    return str(url) if url else None


def main() -> None:
    out_path, state_dir = sys.argv[1], Path(sys.argv[2])
    command = sys.argv[sys.argv.index("--") + 1 :]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    scrapes: list[str] = []
    url = None
    deadline = time.monotonic() + 200
    while proc.poll() is None and time.monotonic() < deadline:
        url = url or _metrics_url(state_dir)
        if url is not None:
            try:
                with urllib.request.urlopen(url, timeout=1) as reply:
                    scrapes.append(reply.read().decode())
            except OSError:
                pass
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    stdout, stderr = proc.communicate(timeout=60)
    Path(out_path).write_text(
        json.dumps(
            {"returncode": proc.returncode, "stdout": stdout, "stderr": stderr, "scrapes": scrapes}
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
