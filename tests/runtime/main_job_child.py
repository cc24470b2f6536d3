"""Runs a command (the README's main job) and scrapes its /metrics while it runs.

Usage: ``python main_job_child.py OUT.json PORT -- COMMAND...``. Writes the command's exit code,
output, the last successful scrape of ``http://127.0.0.1:PORT/metrics`` and every scrape's
``spark_stacker_run_info`` lines (in order) to OUT.json. The test
runs this inside a network namespace with only loopback up, so the main job provably needs no
network (and port 9000, the default, is free there).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request


def main() -> None:
    out_path, port = sys.argv[1], int(sys.argv[2])
    command = sys.argv[sys.argv.index("--") + 1 :]
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    scrapes: list[str] = []
    deadline = started + 240
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as reply:
                scrapes.append(reply.read().decode())
        except OSError:
            pass
        time.sleep(0.1)
    stdout, stderr = proc.communicate(timeout=60)
    network = True
    try:
        import socket

        probe = socket.create_connection(("1.1.1.1", 53), timeout=1)
        probe.close()
    except OSError:
        network = False
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "returncode": proc.returncode,
                "stdout": stdout,
                "stderr": stderr,
                "scrapes": len(scrapes),
                "last_scrape": scrapes[-1] if scrapes else "",
                "run_info": [
                    [
                        line
                        for line in scrape.splitlines()
                        if line.startswith("spark_stacker_run_info{")
                    ]
                    for scrape in scrapes
                ],
                "wall_seconds": time.monotonic() - started,
                "network": network,
            },
            handle,
        )


if __name__ == "__main__":
    main()
