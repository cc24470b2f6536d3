"""Read one TA-Lib function's metadata into Spark Stacker terms: inputs, params, outputs.

Everything comes from TA-Lib itself (``talib.abstract`` info and the C parameter table);
parameter ranges are TA-Lib's own, found by asking its lookback function which values it
accepts (it returns -1 for a value outside the range its C code checks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import import_module
from typing import Any

from sparkstacker.indicators import BAR_FIELDS, InputSpec, ParamSpec

# TA-Lib's optional-input kinds (TA_OptInputParameterType).
_REAL_RANGE, _REAL_LIST, _INTEGER_RANGE, _INTEGER_LIST = 0, 1, 2, 3
# TA-Lib's TA_REAL_MIN / TA_REAL_MAX: a real parameter bounded only by these is unbounded.
_REAL_LIMIT = 3e37
_INT_MAX = 100_000
# Candidate bounds for real parameters, checked exactly (the value accepted, the next double
# outside rejected). These are the bounds TA-Lib's C tables use (vfactor 0..1, MAMA limits
# 0.01..0.99, percentile 0..100, everything else 0 or ±3e37).
_REAL_LOWER = (-_REAL_LIMIT, -1.0, 0.0, 0.01, 1.0)
_REAL_UPPER = (_REAL_LIMIT, 100.0, 1.0, 0.99)

MA_TYPE_NAMES = {
    0: "SMA",
    1: "EMA",
    2: "WMA",
    3: "DEMA",
    4: "TEMA",
    5: "TRIMA",
    6: "KAMA",
    7: "MAMA",
    8: "T3",
    9: "HMA",
    10: "none (identity)",
    11: "the function's default",
    12: "ZLEMA",
    13: "Wilder (RMA)",
}


@dataclass(frozen=True)
class TalibFunction:
    """What Spark Stacker needs to know about one TA-Lib function."""

    name: str
    group: str
    summary: str
    flags: frozenset[str]
    inputs: tuple[InputSpec, ...]
    params: tuple[ParamSpec, ...]
    ma_type_params: tuple[str, ...]
    raw_outputs: tuple[str, ...]
    outputs: tuple[str, ...]


def function_names() -> list[str]:
    import talib

    return list(talib.get_functions())


@cache
def abstract_function(name: str) -> Any:
    """TA-Lib's abstract-API object for ``name`` (its stubs do not declare ``Function``)."""
    return import_module("talib.abstract").Function(name)


def _parameter_info(name: str, index: int) -> dict[str, Any]:
    """TA-Lib's description of optional input ``index`` (name, type, help, default)."""
    info: dict[str, Any] = import_module("talib._ta_lib")._ta_getOptInputParameterInfo(
        name.encode(), index
    )
    return info


def describe(name: str) -> TalibFunction:
    """Metadata of TA-Lib function ``name`` (upper case, as TA-Lib spells it)."""
    function = abstract_function(name)
    info = function.info
    kinds = _param_kinds(name, len(info["parameters"]))
    defaults: dict[str, Any] = dict(info["parameters"])
    params = tuple(
        _param_spec(name, param, kinds[param], default, defaults, _help(name, index))
        for index, (param, default) in enumerate(defaults.items())
    )
    raw_outputs = tuple(info["output_names"])
    return TalibFunction(
        name=name,
        group=info["group"],
        summary=info["display_name"],
        flags=frozenset(info["function_flags"] or ()),
        inputs=input_specs(info["input_names"]),
        params=_with_aliases(params),
        ma_type_params=tuple(p for p, kind in kinds.items() if kind == _INTEGER_LIST),
        raw_outputs=raw_outputs,
        outputs=output_names(name, raw_outputs),
    )


# ---- inputs ---------------------------------------------------------------------------------


def input_specs(input_names: Mapping[str, str | Sequence[str]]) -> tuple[InputSpec, ...]:
    """TA-Lib's input groups, named as its function API names them.

    ``price`` (one series, default ``close``) becomes ``real``; ``price0``/``price1`` become
    ``real0``/``real1``; a ``prices`` list becomes one input per bar field it reads. A default
    that is not a bar field (MAVP's ``periods``) leaves the input for the caller to supply.
    """
    specs: list[InputSpec] = []
    for group, value in input_names.items():
        if isinstance(value, str):
            name = "real" + group.removeprefix("price") if group.startswith("price") else group
            specs.append(InputSpec(name, value if value in BAR_FIELDS else None))
        else:
            specs.extend(
                InputSpec(field, field if field in BAR_FIELDS else None) for field in value
            )
    return tuple(specs)


# ---- outputs --------------------------------------------------------------------------------


