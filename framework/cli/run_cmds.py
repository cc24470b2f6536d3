"""Paper and live runs: ``run``, ``status``, ``stop``, ``resume``, ``resolve``."""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sparkstacker.cli import app
from sparkstacker.errors import ConfigError

console = Console()
err = Console(stderr=True)

DB_HELP = "Journal database URL (default: SPARKSTACKER_DB or sqlite:///spark_stacker.db)."
STATE_HELP = "Run state folder (default: SPARKSTACKER_STATE_DIR or ./spark_stacker_state)."


class ConsoleReporter:
    """Prints the start-up summary, notes and a progress line every few seconds."""

    def __init__(self, *, quiet: bool = False, every: float = 5.0) -> None:
        self.quiet = quiet
        self.every = every
        self._next = time.monotonic() + every

    def summary(self, title: str, lines: list[str]) -> None:
        if self.quiet and not title.startswith("Run"):
            return
        console.print(f"[bold]{escape(title)}[/]")
        for line in lines:
            console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)

    def note(self, text: str) -> None:
        console.print(f"[yellow]•[/] {escape(text)}", highlight=False)

    def progress(self, status: dict[str, Any]) -> None:
        now = time.monotonic()
        if self.quiet or now < self._next:
            return
        self._next = now + self.every
        engine = status.get("engine") or {}
        equity = ", ".join(
            f"{row['venue']} {Decimal(row['equity']):.2f}" for row in status.get("equity") or []
        )
        held = ", ".join(
            f"{p['strategy']} {p['size']}" for p in engine.get("positions", []) if p["size"] != "0"
        )
        total = status.get("bars_total")
        bars = f"{status.get('bars')}/{total}" if total else str(status.get("bars"))
        fills = (engine.get("orders") or {}).get("fills", 0)
        console.print(
            f"[dim]{status.get('bar_time') or ''}[/] bars {bars}  equity {equity}  "
            f"fills {fills}  position {held or 'flat'}",
            highlight=False,
        )


def _decimal(text: str | None, what: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"{what} {text!r} is not a number") from None


def _start(
    rules: list[str],
    *,
    live: bool,
    feed: str,
    speed: str | None,
    bars: int | None,
    duration: str | None,
    start: str | None,
    data: Path | None,
    equity: str | None,
    reset_paper: bool,
    exchange_config: Path | None,
    db: str | None,
    log_dir: Path | None,
    log_json: bool,
    state_dir: Path | None,
    metrics_host: str | None,
    metrics_port: int | None,
    no_metrics: bool,
    plugin: list[str],
    no_reload: bool,
    flatten_on_stop: bool,
    yes: bool,
    quiet: bool,
) -> None:
    from sparkstacker.runtime.options import RunOptions, parse_duration_ms, parse_speed
    from sparkstacker.runtime.runtime import Runtime, run_sync

    pace, bar_ms = parse_speed(speed)
    options = RunOptions(
        mode="live" if live else "paper",
        feed=feed,  # type: ignore[arg-type]
        speed=pace,
        bar_ms=bar_ms,
        bars=bars,
        duration_ms=parse_duration_ms(duration),
        start=start,
        data_dir=data,
        equity=_decimal(equity, "--equity"),
        reset_paper=reset_paper,
        exchange_config=exchange_config,
        db=db,
        log_dir=log_dir,
        log_format="json" if log_json else None,
        state_dir=state_dir,
        metrics=not no_metrics,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        plugins=tuple(plugin),
        reload=not no_reload,
        flatten_on_stop=flatten_on_stop,
        yes=yes,
    )
    runtime = Runtime(options, rules, reporter=ConsoleReporter(quiet=quiet))
    if live:
        _confirm_live(runtime, options, rules, yes)
    result = run_sync(runtime)
    if result.status == "failed":
        raise SystemExit(1)


