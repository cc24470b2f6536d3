"""Built-in position sizers: fixed_usd, fixed_units, percent_equity, risk_based, kelly.

Each computes a notional, then :func:`sparkstacker.sizing.finish_size` applies the shared
steps (confidence scaling, min/max clamps, lot rounding down, minimum notional). A position
that cannot be sized is a zero-size decision with the reason, never an exception.
"""

from __future__ import annotations

from sparkstacker import hookimpl
from sparkstacker.sizing import Sizer
from sparkstacker_plugins.sizing.basic import FixedUnits, FixedUsd, PercentEquity
from sparkstacker_plugins.sizing.kelly import Kelly
from sparkstacker_plugins.sizing.risk_based import RiskBased


@hookimpl
def register_sizers() -> list[Sizer]:
    return [FixedUsd(), FixedUnits(), PercentEquity(), RiskBased(), Kelly()]
