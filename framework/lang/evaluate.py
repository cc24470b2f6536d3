"""The two evaluation forms of a :class:`~sparkstacker.lang.program.Program`.

:class:`PreparedRules` computes every state-free node over whole arrays once (backtests) and
evaluates the few state-dependent nodes per bar in :meth:`PreparedRules.decide`.
:class:`RuleStream` computes the same nodes one bar at a time (live). Both feed the same
:func:`decide`, so they give identical decisions for identical bars and states.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sparkstacker.errors import DataError
from sparkstacker.indicators import IndicatorStream
from sparkstacker.lang import ops
from sparkstacker.lang.dag import CONST, Node
from sparkstacker.lang.plan import (
    NO_DECISION,
    BarDecision,
    BarFrame,
    OrderStyle,
    StrategyState,
)
from sparkstacker.lang.program import EntryRule, Program
from sparkstacker.lang.timeframes import HigherBars, StreamResampler, resample

NAN = math.nan

# ---- the decision, shared by both forms ------------------------------------------------------


DecisionCache = dict[tuple[int, int, str | None, str | None, bool, bool], BarDecision]


def decide(
    program: Program,
    value: Callable[[int], float],
    state: StrategyState,
    cache: DecisionCache | None = None,
) -> BarDecision:
    """One bar's decision from rule values (``value(node)``) and the engine state.

    With ``cache`` (owned by one program's evaluator) a decision that depends only on which
    rules fired and on the side held — no confidence, no limit price — is built once and
    reused: decisions are immutable, and most bars repeat one of a handful of them.

    The flags are the rules' verdicts; the engine applies them to the position it holds:

    * both entries true on one bar: neither is taken (ambiguous), and the reason says so;
    * exits are reported whenever their condition holds (they act only on a held side);
    * an entry opposite the open position is a flip: the decision carries the exit of the
      held side together with the new entry, so both happen on this bar;
    * an entry in the direction already held is left to the engine, which ignores it (no
      pyramiding).
    """
    long_rule = _first_true(program.entries, "long", value)
    short_rule = _first_true(program.entries, "short", value)
    if cache is not None and _plain(long_rule) and _plain(short_rule):
        exit_long_text = _first_exit(program, "long", value)
        exit_short_text = _first_exit(program, "short", value)
        key = (
            id(long_rule),
            id(short_rule),
            exit_long_text,
            exit_short_text,
            state.position > 0,
            state.position < 0,
        )
        found = cache.get(key)
        if found is None:
            found = cache[key] = decide(program, value, state)
        return found
    reasons: list[str] = []
    if long_rule is not None and short_rule is not None:
        reasons.append("enter long and enter short are both true: neither is taken")
        long_rule = short_rule = None
    rule = long_rule or short_rule
    confidence = 1.0
    limit_price: float | None = None
    style = OrderStyle()
    if rule is not None:
        if rule.confidence is not None:
            raw = value(rule.confidence)
            confidence = 0.0 if math.isnan(raw) else min(1.0, max(0.0, raw))
        if rule.order == "limit" and rule.limit_price is not None:
            price = value(rule.limit_price)
            if math.isnan(price) or price <= 0:
                reasons.append(f"enter {rule.side}: the limit price is not known on this bar")
                rule = long_rule = short_rule = None
            else:
                limit_price = price
        if rule is not None:
            style = OrderStyle(
                kind="limit" if rule.order == "limit" else "market", post_only=rule.post_only
            )
            reasons.append(f"enter {rule.side}: {rule.text}")
    exit_long_text = _first_exit(program, "long", value)
    exit_short_text = _first_exit(program, "short", value)
    exit_long = exit_long_text is not None
    exit_short = exit_short_text is not None
    if exit_long_text is not None:
        reasons.append(f"exit long: {exit_long_text}")
    if exit_short_text is not None and exit_short_text != exit_long_text:
        reasons.append(f"exit short: {exit_short_text}")
    if state.position > 0 and short_rule is not None and not exit_long:
        exit_long = True
        reasons.append("exit long: flip to short")
    if state.position < 0 and long_rule is not None and not exit_short:
        exit_short = True
        reasons.append("exit short: flip to long")
    if not (long_rule or short_rule or exit_long or exit_short or reasons):
        return NO_DECISION
    return BarDecision(
        enter_long=long_rule is not None,
        enter_short=short_rule is not None,
        exit_long=exit_long,
        exit_short=exit_short,
        confidence=confidence,
        limit_price=limit_price,
        style=style,
        reasons=tuple(reasons),
    )


def _plain(rule: EntryRule | None) -> bool:
    """A rule whose decision reads no value beyond its condition (no confidence, no limit)."""
    return rule is None or (rule.confidence is None and rule.order != "limit")


def _first_true(
    rules: tuple[EntryRule, ...], side: str, value: Callable[[int], float]
) -> EntryRule | None:
    for rule in rules:
        if rule.side == side and value(rule.condition) == 1.0:
            return rule
    return None


def _first_exit(program: Program, side: str, value: Callable[[int], float]) -> str | None:
    for rule in program.exits:
        if rule.side in (None, side) and value(rule.condition) == 1.0:
            return rule.text
    return None


# ---- vectorised ------------------------------------------------------------------------------


class PreparedRules:
    """A program evaluated over one :class:`BarFrame` (implements ``PreparedStrategy``)."""

    def __init__(self, program: Program, frame: BarFrame) -> None:
        if frame.timeframe != program.base:
            raise DataError(
                f"the strategy runs on {program.base} bars but the data is {frame.timeframe}"
            )
        self.program = program
        self.frame = frame
        self.length = len(frame)
        self.warmup_bars = program.warmup
        self.state_free = program.state_free
        self.higher: dict[str, HigherBars] = {}
        timestamps = np.asarray(frame.timestamp, dtype=np.int64)
        if self.length > 1 and np.any(np.diff(timestamps) <= 0):
            raise DataError("bar timestamps must be strictly increasing")
        columns = {name: _floats(frame.field(name)) for name in ops_fields()}
        for timeframe in program.higher:
            self.higher[timeframe] = resample(timestamps, columns, program.base, timeframe)
        self.values: dict[int, Any] = {}
        self._decisions: DecisionCache = {}
        self._direct: dict[int, memoryview] | None = None
        self._base_columns = dict(columns)
        if frame.funding is not None:
            self._base_columns["funding"] = _floats(frame.funding)
        elif any(n.op == "field" and n.attrs[0] == "funding" for n in program.dag.nodes):
            self._base_columns["funding"] = np.full(self.length, NAN)  # only if a rule reads it
        for node in program.dag.nodes:
            if not node.stateful:
                self.values[node.id] = self._compute(node)

    # -- building arrays ------------------------------------------------------------------
    def _compute(self, node: Node) -> Any:
        op, values = node.op, self.values
        if op == "const":
            return node.value
        if op == "field":
            name = node.attrs[0]
            if node.domain == self.program.base:
                return self._base_columns[name]
            return self.higher[node.domain].columns[name]
        if op == "ind":
            name, params, input_names = node.attrs
            spec = self.program.dag.specs[name]
            inputs = {
                i: _as_array(values[a], self._domain_length(node.domain))
                for i, a in zip(input_names, node.args, strict=True)
            }
            return spec.run(inputs, dict(params))
        if op == "out":
            return values[node.args[0]][node.attrs[0]]
        if op == "align":
            return self.higher[node.attrs[0]].align(values[node.args[0]])
        if op == "shift":
            return ops.shift(values[node.args[0]], node.attrs[0])
        if op in ("highest", "lowest"):
            return ops.window(op, values[node.args[0]], node.attrs[0])
        if op == "bars_since":
            return ops.bars_since(values[node.args[0]])
        if op in ops.VECTOR_UNARY:
            return ops.VECTOR_UNARY[op](values[node.args[0]])
        left, right = (values[a] for a in node.args)
        length = self._domain_length(node.domain)
        left_array = np.asarray(left, dtype=np.float64)  # a constant becomes a 0-d array
        right_array = np.asarray(right, dtype=np.float64)
        return _as_array(ops.VECTOR_BINARY[op](left_array, right_array), length)

    def _domain_length(self, domain: str) -> int:
        if domain in (self.program.base, CONST):
            return self.length
        return len(self.higher[domain])

    def release_intermediates(self) -> None:
        """Free the series no decision, ``arrays()`` or ``entries``/``exits`` reads (the inner
        steps of a condition, e.g. the shifted copies and comparisons inside ``crosses``).

        For runs that only decide (backtests): ``value_at`` then answers for those nodes only,
        so ``explain`` over an inner step needs a fresh ``plan.prepare``."""
        program = self.program
        dag = program.dag
        keep = {*program.roots, *program.named.values()}
        for node in dag.nodes:
            if node.stateful:
                keep.update(a for a in node.args if not dag[a].stateful)
        for node_id in list(self.values):
            if node_id not in keep and dag[node_id].op != "const":
                del self.values[node_id]
        self._direct = None

    # -- reading --------------------------------------------------------------------------
    def value_at(self, node_id: int, index: int, state: StrategyState) -> float:
        """One node's value at bar ``index`` as seen from the strategy's bars."""
        node = self.program.dag[node_id]
        if node.op == "const":
            return node.value
        if not node.stateful:
            values = self.values[node_id]
            if node.domain != self.program.base:
                position = int(self.higher[node.domain].visible[index])
                return float(values[position]) if position >= 0 else NAN
            return float(values[index])
        if node.op == "state":
            return float(getattr(state, node.attrs[0]))
        args = [self.value_at(a, index, state) for a in node.args]
        if len(args) == 1:
            return float(ops.SCALAR_UNARY[node.op](args[0]))
        return float(ops.SCALAR_BINARY[node.op](args[0], args[1]))

    def decide(self, index: int, state: StrategyState) -> BarDecision:
        if not 0 <= index < self.length:
            raise IndexError(f"bar {index} is outside the data (0..{self.length - 1})")
        if index < self.warmup_bars:
            return NO_DECISION
        direct = self._direct
        if direct is None:
            direct = self._direct = self._direct_views()

        def value(node_id: int) -> float:
            view = direct.get(node_id)
            if view is not None:
                found: float = view[index]
                return found
            return self.value_at(node_id, index, state)

        return decide(self.program, value, state, self._decisions)

    def _direct_views(self) -> dict[int, memoryview]:
        """State-free base-timeframe series as memoryviews: ``view[i]`` is ``value_at``'s
        ``float(values[i])`` without the node lookups (decide reads a few per bar)."""
        views: dict[int, memoryview] = {}
        for node in self.program.dag.nodes:
            values = self.values.get(node.id)
            if (
                node.stateful
                or node.op == "const"
                or node.domain != self.program.base
                or not isinstance(values, np.ndarray)
                or values.dtype != np.float64
                or values.ndim != 1
                or len(values) != self.length
            ):
                continue
            views[node.id] = np.ascontiguousarray(values).data
        return views

    def arrays(self) -> Mapping[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name, node_id in self.program.named.items():
            array = self._base_array(node_id)
            if array is not None:
                out[name] = array
        long_entry, short_entry = self.entries()
        long_exit, short_exit = self.exits()
        out.update(
            {
                "enter_long": long_entry,
                "enter_short": short_entry,
                "exit_long": long_exit,
                "exit_short": short_exit,
            }
        )
        return out

    def _base_array(self, node_id: int) -> np.ndarray | None:
        node = self.program.dag[node_id]
        if node.stateful:
            return None
        values = self.values[node_id]
        if isinstance(values, float):
            return np.full(self.length, values)
        if isinstance(values, dict):
            return None
        if node.domain != self.program.base:
            return self.higher[node.domain].align(values)
        return np.asarray(values)

    def _truth(self, node_id: int) -> np.ndarray:
        array = self._base_array(node_id)
        if array is None:
            return np.zeros(self.length, dtype=bool)
        return ops.truth(array)

    def _warm(self) -> np.ndarray:
        warm = np.ones(self.length, dtype=bool)
        warm[: self.warmup_bars] = False
        return warm

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        long_entry = np.zeros(self.length, dtype=bool)
        short_entry = np.zeros(self.length, dtype=bool)
        for rule in self.program.entries:
            hit = self._truth(rule.condition)
            if rule.order == "limit" and rule.limit_price is not None:
                price = self._base_array(rule.limit_price)
                if price is not None:
                    with np.errstate(invalid="ignore"):
                        hit = hit & (price > 0)
            if rule.side == "long":
                long_entry |= hit
            else:
                short_entry |= hit
        both = long_entry & short_entry
        warm = self._warm()
        return long_entry & ~both & warm, short_entry & ~both & warm

    def exits(self) -> tuple[np.ndarray, np.ndarray]:
        long_exit = np.zeros(self.length, dtype=bool)
        short_exit = np.zeros(self.length, dtype=bool)
        for rule in self.program.exits:
            hit = self._truth(rule.condition)
            if rule.side in (None, "long"):
                long_exit |= hit
            if rule.side in (None, "short"):
                short_exit |= hit
        warm = self._warm()
        return long_exit & warm, short_exit & warm


def ops_fields() -> tuple[str, ...]:
    return ("open", "high", "low", "close", "volume")


def _floats(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _as_array(value: Any, length: int) -> np.ndarray:
    if isinstance(value, float | np.floating):
        return np.full(length, float(value))
    return np.asarray(value, dtype=np.float64)


# ---- incremental -----------------------------------------------------------------------------


class RuleStream:
    """A program evaluated one bar at a time (implements ``StrategyStream``).

    Indicators run through ``IndicatorSpec.stream``. With ``exact`` (the default) each one keeps
    its whole input history, so its newest value is bit-for-bit the value the vectorised form
    computes: TA-Lib's rolling sums (SMA, Bollinger bands, …) drift in the last bits when
    re-run over a trailing window only, and a tie such as ``open < sma(open, 2)`` would then
    decide differently live than in the backtest. ``exact=False`` uses each indicator's
    trailing window (bounded memory, values equal up to rounding).
    """

    def __init__(self, program: Program, *, exact: bool = True) -> None:
        self.program = program
        dag = program.dag
        self.values: list[Any] = [NAN] * len(dag)
        self.bars = 0
        self._last_timestamp: int | None = None
        self._resamplers = {tf: StreamResampler(program.base, tf) for tf in program.higher}
        self._memory: dict[int, Any] = {}
        for node in dag.nodes:
            if node.op == "const":
                self.values[node.id] = node.value
            elif node.op == "ind":
                name, params, _ = node.attrs
                stream = dag.specs[name].stream(dict(params))
                if exact:
                    stream.window = None
                self._memory[node.id] = stream
            elif node.op == "shift":
                self._memory[node.id] = deque(maxlen=node.attrs[0] + 1)
            elif node.op in ("highest", "lowest"):
                self._memory[node.id] = deque(maxlen=node.attrs[0])
            elif node.op == "bars_since":
                self._memory[node.id] = None
        self._by_domain: dict[str, list[Node]] = {}
        for node in dag.nodes:
            if node.op != "const" and not node.stateful:
                self._by_domain.setdefault(node.domain, []).append(node)
        self._stateful = [n for n in dag.nodes if n.stateful]

    def update(self, bar: Mapping[str, float], state: StrategyState) -> BarDecision:
        clean = _clean_bar(bar)
        stamp = int(clean["timestamp"])
        if self._last_timestamp is not None and stamp <= self._last_timestamp:
            raise DataError(
                f"bar at {stamp} is not after the previous bar at {self._last_timestamp}"
            )
        self._last_timestamp = stamp
        for timeframe, resampler in self._resamplers.items():
            for higher_bar in resampler.update(clean):
                for node in self._by_domain.get(timeframe, ()):
                    self._step(node, higher_bar)
        for node in self._by_domain.get(self.program.base, ()):
            self._step(node, clean)
        for node in self._stateful:
            self._step_stateful(node, state)
        self.bars += 1
        if self.bars <= self.program.warmup:
            return NO_DECISION
        return decide(self.program, self._value, state)

    def _value(self, node_id: int) -> float:
        return float(self.values[node_id])

    def value(self, node_id: int) -> float:
        """The newest value of a node (NaN before it has one)."""
        return self._value(node_id)

    def _step(self, node: Node, bar: Mapping[str, float]) -> None:
        values, op = self.values, node.op
        if op == "field":
            values[node.id] = bar[node.attrs[0]]
            return
        if op == "ind":
            stream: IndicatorStream = self._memory[node.id]
            inputs = {i: float(values[a]) for i, a in zip(node.attrs[2], node.args, strict=True)}
            values[node.id] = stream.update(inputs)
            return
        if op == "out":
            values[node.id] = float(values[node.args[0]][node.attrs[0]])
            return
        if op == "align":
            values[node.id] = values[node.args[0]]
            return
        if op == "shift":
            memory: deque[float] = self._memory[node.id]
            memory.append(float(values[node.args[0]]))
            values[node.id] = memory[0] if len(memory) == memory.maxlen else NAN
            return
        if op in ("highest", "lowest"):
            window: deque[float] = self._memory[node.id]
            window.append(float(values[node.args[0]]))
            values[node.id] = ops.window_scalar(op, list(window), node.attrs[0])
            return
        if op == "bars_since":
            count = self._memory[node.id]
            if values[node.args[0]] == 1.0:
                count = 0
            elif count is not None:
                count += 1
            self._memory[node.id] = count
            values[node.id] = NAN if count is None else float(count)
            return
        self._apply(node)

    def _step_stateful(self, node: Node, state: StrategyState) -> None:
        if node.op == "state":
            self.values[node.id] = float(getattr(state, node.attrs[0]))
        else:
            self._apply(node)

    def _apply(self, node: Node) -> None:
        args = [float(self.values[a]) for a in node.args]
        if len(args) == 1:
            self.values[node.id] = float(ops.SCALAR_UNARY[node.op](args[0]))
        else:
            self.values[node.id] = float(ops.SCALAR_BINARY[node.op](args[0], args[1]))


def _clean_bar(bar: Mapping[str, float]) -> dict[str, float]:
    try:
        clean = {name: float(bar[name]) for name in ("timestamp", *ops_fields())}
    except KeyError as exc:
        raise DataError(
            f"a bar needs timestamp, open, high, low, close and volume; {exc} is missing"
        ) from exc
    funding = bar.get("funding")
    clean["funding"] = NAN if funding is None else float(funding)
    return clean