def _confirm_live(runtime: Any, options: Any, rules: list[str], yes: bool) -> None:
    """Credentials present, the plan printed, then ``--yes`` or a typed confirmation."""
    from sparkstacker.runtime.live_plan import check_credentials, describe_live
    from sparkstacker.runtime.rules import load_rules
    from sparkstacker.runtime.venues import read_exchange_config

    rule_set = load_rules(rules, runtime.registry)
    config = read_exchange_config(options.exchange_config)
    settings = check_credentials(rule_set.compiled, runtime.registry, config)
    for line in describe_live(rule_set.compiled, settings, config):
        console.print(escape(line), highlight=False, soft_wrap=True)
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(
            "refusing to trade live without --yes: stdin is not a terminal, so nobody can "
            "confirm the plan above"
        )
    if not typer.confirm("Trade this live?", default=False):
        raise ConfigError("live run not confirmed; nothing was sent")


RULES_ARG = typer.Argument(
    None, help="Rule files or bundle:file.rules (default: the example that trades)."
)


@app.command()
def run(
    rules: list[str] | None = RULES_ARG,
    paper: bool = typer.Option(
        True, "--paper/--live", help="Paper (simulated account, default) or live trading."
    ),
    feed: str = typer.Option(
        "replay",
        "--feed",
        help="Paper market data: replay (stored/sample, offline) or hyperliquid.",
    ),
    speed: str | None = typer.Option(
        None, "--speed", help="Replay pace: times real time, or 'max' (default: a bar per 5 ms)."
    ),
    bars: int | None = typer.Option(
        None, "--bars", help="Replay this many bars (default 1440; 0 = all remaining)."
    ),
    duration: str | None = typer.Option(
        None, "--duration", help="Replay (or run) for this much market time, e.g. 6h, 2d."
    ),
    start: str | None = typer.Option(
        None, "--from", help="Replay start for a new paper account (ISO date/time, UTC)."
    ),
    data: Path | None = typer.Option(None, "--data", help="Data store folder for the replay."),
    equity: str | None = typer.Option(None, "--equity", help="New paper accounts' equity, USD."),
    reset_paper: bool = typer.Option(
        False, "--reset-paper", help="Start new paper accounts (the old logs are kept as .bak)."
    ),
    exchange_config: Path | None = typer.Option(
        None, "--exchange-config", help="TOML with [exchanges.<venue>] options (no secrets)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    log_dir: Path | None = typer.Option(None, "--log-dir", help="Log folder (default _logs)."),
    log_json: bool = typer.Option(False, "--log-json", help="spark_stacker.log as JSON lines."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help=STATE_HELP),
    metrics_host: str | None = typer.Option(None, "--metrics-host"),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Prometheus port (default 9000; 0 picks a free one)."
    ),
    no_metrics: bool = typer.Option(False, "--no-metrics", help="Do not serve /metrics."),
    plugin: list[str] = typer.Option(
        [], "--plugin", help="Also register this importable module as a plugin (repeatable)."
    ),
    no_reload: bool = typer.Option(False, "--no-reload", help="Do not watch the rule files."),
    flatten_on_stop: bool = typer.Option(
        False,
        "--flatten-on-stop",
        help="On a signal or `stop`, close every position before stopping (like stop --flatten).",
    ),
    yes: bool = typer.Option(
        False,
        "--yes",
        envvar="SPARK_YES",
        help="Live: trade without asking (required without a TTY).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the final summary."),
) -> None:
    """Trade rule files: paper (default, simulated account) or live. Ctrl-C stops gracefully."""
    _start(
        list(rules or []),
        live=not paper,
        feed=feed,
        speed=speed,
        bars=bars,
        duration=duration,
        start=start,
        data=data,
        equity=equity,
        reset_paper=reset_paper,
        exchange_config=exchange_config,
        db=db,
        log_dir=log_dir,
        log_json=log_json,
        state_dir=state_dir,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        no_metrics=no_metrics,
        plugin=plugin,
        no_reload=no_reload,
        flatten_on_stop=flatten_on_stop,
        yes=yes,
        quiet=quiet,
    )


