"""``explain``: the compiled plan in words, and why each rule was true or false on one bar.

Bars come from ``--data`` (a CSV, Parquet or Feather OHLCV file: a ``date`` or ``timestamp``
column plus open/high/low/close/volume) or, without it, from the candle store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sparkstacker.errors import DataError
from sparkstacker.lang.plan import BarFrame, StrategyState
from sparkstacker.lang.program import ExplainTree
from sparkstacker.lang.rule_plan import RuleStrategyPlan

FIELDS = ("open", "high", "low", "close", "volume")


# ---- bars ----------------------------------------------------------------------------------------


def read_ohlcv(path: Path, timeframe: str) -> BarFrame:
    """A small OHLCV reader for ``explain --data`` (CSV, Parquet, Feather)."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            table = pd.read_parquet(path)
        elif suffix in (".feather", ".arrow"):
            table = pd.read_feather(path)
        else:
            raise DataError(f"{path}: use a .csv, .parquet or .feather OHLCV file")
    except (OSError, ValueError) as exc:
        raise DataError(f"can't read {path}: {exc}") from exc
    columns = {str(c).lower(): c for c in table.columns}
    time_column = next((columns[c] for c in ("date", "timestamp", "time") if c in columns), None)
    missing = [f for f in FIELDS if f not in columns]
    if time_column is None or missing:
        need = ", ".join(missing + ([] if time_column is not None else ["date or timestamp"]))
        raise DataError(f"{path} lacks the column(s) {need}")
    stamps = _epoch_ms(table[time_column])
    funding = table[columns["funding"]].to_numpy(float) if "funding" in columns else None
    return BarFrame(
        timeframe=timeframe,
        timestamp=stamps,
        open=table[columns["open"]].to_numpy(float),
        high=table[columns["high"]].to_numpy(float),
        low=table[columns["low"]].to_numpy(float),
        close=table[columns["close"]].to_numpy(float),
        volume=table[columns["volume"]].to_numpy(float),
        funding=funding,
    )


def _epoch_ms(values: Any) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(np.int64)
        # seconds, or milliseconds
        return numbers * 1000 if len(numbers) and numbers.max() < 10**11 else numbers
    stamps = pd.to_datetime(values, utc=True)
    return np.asarray(stamps.map(lambda s: int(s.timestamp() * 1000)), dtype=np.int64)


def stored_frame(plan: RuleStrategyPlan) -> tuple[BarFrame, str]:
    """The plan's bars from the candle store (no synthetic fallback: explain shows real bars)."""
    from sparkstacker.config import load_settings
    from sparkstacker.data import CandleStore, load_frame

    store = CandleStore(load_settings().data_dir)
    frame, origin = load_frame(store, plan.venue, plan.symbol, plan.timeframe, allow_sample=False)
    return frame, origin.describe()


def bar_index(frame: BarFrame, at_ms: int) -> int:
    """The bar that opened at ``at_ms``, or the last one that opened before it."""
    stamps = np.asarray(frame.timestamp, dtype=np.int64)
    index = int(np.searchsorted(stamps, at_ms, side="right")) - 1
    if index < 0:
        raise DataError("the data starts after that time")
    return index


# ---- explanations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    depth: int
    verdict: str  # true | false | unknown | value
    text: str
    detail: str = ""


def explain_bar(
    plan: RuleStrategyPlan, frame: BarFrame, index: int, state: StrategyState
) -> dict[str, Any]:
    """Why each rule of ``plan`` was true or false at bar ``index``, with the values."""
    prepared = plan.prepare(frame)
    decision = prepared.decide(index, state)

    def value(node: int | None) -> float:
        return math.nan if node is None else prepared.value_at(node, index, state)

    def before(node: int | None) -> float:
        if node is None or index == 0:
            return math.nan
        return prepared.value_at(node, index - 1, state)

    rules = []
    for label, tree in plan.explain_trees():
        lines: list[Line] = []
        _walk(tree, value, before, 0, lines)
        rules.append({"rule": label, "lines": [vars(line) for line in lines]})
    bar = {name: float(frame.field(name)[index]) for name in FIELDS}
    return {
        "strategy": plan.name,
        "bar": index,
        "timestamp": int(frame.timestamp[index]),
        "values": bar,
        "warm": index >= prepared.warmup_bars,
        "warmup_bars": prepared.warmup_bars,
        "rules": rules,
        "decision": {
            "enter_long": decision.enter_long,
            "enter_short": decision.enter_short,
            "exit_long": decision.exit_long,
            "exit_short": decision.exit_short,
            "confidence": decision.confidence,
            "limit_price": decision.limit_price,
            "reasons": list(decision.reasons),
        },
    }


def _walk(tree: ExplainTree, value: Any, before: Any, depth: int, lines: list[Line]) -> None:
    if tree.kind == "value":
        lines.append(Line(depth, "value", tree.text, _number(value(tree.node))))
        return
    verdict = _verdict(value(tree.node))
    detail = ""
    if tree.kind in ("compare", "crosses"):
        left, right = (value(c.node) for c in tree.children)
        detail = f"{_number(left)} vs {_number(right)}"
        if tree.kind == "crosses":
            was_left, was_right = (before(c.node) for c in tree.children)
            detail = f"now {detail}; bar before {_number(was_left)} vs {_number(was_right)}"
        lines.append(Line(depth, verdict, tree.text, detail))
        return
    lines.append(Line(depth, verdict, tree.text, detail))
    for child in tree.children:
        _walk(child, value, before, depth + 1, lines)


def _verdict(value: float) -> str:
    if math.isnan(value):
        return "unknown"
    return "true" if value == 1.0 else "false"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN (not enough bars yet)"
    if value == int(value) and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.6g}"


def describe_rules(plans: Mapping[str, RuleStrategyPlan]) -> list[Mapping[str, Any]]:
    return [plan.describe() for plan in plans.values()]
