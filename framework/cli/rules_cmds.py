"""Rule-file commands: ``check``, ``fmt`` and ``explain``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
from sparkstacker.cli import app
from sparkstacker.errors import RuleError
from sparkstacker.lang import check_files, compile_file, format_text, severity
from sparkstacker.lang.diagnostics import as_dict
from sparkstacker.lang.rule_plan import RuleStrategyPlan
from sparkstacker.registry import Registry

FILES = typer.Argument(..., help="Rule files (.rules).", show_default=False)
FILE = typer.Argument(..., help="A rule file.", show_default=False)
DATA = typer.Option(
    None, "--data", help="OHLCV file (CSV/Parquet/Feather); default: the candle store."
)


@app.command()
def check(
    files: list[Path] = FILES,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable findings for editors."),
) -> None:
    """Check rule files: every error and warning, with line, column and a caret.

    Exits 1 when any file has an error (warnings alone exit 0).
    """
    found = check_files(files, Registry.load())
    errors = [e for e in found if severity(e) == "error"]
    if as_json:
        typer.echo(json.dumps([as_dict(e) for e in found], indent=2))
    else:
        for item in found:
            typer.echo(item.render() + "\n", err=severity(item) == "error")
        warnings = len(found) - len(errors)
        verdict = "ok" if not errors else "failed"
        typer.echo(
            f"{verdict}: {len(errors)} error(s), {warnings} warning(s) in {len(files)} file(s)"
        )
    if errors:
        raise typer.Exit(1)


@app.command()
def fmt(
    files: list[Path] = FILES,
    check_only: bool = typer.Option(
        False, "--check", help="Change nothing; exit 1 if a file is not formatted."
    ),
) -> None:
    """Rewrite rule files in the canonical layout (comments are kept)."""
    unformatted: list[Path] = []
    failed = False
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            formatted = format_text(text, str(path))
        except RuleError as err:
            typer.echo(err.render(), err=True)
            failed = True
            continue
        except OSError as exc:
            typer.echo(f"{path}: can't read: {exc}", err=True)
            failed = True
            continue
        if formatted == text:
            continue
        unformatted.append(path)
        if check_only:
            typer.echo(f"would reformat {path}")
        else:
            path.write_text(formatted, encoding="utf-8")
            typer.echo(f"reformatted {path}")
    if check_only and not unformatted and not failed:
        typer.echo(f"{len(files)} file(s) already formatted")
    if failed or (check_only and unformatted):
        raise typer.Exit(1)


@app.command()
def explain(
    file: Path = FILE,
    at: str = typer.Option("", "--at", help="Explain one bar, e.g. 2025-06-01T12:00 (UTC)."),
    data: Path | None = DATA,
    strategy: str = typer.Option("", "--strategy", "-s", help="Only this strategy."),
    position: float = typer.Option(
        0.0, "--position", help="Engine state for --at: signed position size (0 = flat)."
    ),
    bars_held: int = typer.Option(0, "--bars-held", help="Engine state for --at."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show the compiled plan (indicator DAG, warm-up, units, plugins); with --at, why each
    rule was true or false on that bar."""
    registry = Registry.load()
    rules = compile_file(file, registry)
    plans = [p for p in rules.strategies if not strategy or p.name == strategy]
    if strategy and not plans:
        names = ", ".join(p.name for p in rules.strategies) or "none"
        raise RuleError(f"no strategy {strategy!r} in {file}; it defines: {names}", file=str(file))
    assert all(isinstance(p, RuleStrategyPlan) for p in plans)
    typed: list[RuleStrategyPlan] = [p for p in plans if isinstance(p, RuleStrategyPlan)]
    if at:
        _explain_at(typed, at, data, position, bars_held, as_json)
        return
    described = [p.describe() for p in typed]
    portfolio = _portfolio(rules.portfolio)
    if as_json:
        out = {
            "files": list(rules.files),
            "strategies": described,
            "portfolio": portfolio,
            "warnings": [as_dict(w) for w in rules.warnings],
        }
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    for item in described:
        typer.echo(_plan_text(item))
    if portfolio is not None:
        typer.echo("portfolio")
        for key, value in portfolio.items():
            typer.echo(f"  {key}: {value}")
    for warning in rules.warnings:
        typer.echo(warning.render())


def _portfolio(portfolio: Any) -> dict[str, Any] | None:
    if portfolio is None:
        return None
    from sparkstacker.lang.units import fraction_text

    def limit(value: Any) -> str | None:
        if value is None:
            return None
        if value.amount is not None:
            return f"{value.amount} USD"
        return f"{fraction_text(value.fraction)} of equity"

    return {
        "max_gross_exposure": limit(portfolio.max_gross_exposure),
        "max_leverage": f"{portfolio.max_leverage}x" if portfolio.max_leverage else None,
        "levels": [f"on {lv.metric} {limit(lv.threshold)}: {lv.action}" for lv in portfolio.levels],
        "daily_reset": f"{portfolio.daily_reset:%H:%M} UTC",
        "hysteresis": fraction_text(portfolio.hysteresis),
    }