@app.command()
def resume(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    state_dir: Path | None = typer.Option(None, "--state-dir", help=STATE_HELP),
    metrics_port: int | None = typer.Option(None, "--metrics-port"),
    speed: str | None = typer.Option(None, "--speed"),
    bars: int | None = typer.Option(None, "--bars"),
    plugin: list[str] = typer.Option([], "--plugin"),
    yes: bool = typer.Option(False, "--yes", envvar="SPARK_YES"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Start the last run again with its rules and mode (after a crash, a stop or a reboot)."""
    from sparkstacker.runtime.state import StateDir

    last = _last_run(db)
    config = last.config
    rules = [str(r) for r in config.get("rules") or []]
    live = last.mode == "live"
    saved_state = config.get("state_dir")
    chosen_state = state_dir or (Path(saved_state) if saved_state else None)
    if chosen_state is not None and StateDir(chosen_state).holder() is not None:
        raise ConfigError(f"a run is already going from {chosen_state}")
    console.print(f"resuming {last.mode} run {last.id[:12]} ({last.status}): {', '.join(rules)}")
    _start(
        rules,
        live=live,
        feed=str(config.get("feed") or "replay") if not live else "replay",
        speed=speed,
        bars=bars,
        duration=None,
        start=None,
        data=Path(config["data_dir"]) if config.get("data_dir") else None,
        equity=None,
        reset_paper=False,
        exchange_config=None,
        db=db,
        log_dir=None,
        log_json=False,
        state_dir=chosen_state,
        metrics_host=None,
        metrics_port=metrics_port,
        no_metrics=False,
        plugin=plugin,
        no_reload=False,
        flatten_on_stop=False,
        yes=yes,
        quiet=quiet,
    )


def _last_run(db: str | None) -> Any:
    from sparkstacker.cli.journal_cmds import open_journal

    with open_journal(db) as journal:
        runs = [r for r in journal.runs() if r.mode in ("paper", "live")]
    if not runs:
        raise ConfigError("no paper or live run in the journal to resume; use spark-stacker run")
    return runs[0]


@app.command()
def status(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    state_dir: Path | None = typer.Option(None, "--state-dir", help=STATE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Positions, open orders, PnL, equity and risk state of the running (or last) run."""
    from sparkstacker.cli.journal_cmds import open_journal
    from sparkstacker.config import load_settings
    from sparkstacker.errors import JournalError
    from sparkstacker.runtime.state import StateDir
    from sparkstacker.runtime.status import collect_status

    state = StateDir(state_dir or load_settings().state_dir)
    try:
        with open_journal(db) as journal:
            data = collect_status(state, journal)
    except JournalError:
        data = collect_status(state, None)
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    _render_status(data)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _money(text: str | None) -> str:
    if not text:
        return ""
    try:
        return f"{Decimal(text):,.2f}"
    except InvalidOperation:
        return text


def _liquidation(distance: str | None, source: str | None) -> str:
    if distance is None:
        return ""
    value = Decimal(distance)
    text = f"{value:.1%}" if value < 10 else ">999%"
    return text + (" (est.)" if source == "estimate" else "")


def _render_status(data: dict[str, Any]) -> None:
    snap = data.get("snapshot") or {}
    if not snap:
        console.print(f"no run has written state in {data['state_dir']} yet")
        return
    head = "[green]running[/]" if data["running"] else "[dim]not running[/]"
    console.print(
        f"{head}  {snap.get('mode', '')} run {snap.get('run_id', '?')}  "
        f"pid {data.get('pid') or '-'}  bars {snap.get('bars')}  last bar "
        f"{snap.get('bar_time') or '-'}",
        highlight=False,
    )
    if data.get("note"):
        console.print(f"[yellow]{escape(data['note'])}[/]")
    engine = snap.get("engine") or {}
    table = _table("Accounts", "venue", "equity", "unrealised", "margin used", "kind")
    for row in snap.get("equity") or []:
        kind = "simulated (paper)" if row["simulated"] else "exchange"
        table.add_row(
            row["venue"],
            _money(row["equity"]),
            _money(row["unrealized_pnl"]),
            _money(row["margin_used"]),
            kind,
        )
    console.print(table)
    table = _table(
        "Positions", "strategy", "leg", "venue", "size", "entry", "unrealised", "net", "to liq."
    )
    for p in engine.get("positions", []):
        table.add_row(
            p["strategy"],
            p["leg"],
            f"{p['venue']} {p['symbol']}",
            p["size"],
            p["entry_price"] or "",
            _money(p["unrealized_pnl"]),
            _money(p["net_pnl"]),
            _liquidation(p.get("liquidation_distance"), p.get("liquidation_source")),
        )
    console.print(table)
    if engine.get("groups"):
        table = _table("Hedged groups", "strategy", "state", "main", "hedge", "combined", "to liq.")
        for g in engine["groups"]:
            table.add_row(
                g["strategy"],
                g["state"],
                g["main"],
                f"{g['hedge']} (target {g['hedge_target']} on {g['hedge_venue']})",
                _money(g["combined_pnl"]),
                _liquidation(g.get("liquidation_distance"), g.get("liquidation_source")),
            )
        console.print(table)
    table = _table("Open orders", "id", "strategy", "role", "side", "type", "size", "price")
    for o in engine.get("open_orders", []):
        table.add_row(
            o["client_order_id"],
            o["strategy"] or "",
            o["role"] or "",
            o["side"],
            o["type"],
            o["size"],
            o["price"] or "",
        )
    console.print(table)
    governor = engine.get("governor")
    if governor:
        if "drawdown" in governor:
            detail = (
                f"drawdown {governor['drawdown']:.2%} from the peak, daily loss "
                f"{governor['daily_loss']}"
            )
        else:
            detail = "no governor levels in the rules"
        if governor.get("manual"):
            detail += f"; operator set {governor['manual']}"
        console.print(f"governor {governor['state']}: {detail}", highlight=False)
    if engine.get("margin_actions"):
        console.print(f"margin-warning actions: {engine['margin_actions']}", highlight=False)
    for where, why in (engine.get("blocked") or {}).items():
        console.print(f"[red]entries blocked[/] on {where}: {escape(why)}")
    for event in data.get("risk_events", []):
        console.print(
            f"[red]risk event {event['id']}[/] {event['kind']} {event['venue'] or ''} "
            f"{event['symbol'] or ''}: {escape(event['message'])} "
            f"(spark-stacker resolve {event['id']})"
        )
    for note in snap.get("notes") or []:
        console.print(f"[yellow]{escape(note)}[/]")


@app.command()
def stop(
    flatten: bool = typer.Option(
        False, "--flatten", help="Kill switch: cancel everything and close every position first."
    ),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until the run has stopped."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help=STATE_HELP),
) -> None:
    """Ask the running process to stop (``--flatten``: close all positions first)."""
    from sparkstacker.config import load_settings
    from sparkstacker.runtime.state import StateDir

    state = StateDir(state_dir or load_settings().state_dir)
    pid = state.holder()
    if pid is None:
        raise ConfigError(
            f"no run is going from {state.root}"
            + ("; start it (spark-stacker resume) to flatten its positions" if flatten else "")
        )
    state.request("flatten" if flatten else "stop")
    console.print(f"asked run (pid {pid}) to {'flatten and stop' if flatten else 'stop'}")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state.holder() is None:
            snap = state.read_status() or {}
            console.print(f"stopped: {snap.get('status', '?')} ({snap.get('stop_reason') or ''})")
            return
        time.sleep(0.2)
    raise ConfigError(f"the run (pid {pid}) did not stop within {timeout:g} s")


@app.command()
def resolve(
    event_id: int = typer.Argument(..., help="Risk event id (see spark-stacker status)."),
    note: str = typer.Option("", "--note", help="Why this is fine."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Resolve a blocking risk event: the venue's state is accepted as it is."""
    from sparkstacker.cli.journal_cmds import open_journal

    with open_journal(db) as journal:
        events = {e.id: e for e in journal.risk_events()}
        event = events.get(event_id)
        if event is None:
            raise ConfigError(f"no risk event {event_id} in the journal")
        journal.resolve_risk_event(event_id, f"accepted by operator{': ' + note if note else ''}")
    console.print(
        f"risk event {event_id} ({event.kind} {event.venue or ''} {event.symbol or ''}) resolved; "
        "a running process lifts the block at its next reconciliation (restart it to do so now)"
    )