def output_names(function: str, raw: Sequence[str]) -> tuple[str, ...]:
    """Lower-case output names with the redundant prefix removed.

    A prefix is stripped when it is the function's own name (``aroondown`` → ``down``,
    ``haopen`` → ``open``) or, for a multi-output function, its first output's name
    (MACD, MACDEXT and MACDFIX all give ``macd``, ``signal``, ``hist``; SMI gives ``smi``,
    ``signal``). A name equal to the prefix stays as it is.
    """
    lowered = [name.lower() for name in raw]
    prefixes = [function.lower()]
    if len(lowered) > 1:
        prefixes.append(lowered[0])
    names = []
    for name in lowered:
        for prefix in prefixes:
            if name.startswith(prefix) and len(name) > len(prefix):
                name = name[len(prefix) :]
                break
        names.append(name)
    if len(set(names)) != len(names):  # pragma: no cover - a TA-Lib release would have to add it
        return tuple(lowered)
    return tuple(names)


# ---- parameters -----------------------------------------------------------------------------


def _param_kinds(name: str, count: int) -> dict[str, int]:
    kinds = {}
    for index in range(count):
        info = _parameter_info(name, index)
        kinds[info["name"]] = int(info["type"])
    return kinds


def _help(name: str, index: int) -> str:
    return str(_parameter_info(name, index)["help"])


def _param_spec(
    function: str,
    param: str,
    kind: int,
    default: float,
    defaults: Mapping[str, Any],
    help_text: str,
) -> ParamSpec:
    if kind in (_INTEGER_RANGE, _INTEGER_LIST):
        low, high = _integer_bounds(function, param, defaults)
        description = help_text
        if kind == _INTEGER_LIST:
            description += ": " + ", ".join(f"{k}={v}" for k, v in MA_TYPE_NAMES.items())
        return ParamSpec(param, "int", int(default), low, high, description)
    low_real, high_real = _real_bounds(function, param, defaults)
    return ParamSpec(param, "float", float(default), low_real, high_real, help_text)


def accepts(function: str, params: Mapping[str, Any]) -> bool:
    """Whether TA-Lib's lookback accepts these parameter values."""
    return talib_lookback(function, tuple(sorted(params.items()))) >= 0


@lru_cache(maxsize=16_384)
def talib_lookback(function: str, params: tuple[tuple[str, Any], ...]) -> int:
    """TA-Lib's lookback for these parameters; -1 when TA-Lib rejects them."""
    abstract = abstract_function(function)
    abstract.set_parameters(dict(params))
    return int(abstract.lookback)


def _integer_bounds(
    function: str, param: str, defaults: Mapping[str, Any]
) -> tuple[int | None, int | None]:
    default = int(defaults[param])
    low = next(
        (v for v in range(-1, default + 1) if accepts(function, {**defaults, param: v})), None
    )
    high = None
    for candidate in (_INT_MAX, 13, 8):
        if accepts(function, {**defaults, param: candidate}) and not accepts(
            function, {**defaults, param: candidate + 1}
        ):
            high = candidate
            break
    return low, high


def _real_bounds(
    function: str, param: str, defaults: Mapping[str, Any]
) -> tuple[float | None, float | None]:
    def exact(candidate: float, outward: float) -> bool:
        return accepts(function, {**defaults, param: candidate}) and not accepts(
            function, {**defaults, param: math.nextafter(candidate, outward)}
        )

    low = next((c for c in _REAL_LOWER if exact(c, -math.inf)), None)
    high = next((c for c in _REAL_UPPER if exact(c, math.inf)), None)
    return low, high


def _with_aliases(params: tuple[ParamSpec, ...]) -> tuple[ParamSpec, ...]:
    """Give every ``…period`` parameter its short name as an alias (``timeperiod`` → ``period``,
    ``fastperiod`` → ``fast``, ``fastk_period`` → ``fastk``) when that is unambiguous."""
    taken = {p.name for p in params}
    out = []
    for spec in params:
        alias = _short_name(spec.name)
        if alias and alias not in taken:
            taken.add(alias)
            spec = ParamSpec(
                spec.name,
                spec.kind,
                spec.default,
                spec.minimum,
                spec.maximum,
                spec.description,
                aliases=(alias,),
            )
        out.append(spec)
    return tuple(out)


def _short_name(name: str) -> str | None:
    if name == "timeperiod":
        return "period"
    if name.startswith("timeperiod"):  # ULTOSC's timeperiod1..3
        return "period" + name.removeprefix("timeperiod")
    if "period" in name:
        stem = name.replace("period", "").rstrip("_")
        return stem if stem.isidentifier() else None
    return None
