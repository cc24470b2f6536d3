"""Machine-readable report: Decimals as strings, times ISO 8601 UTC, durations in seconds.

Nothing undefined leaks: NaN and ±inf become ``null`` so the output is strict JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sparkstacker.backtest.metrics import BacktestMetrics, GroupStats
from sparkstacker.backtest.report_trades import iso, ordered_trades, trade_record
from sparkstacker.backtest.result import BacktestResult

SCHEMA = "sparkstacker.backtest.report/1"


def to_json(
    result: BacktestResult, metrics: BacktestMetrics, *, include_trades: bool = True
) -> dict[str, Any]:
    """The run, its metrics, breakdowns, assumptions, events and (optionally) every trade."""
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "run": {
            "run_id": result.run_id,
            "rule_files": list(result.rule_files),
            "strategies": list(result.strategies),
            "engine": result.engine,
            "synthetic_data": result.synthetic_data,
            "bars": len(result.timestamp),
            "elapsed_seconds": result.elapsed_seconds,
            "markets": [
                {
                    "venue": m.venue,
                    "symbol": m.symbol,
                    "timeframe": m.timeframe,
                    "bars": len(m.timestamp),
                    "synthetic": m.synthetic,
                    "origin": m.origin,
                }
                for m in result.markets
            ],
        },
        "metrics": _metrics(metrics),
        "assumptions": dict(result.assumptions),
        "risk_events": jsonable(result.risk_events),
        "governor_actions": jsonable(result.governor_actions),
    }
    if include_trades:
        out["trades"] = [trade_record(i, t) for i, t in enumerate(ordered_trades(result), 1)]
    return out


def write_json(
    result: BacktestResult,
    metrics: BacktestMetrics,
    path: str | Path,
    *,
    include_trades: bool = True,
) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = to_json(result, metrics, include_trades=include_trades)
    target.write_text(json.dumps(data, separators=(",", ":"), allow_nan=False), encoding="utf-8")
    return target


def _metrics(metrics: BacktestMetrics) -> dict[str, Any]:
    data: dict[str, Any] = jsonable(metrics)
    data["net_funding"] = str(metrics.net_funding)
    data["monthly_returns"] = [
        {"year": y, "month": m, "return": jsonable(r)} for y, m, r in metrics.monthly_returns
    ]
    if metrics.max_drawdown is not None:
        data["max_drawdown"]["is_open"] = metrics.max_drawdown.is_open
    return data


def jsonable(value: Any) -> Any:
    """Convert dataclasses, models, Decimals, datetimes and numpy scalars to plain JSON types."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, GroupStats):
        data = {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        data["win_rate"] = jsonable(value.win_rate)
        return data
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return jsonable(value.item())
    return str(value)
