"""The indicator/expression DAG a strategy compiles to.

Nodes are hash-consed: building the same operation on the same inputs twice returns the same
node, so ``rsi(close, 14)`` written in three rules is computed once. Node ids are in
topological order (every argument has a smaller id). Each node lives in a *domain*: the
timeframe of the bars it is computed on — the strategy's own, or a higher one for
``close@4h`` and what is computed from it; an ``align`` node brings a higher-timeframe series
to the strategy's bars, showing only closed higher-timeframe bars.

Booleans use three values: 1.0 true, 0.0 false, NaN unknown (a comparison with a NaN operand,
e.g. during warm-up). Unknown never fires a rule, and ``not unknown`` is unknown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sparkstacker.indicators import IndicatorSpec

CONST = ""  # the domain of constants

ARITHMETIC = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
COMPARISONS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
LOGIC = {"and", "or"}
LEAVES = {"const", "field", "state", "out", "align", "shift", "ind"}


@dataclass(frozen=True)
class Node:
    """One operation. ``attrs`` hold compile-time values (a field name, an offset, params)."""

    id: int
    op: str
    args: tuple[int, ...]
    attrs: tuple[Any, ...]
    domain: str
    stateful: bool

    @property
    def is_const(self) -> bool:
        return self.op == "const"

    @property
    def value(self) -> float:
        assert self.op == "const"
        result: float = self.attrs[0]
        return result


class Dag:
    """A growing, deduplicated DAG."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.nodes: list[Node] = []
        self._index: dict[tuple[Any, ...], int] = {}
        self.specs: dict[str, IndicatorSpec] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, node_id: int) -> Node:
        return self.nodes[node_id]

    # -- building -------------------------------------------------------------------------
    def _add(self, op: str, args: Sequence[int], attrs: Sequence[Any], domain: str) -> int:
        key = (op, tuple(args), _hashable(tuple(attrs)), domain)
        found = self._index.get(key)
        if found is not None:
            return found
        stateful = op == "state" or any(self.nodes[a].stateful for a in args)
        node = Node(len(self.nodes), op, tuple(args), tuple(attrs), domain, stateful)
        self.nodes.append(node)
        self._index[key] = node.id
        return node.id

    def const(self, value: float) -> int:
        return self._add("const", (), (float(value),), CONST)

    def field(self, name: str, domain: str) -> int:
        return self._add("field", (), (name,), domain)

    def state(self, name: str, domain: str) -> int:
        return self._add("state", (), (name,), domain)

    def indicator(
        self,
        spec: IndicatorSpec,
        params: dict[str, int | float],
        inputs: dict[str, int],
        domain: str,
    ) -> int:
        self.specs[spec.name] = spec
        names = tuple(i.name for i in spec.inputs)
        args = tuple(inputs[n] for n in names)
        attrs = (spec.name, tuple(sorted(params.items())), names)
        return self._add("ind", args, attrs, domain)

    def output(self, indicator: int, name: str) -> int:
        return self._add("out", (indicator,), (name,), self.nodes[indicator].domain)

    def align(self, node: int, base: str) -> int:
        """``node`` seen from the strategy's bars (identity for base-domain nodes/constants)."""
        source = self.nodes[node]
        if source.domain in (base, CONST):
            return node
        return self._add("align", (node,), (source.domain,), base)

    def shift(self, node: int, bars: int) -> int:
        source = self.nodes[node]
        if bars == 0 or source.is_const:
            return node
        if source.op == "shift":  # x[1][2] == x[3]
            return self._add("shift", source.args, (source.attrs[0] + bars,), source.domain)
        return self._add("shift", (node,), (bars,), source.domain)

    def window(self, op: str, node: int, bars: int) -> int:
        """``highest``/``lowest`` over the last ``bars`` values."""
        source = self.nodes[node]
        if source.is_const or bars == 1:
            return node
        return self._add(op, (node,), (bars,), source.domain)

    def bars_since(self, node: int, base: str) -> int:
        source = self.nodes[node]
        if source.is_const:  # always true: 0 bars; never true (or unknown): never known
            return self.const(0.0 if source.value == 1.0 else math.nan)
        return self._add("bars_since", (self.align(node, base),), (), base)

    def unary(self, op: str, node: int) -> int:
        source = self.nodes[node]
        if source.is_const:
            return self.const(_fold_unary(op, source.value))
        if op == "not" and source.op == "not":
            return source.args[0]
        return self._add(op, (node,), (), source.domain)

    def binary(self, op: str, left: int, right: int, base: str) -> int:
        a, b = self.nodes[left], self.nodes[right]
        if a.is_const and b.is_const:
            return self.const(_fold_binary(op, a.value, b.value))
        if op in LOGIC:
            folded = self._fold_logic(op, a, b)
            if folded is not None:
                return folded
        if op in COMPARISONS and left == right:
            # x > x is never true, x >= x is true wherever x is known.
            return self.const(0.0 if op in ("lt", "gt", "ne") else 1.0)
        domain = _common_domain(a, b)
        if domain is None or op in COMPARISONS or op in LOGIC:
            domain = base
            left, right = self.align(left, base), self.align(right, base)
        if op in ("add", "mul", "min", "max", "eq", "ne", "and", "or") and left > right:
            left, right = right, left  # commutative: one canonical order, better sharing
        return self._add(op, (left, right), (), domain)

    def _fold_logic(self, op: str, a: Node, b: Node) -> int | None:
        for const, other in ((a, b), (b, a)):
            if not const.is_const or math.isnan(const.value):
                continue
            if op == "and":
                return other.id if const.value == 1.0 else self.const(0.0)
            return other.id if const.value == 0.0 else self.const(1.0)
        if a.id == b.id:
            return a.id
        return None

    # -- reading --------------------------------------------------------------------------
    def text(self, node_id: int) -> str:
        """A readable expression for one node (for ``explain``)."""
        node = self.nodes[node_id]
        args = [self.text(a) for a in node.args]
        op = node.op
        if op == "const":
            return _number_text(node.value)
        if op == "field":
            return node.attrs[0] if not self._is_higher(node) else f"{node.attrs[0]}@{node.domain}"
        if op == "state":
            return str(node.attrs[0])
        if op == "ind":
            name, params, _input_names = node.attrs
            spec = self.specs[name]
            shown = list(args)
            values = dict(params)
            shown += [_number_text(values[p.name]) for p in spec.params if p.name in values]
            return f"{name}({', '.join(shown)})"
        if op == "out":
            spec = self.specs[self.nodes[node.args[0]].attrs[0]]
            return args[0] if len(spec.outputs) == 1 else f"{args[0]}.{node.attrs[0]}"
        if op == "align":
            return args[0]
        if op == "shift":
            return f"{_wrap(args[0], self.nodes[node.args[0]])}[{node.attrs[0]}]"
        if op in ("highest", "lowest"):
            return f"{op}({args[0]}, {node.attrs[0]})"
        if op in ("abs", "bars_since"):
            return f"{op}({args[0]})"
        if op in ("min", "max"):
            return f"{op}({args[0]}, {args[1]})"
        if op == "neg":
            return f"-{_wrap(args[0], self.nodes[node.args[0]])}"
        if op == "not":
            return f"not {_wrap(args[0], self.nodes[node.args[0]])}"
        symbol = ARITHMETIC.get(op) or COMPARISONS.get(op) or op
        left = _wrap(args[0], self.nodes[node.args[0]])
        right = _wrap(args[1], self.nodes[node.args[1]])
        return f"{left} {symbol} {right}"

    def short_text(self, node_id: int) -> str:
        """Like :meth:`text`, but compound arguments appear as ``#id`` (for the DAG listing)."""
        node = self.nodes[node_id]
        if node.op in LEAVES or not any(self.nodes[a].op not in LEAVES for a in node.args):
            return self.text(node_id)
        parts = [self.text(a) if self.nodes[a].op in LEAVES else f"#{a}" for a in node.args]
        if node.op in ("highest", "lowest"):
            return f"{node.op}({parts[0]}, {node.attrs[0]})"
        if node.op in ("abs", "bars_since", "neg", "not"):
            symbol = {"neg": "-", "not": "not "}.get(node.op)
            return f"{symbol}{parts[0]}" if symbol else f"{node.op}({parts[0]})"
        if node.op in ("min", "max"):
            return f"{node.op}({parts[0]}, {parts[1]})"
        if node.op in ("shift",):
            return f"{parts[0]}[{node.attrs[0]}]"
        if node.op == "ind":
            return self.text(node_id)
        symbol = ARITHMETIC.get(node.op) or COMPARISONS.get(node.op) or node.op
        return f"{parts[0]} {symbol} {parts[1]}"

    def _is_higher(self, node: Node) -> bool:
        return node.domain not in (self.base, CONST)

    def lookback(self, node_id: int, base_seconds: int, cache: dict[int, int]) -> int:
        """Bars of the strategy's timeframe before ``node_id`` can hold a value."""
        if node_id in cache:
            return cache[node_id]
        node = self.nodes[node_id]
        own = self._own_lookback(node)
        if node.op == "align":
            (source,) = node.args
            ratio = max(1, _tf_seconds(node.attrs[0]) // base_seconds)
            higher = self._domain_lookback(source)
            # the first usable higher bar closes after (lookback + 1) higher bars, plus up to
            # one partial higher bar at the start of the data, which is dropped
            result = (higher + 2) * ratio - 1
        else:
            result = own + max(
                (self.lookback(a, base_seconds, cache) for a in node.args), default=0
            )
        cache[node_id] = result
        return result

    def domain_lookback(self, node_id: int) -> int:
        """Lookback of a node counted in bars of its own timeframe."""
        return self._domain_lookback(node_id)

    def _domain_lookback(self, node_id: int) -> int:
        """Lookback of a higher-timeframe node, counted in its own bars."""
        node = self.nodes[node_id]
        return self._own_lookback(node) + max(
            (self._domain_lookback(a) for a in node.args), default=0
        )

    def _own_lookback(self, node: Node) -> int:
        if node.op == "ind":
            name, params, _ = node.attrs
            return max(0, int(self.specs[name].lookback(dict(params))))
        if node.op == "shift":
            return int(node.attrs[0])
        if node.op in ("highest", "lowest"):
            return int(node.attrs[0]) - 1
        return 0


def _wrap(text: str, node: Node) -> str:
    simple = node.op in ("const", "field", "state", "ind", "out", "align", "shift") or node.op in (
        "highest",
        "lowest",
        "abs",
        "bars_since",
        "min",
        "max",
    )
    return text if simple else f"({text})"


def _number_text(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _hashable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, tuple):
        return tuple(_hashable(v) for v in value)
    return value


def _common_domain(a: Node, b: Node) -> str | None:
    if a.domain == CONST:
        return b.domain
    if b.domain == CONST or a.domain == b.domain:
        return a.domain
    return None


def _tf_seconds(timeframe: str) -> int:
    from sparkstacker.model.timeframe import timeframe_seconds

    return timeframe_seconds(timeframe)


def _fold_unary(op: str, value: float) -> float:
    from sparkstacker.lang.ops import SCALAR_UNARY

    return float(SCALAR_UNARY[op](value))


def _fold_binary(op: str, left: float, right: float) -> float:
    from sparkstacker.lang.ops import SCALAR_BINARY

    return float(SCALAR_BINARY[op](left, right))
