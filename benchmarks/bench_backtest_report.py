"""Tables, agreement check, targets and the RESULTS.md section of the backtest benchmark."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench_backtest_engines import ENGINES, REFERENCE

Result = dict[str, Any]

VERSIONED = (
    "numpy", "pandas", "TA-Lib", "numba", "vectorbt", "backtesting", "backtrader", "spark-stacker",
)  # fmt: skip


# ---- machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    found = {}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine() -> dict[str, str]:
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


# ---- agreement -------------------------------------------------------------------------------


def disagreements(results: Iterable[Result], tolerance: float) -> list[tuple[Result, Result]]:
    """(result, reference) pairs whose trades differ or whose final equity is further apart
    than ``tolerance`` (quote currency) from the numpy reference of the same size."""
    results = list(results)
    reference = {r["bars"]: r for r in results if r["engine"] == REFERENCE and r["status"] == "ok"}
    bad = []
    for result in results:
        ref = reference.get(result.get("bars", -1))
        if result["status"] != "ok" or ref is None or result is ref:
            continue
        if result["trades"] != ref["trades"] or (
            abs(result["final_equity"] - ref["final_equity"]) > tolerance
        ):
            bad.append((result, ref))
    return bad


def disagreement_table(pairs: Sequence[tuple[Result, Result]]) -> str:
    rows = [("engine", "bars", "trades", "numpy trades", "final equity", "numpy equity", "diff")]
    for result, ref in pairs:
        rows.append(
            (
                result["engine"],
                f"{result['bars']:,}",
                str(result["trades"]),
                str(ref["trades"]),
                f"{result['final_equity']:.6f}",
                f"{ref['final_equity']:.6f}",
                f"{result['final_equity'] - ref['final_equity']:+.6f}",
            )
        )
    return _table(rows)


# ---- tables ----------------------------------------------------------------------------------


def _table(rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table (also readable as plain text)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def _ratio(value: float, base: Result | None) -> str:
    if base is None or base.get("status") != "ok" or base["time_s"] <= 0:
        return "—"
    return f"{value / base['time_s']:.3g}×"


def results_table(results: Sequence[Result]) -> str:
    """One row per engine of one size: times, speed, memory, outcome and ratios to peers.

    Engines that did not run get a row saying so; the reasons follow the table."""
    by_name = {r["engine"]: r for r in results}
    rows = [
        (
            "engine",
            "time s",
            "CPU s",
            "first run s",
            "runs",
            "bars/s",
            "peak MB",
            "trades",
            "final equity",
            "÷ vectorbt",
            "÷ backtesting.py",
        )
    ]
    reasons = []
    for name, engine in ENGINES.items():
        result = by_name.get(name)
        if result is None:
            continue
        if result["status"] != "ok":
            rows.append((engine.title, result["status"], *[""] * 9))
            reasons.append(f"- {engine.title}: {result.get('reason', '').splitlines()[0]}")
            continue
        time_s = result["time_s"]
        rows.append(
            (
                engine.title,
                f"{time_s:.3g}",
                f"{result['cpu_s']:.3g}",
                f"{result['first_s']:.3g}",
                str(result["runs"]),
                f"{result['bars'] / time_s:,.0f}",
                f"{result['peak_rss_mb']:.0f}",
                f"{result['trades']:,}",
                f"{result['final_equity']:,.2f}",
                _ratio(time_s, by_name.get("vectorbt")),
                _ratio(time_s, by_name.get("backtesting")),
            )
        )
    return "\n".join([_table(rows), *(["", *sorted(set(reasons))] if reasons else [])])


def load_note(load: Sequence[float]) -> str:
    """The 1-minute load average before and after, and a warning when the machine was busy."""
    cores = os.cpu_count() or 1
    text = f"load average {load[0]:.1f} → {load[1]:.1f} on {cores} cores"
    if max(load) > cores:
        text += " (busy machine: wall times are inflated; CPU s is the steadier figure)"
    return text


def linearity_table(by_size: dict[int, list[Result]]) -> str | None:
    """Time at the largest size ÷ time at the smallest, per engine (ideal: the bar ratio)."""
    if len(by_size) < 2:
        return None
    small, large = min(by_size), max(by_size)
    ok = {
        size: {r["engine"]: r for r in by_size[size] if r["status"] == "ok"}
        for size in (small, large)
    }
    rows = [("engine", f"time {small:,} s", f"time {large:,} s", "ratio", "CPU ratio", "ideal")]
    for name, engine in ENGINES.items():
        if name in ok[small] and name in ok[large]:
            a, b = ok[small][name], ok[large][name]
            rows.append(
                (
                    engine.title,
                    f"{a['time_s']:.3g}",
                    f"{b['time_s']:.3g}",
                    f"{b['time_s'] / a['time_s']:.2f}",
                    f"{b['cpu_s'] / a['cpu_s']:.2f}",
                    f"{large / small:.3g}",
                )
            )
    return _table(rows)


# ---- targets ---------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def targets(by_size: dict[int, list[Result]]) -> list[str]:
    """The issue's speed targets for our engines, judged on the largest size measured."""
    large = max(by_size)
    small = min(by_size)
    at = {r["engine"]: r for r in by_size[large] if r["status"] == "ok"}
    at_small = {r["engine"]: r for r in by_size[small] if r["status"] == "ok"}
    fast, event = at.get("sparkstacker-fast"), at.get("sparkstacker-event")
    vbt, btpy = at.get("vectorbt"), at.get("backtesting")
    lines = [f"Targets at {large:,} bars:"]

    if fast is None or vbt is None:
        lines.append("- fast path ≤ vectorbt time (aim ½): pending")
    else:
        ratio = fast["time_s"] / vbt["time_s"]
        cpu = fast["cpu_s"] / vbt["cpu_s"]
        lines.append(
            f"- fast path ≤ vectorbt time (aim ½): {ratio:.2f}× (CPU {cpu:.2f}×)"
            f" → {_verdict(ratio <= 1)}"
        )
    if event is None:
        lines.append("- event engine ≥ 250k bars/s and ≥ 2× backtesting.py: pending")
    else:
        speed = event["bars"] / event["time_s"]
        lines.append(
            f"- event engine ≥ 250k bars/s: {speed:,.0f} bars/s with {event['trades']:,} trades"
            f" → {_verdict(speed >= 250_000)}"
        )
        if btpy is not None:
            gain = btpy["time_s"] / event["time_s"]
            cpu = btpy["cpu_s"] / event["cpu_s"]
            lines.append(
                f"- event engine ≥ 2× backtesting.py: {gain:.2f}× (CPU {cpu:.2f}×)"
                f" → {_verdict(gain >= 2)}"
            )
        if small != large and "sparkstacker-event" in at_small:
            growth = event["time_s"] / at_small["sparkstacker-event"]["time_s"]
            lines.append(
                f"- event engine {large:,} ≤ 11× {small:,}: {growth:.2f}×"
                f" → {_verdict(growth <= 11)}"
            )
    ours = [r for r in (fast, event) if r is not None]
    if ours:
        for result in ours:
            peak = result["peak_rss_mb"]
            title = ENGINES[result["engine"]].title
            lines.append(f"- {title} peak memory < 500 MB: {peak:.0f} MB → {_verdict(peak < 500)}")
    else:
        lines.append("- peak memory < 500 MB: pending")
    return lines


