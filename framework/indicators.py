"""The indicator contract: one calling convention, vectorised and incremental.

An indicator plugin returns :class:`IndicatorSpec` objects from ``register_indicators``.
``spec.run(inputs, params)`` evaluates over whole numpy arrays; ``spec.stream(params)`` gives an
object whose ``update(bar)`` returns the newest values, and both agree value for value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sparkstacker.errors import PluginError

ComputeFn = Callable[[Mapping[str, np.ndarray], Mapping[str, Any]], Mapping[str, np.ndarray]]
LookbackFn = Callable[[Mapping[str, Any]], int]
WindowFn = Callable[[Mapping[str, Any]], int | None]

BAR_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class InputSpec:
    """One input series. ``default`` names the bar field used when the caller passes none;
    ``None`` means the caller must pass a series (e.g. ``rsi(close, 14)``)."""

    name: str
    default: str | None = None


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: Literal["int", "float"]
    default: float
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()
    """Other names a caller may use (``period`` for TA-Lib's ``timeperiod``)."""

    def coerce(self, value: Any) -> int | float:
        """Validate one parameter value; the message says which parameter and the valid range."""
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            try:
                value = float(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"parameter {self.name} must be a number, got {value!r}") from exc
        if self.kind == "int":
            if float(value) != int(value):
                raise ValueError(f"parameter {self.name} must be a whole number, got {value}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"parameter {self.name} must be finite, got {value}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"parameter {self.name} must be >= {self.minimum:g}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"parameter {self.name} must be <= {self.maximum:g}, got {value}")
        return value


@dataclass(frozen=True)
class IndicatorSpec:
    """A named indicator. ``window`` says how many trailing bars the newest value depends on
    (``None``: all history, as for EMA-seeded or cumulative indicators)."""

    name: str
    summary: str
    group: str
    inputs: tuple[InputSpec, ...]
    params: tuple[ParamSpec, ...]
    outputs: tuple[str, ...]
    compute: ComputeFn
    lookback: LookbackFn
    window: WindowFn = field(default=lambda params: None)
    source: str = ""

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def free_inputs(self) -> tuple[InputSpec, ...]:
        """Inputs the caller must supply (no default bar field)."""
        return tuple(i for i in self.inputs if i.default is None)

    def resolve_params(
        self, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> dict[str, int | float]:
        """Bind positional and named parameters; unknown names and bad values raise ValueError."""
        kwargs = dict(kwargs or {})
        if len(args) > len(self.params):
            raise ValueError(
                f"{self.name} takes at most {len(self.params)} parameter(s) "
                f"({', '.join(self.param_names) or 'none'}), got {len(args)}"
            )
        bound: dict[str, Any] = {}
        for spec, value in zip(self.params, args, strict=False):
            bound[spec.name] = value
        canonical = {alias: p.name for p in self.params for alias in p.aliases}
        for given, value in kwargs.items():
            name = canonical.get(given, given)
            if name not in self.param_names:
                valid = ", ".join(self.param_names) or "none"
                raise ValueError(f"{self.name} has no parameter {given!r}; valid: {valid}")
            if name in bound:
                raise ValueError(f"{self.name} parameter {name!r} given twice")
            bound[name] = value
        return {spec.name: spec.coerce(bound.get(spec.name, spec.default)) for spec in self.params}

    def run(
        self, inputs: Mapping[str, np.ndarray], params: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Evaluate over whole arrays. Returns one float64 array per output, NaN during warm-up."""
        resolved = self.resolve_params((), params or {})
        arrays = {}
        length = None
        for spec in self.inputs:
            if spec.name not in inputs:
                raise ValueError(f"{self.name} needs input {spec.name!r}")
            array = np.ascontiguousarray(inputs[spec.name], dtype=np.float64)
            if length is not None and len(array) != length:
                raise ValueError(f"{self.name} inputs have different lengths")
            length = len(array)
            arrays[spec.name] = array
        result = self.compute(arrays, resolved)
        out = {}
        for name in self.outputs:
            if name not in result:
                raise PluginError(f"indicator {self.name} ({self.source}) did not return {name!r}")
            out[name] = np.asarray(result[name], dtype=np.float64)
        return out

    def stream(self, params: Mapping[str, Any] | None = None) -> IndicatorStream:
        resolved = self.resolve_params((), params or {})
        return IndicatorStream(self, resolved)


class IndicatorStream:
    """Incremental evaluation: feed one bar at a time, get the newest value of each output.

    It re-evaluates the indicator over the trailing window the newest value depends on, so it
    agrees exactly with the vectorised form. Indicators with unbounded memory keep all history.
    """

    def __init__(self, spec: IndicatorSpec, params: Mapping[str, Any]) -> None:
        self.spec = spec
        self.params = dict(params)
        self.window = spec.window(self.params)
        self._capacity = 256
        self._length = 0
        self._buffers = {i.name: np.empty(self._capacity) for i in spec.inputs}

    def __len__(self) -> int:
        return self._length

    def update(self, values: Mapping[str, float]) -> dict[str, float]:
        if self._length == self._capacity:
            self._grow()
        for name, buffer in self._buffers.items():
            buffer[self._length] = values[name]
        self._length += 1
        start = 0 if self.window is None else max(0, self._length - self.window)
        view = {name: buffer[start : self._length] for name, buffer in self._buffers.items()}
        result = self.spec.compute(view, self.params)
        return {name: float(result[name][-1]) for name in self.spec.outputs}

    def _grow(self) -> None:
        if self.window is not None and self._length > 2 * self.window:
            keep = self.window
            for buffer in self._buffers.values():
                buffer[:keep] = buffer[self._length - keep : self._length]
            self._length = keep
            return
        self._capacity *= 2
        for name, buffer in list(self._buffers.items()):
            grown = np.empty(self._capacity)
            grown[: self._length] = buffer[: self._length]
            self._buffers[name] = grown