def _plan_text(plan: Mapping[str, Any]) -> str:
    lines = [
        f'strategy "{plan["name"]}" ({plan["kind"]}) — {plan["source"]}',
        f"  market     {plan['market']} on {plan['venue']}",
        f"  timeframe  {plan['timeframe']}"
        + (
            f" (+ closed {', '.join(plan['extra_timeframes'])} bars)"
            if plan["extra_timeframes"]
            else ""
        ),
        f"  warm-up    {plan['warmup_bars']} bars before the first decision",
        f"  leverage   {plan['leverage']}",
    ]
    if plan["dag"]:
        lines.append(f"  indicator DAG ({len(plan['dag'])} nodes, each computed once):")
        for node in plan["dag"]:
            shared = f", shared by {node['used_by']}" if node["used_by"] > 1 else ""
            state = ", engine state" if node["state"] else ""
            lines.append(
                f"    #{node['id']:<3} {node['expr']}   [{node['timeframe']}, warm-up "
                f"{node['warmup_bars']}{shared}{state}]"
            )
    for entry in plan["entries"]:
        extra = ""
        if entry["confidence"]:
            extra += f" confidence {entry['confidence']}"
        if entry["order"] == "limit":
            extra += f" at limit {entry['limit_price']}" + (
                " post_only" if entry["post_only"] else ""
            )
        lines.append(f"  enter {entry['side']:<5} when {entry['when']}  (#{entry['node']}){extra}")
    for item in plan["exits"]:
        lines.append(f"  exit  {item['side']:<5} when {item['when']}  (#{item['node']})")
    for key in ("sizing", "hedge", "risk", "costs", "params"):
        value = plan.get(key)
        if value:
            lines.append(f"  {key:<10} {json.dumps(value, default=str)}")
    if plan["plugins"]:
        lines.append("  plugins:")
        for use in plan["plugins"]:
            lines.append(
                f"    {use['kind']:<9} {use['name']:<16} from {use['plugin']} "
                f"({use['distribution']} {use['version']})".rstrip()
            )
    return "\n".join(lines) + "\n"


def _explain_at(
    plans: list[RuleStrategyPlan],
    at: str,
    data: Path | None,
    position: float,
    bars_held: int,
    as_json: bool,
) -> None:
    from sparkstacker.data.frames import describe_ms, timestamp_ms
    from sparkstacker.lang.explain import bar_index, explain_bar, read_ohlcv, stored_frame
    from sparkstacker.lang.plan import StrategyState

    at_ms = timestamp_ms(at)
    state = StrategyState(position=position, bars_held=bars_held)
    results = []
    for plan in plans:
        if plan.uses is not None:
            continue
        if data is not None:
            frame, origin = read_ohlcv(data, plan.timeframe), str(data)
        else:
            frame, origin = stored_frame(plan)
        index = bar_index(frame, at_ms)
        result = explain_bar(plan, frame, index, state)
        result["data"] = origin
        result["time"] = describe_ms(result["timestamp"])
        results.append(result)
    if as_json:
        typer.echo(json.dumps(results, indent=2, default=str))
        return
    marks = {"true": "✔", "false": "✘", "unknown": "?", "value": " "}
    for result in results:
        values = "  ".join(f"{k} {v:g}" for k, v in result["values"].items())
        typer.echo(
            f'strategy "{result["strategy"]}" at bar {result["bar"]} '
            f"({result['time']}) from {result['data']}"
        )
        typer.echo(f"  {values}")
        if not result["warm"]:
            typer.echo(f"  warming up: decisions start at bar {result['warmup_bars']}")
        for rule in result["rules"]:
            typer.echo(f"  {rule['rule']}:")
            for line in rule["lines"]:
                pad = "    " * (line["depth"] + 1)
                detail = f"  ({line['detail']})" if line["detail"] else ""
                if line["verdict"] == "value":
                    typer.echo(f"  {pad}  {line['text']} = {line['detail']}")
                else:
                    typer.echo(f"  {pad}{marks[line['verdict']]} {line['text']}{detail}")
        decision = result["decision"]
        taken = [k for k in ("enter_long", "enter_short", "exit_long", "exit_short") if decision[k]]
        typer.echo(f"  decision: {', '.join(taken) or 'nothing'}")
        for reason in decision["reasons"]:
            typer.echo(f"    - {reason}")
        typer.echo("")