# ---- RESULTS.md --------------------------------------------------------------------------------

RUNS_HEADING = "## Runs (newest first)"


def results_section(
    by_size: dict[int, list[Result]], data_label: str, key: str, notes: Sequence[str]
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()
    libs = ", ".join(f"{name} {version}" for name, version in versions().items())
    parts = [
        f"<!-- bench:begin {key} -->",
        f"### {now} — {data_label}",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['os']}; Python {info['python']}.",
        f"Libraries: {libs}.",
        "",
    ]
    for size in sorted(by_size):
        load = by_size[size][0].get("load", (0.0, 0.0))
        parts += [f"{size:,} bars, {load_note(load)}:", "", results_table(by_size[size]), ""]
    linearity = linearity_table(by_size)
    if linearity:
        parts += ["Linearity:", "", linearity, ""]
    parts += [*(f"{line}" for line in targets(by_size)), ""]
    parts += [*notes]
    parts.append(f"<!-- bench:end {key} -->")
    return "\n".join(parts).rstrip() + "\n"


def write_results(path: Path, section: str, key: str) -> None:
    """Replace the section with the same key (same day, data and sizes) or add it on top."""
    blank = f"# Backtest benchmark results\n\n{RUNS_HEADING}\n"
    text = path.read_text() if path.exists() else blank
    if RUNS_HEADING not in text:
        text = text.rstrip() + f"\n\n{RUNS_HEADING}\n"
    pattern = re.compile(
        rf"<!-- bench:begin {re.escape(key)} -->.*?<!-- bench:end {re.escape(key)} -->\n",
        re.DOTALL,
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        head, tail = text.split(RUNS_HEADING, 1)
        rest = tail.lstrip("\n")
        text = f"{head}{RUNS_HEADING}\n\n{section}" + (f"\n{rest}" if rest else "")
    path.write_text(text)
