"""What the compiled kernel reads about sizes: entry sizes in lots and the volume cap.

``fixed_units`` and ``fixed_usd`` are computed in floats for every bar where an entry can be
decided; where a lot boundary, a min/max clamp or the venue's minimum value is within 1e-9
(relative) the registry's sizer itself sizes that bar on the engine's ``Decimal`` request, so
the lots are always the sizer's. The volume cap is the venue's own float expression, which
numpy evaluates exactly as Python does.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
from sparkstacker.backtest.fast_lane import Lane
from sparkstacker.errors import SparkStackerError
from sparkstacker.model import ONE, ZERO, Direction
from sparkstacker.registry import Registry
from sparkstacker.sizing import SizingRequest
from sparkstacker_plugins.exchanges.sim.core import dec

NEAR = 1e-9  # relative band in which the sizer's float arithmetic is not trusted
NO_CAP = 2**62  # lots: no volume cap


def _exact_lots(
    lane: Lane, sizer: Any, params: Any, price: float, equity: Decimal, lot: Decimal
) -> int:
    """The registry's sizer on the engine's request at ``price``: the size in lots."""
    request = SizingRequest(
        instrument=lane.instrument,
        direction=Direction.LONG,
        price=dec(price),
        equity=equity,
        leverage=lane.plan.leverage,
        confidence=dec(1.0),
        stop_distance=lane.plan.risk.stop_loss,
    )
    size = sizer.size(request, params).size
    lots = size / lot
    if lots != lots.to_integral_value():
        raise SparkStackerError(f"sizer returned {size}, not a multiple of the lot {lot}")
    return int(lots)


def entry_lots(lane: Lane, registry: Registry, bars: np.ndarray) -> np.ndarray | str:
    """Lots ``fixed_units`` / ``fixed_usd`` would size at the close of each of ``bars`` (0: no
    trade), with the sizer's ``Decimal`` answer wherever the float one is too close to call;
    or why the kernel cannot size this strategy."""
    plan = lane.plan
    assert plan.sizing is not None
    sizer = registry.sizers.get(plan.sizing.sizer)
    params = plan.sizing.params
    instrument = lane.instrument
    lot = instrument.lot_size
    lot_f = float(lot)
    close = lane.close[bars]
    if not np.all(close > 0) or not np.all(np.isfinite(close)):
        return "a close price that is not a positive number"
    if params.max_usd is not None and params.min_usd > params.max_usd:
        return np.zeros(len(bars), dtype=np.int64)  # finish_size: never a trade
    units = plan.sizing.sizer == "fixed_units"
    notional = close * float(params.units) if units else np.full(len(bars), float(params.amount))
    near = np.zeros(len(bars), dtype=bool)
    clamped = np.zeros(len(bars), dtype=bool)
    if params.max_usd is not None:
        top = float(params.max_usd)
        near |= np.abs(notional - top) <= NEAR * top
        over = notional > top
        notional = np.where(over, top, notional)
        clamped |= over
    if params.min_usd > 0:
        bottom = float(params.min_usd)
        near |= np.abs(notional - bottom) <= NEAR * bottom
        under = notional < bottom
        notional = np.where(under, bottom, notional)
        clamped |= under
    in_lots = notional / close / lot_f
    on_boundary = np.abs(in_lots - np.rint(in_lots)) <= NEAR * np.maximum(in_lots, 1.0)
    lots = np.floor(in_lots)
    if units and len(params.units.as_tuple().digits) + 19 <= 28:
        # unclamped, units × price ÷ price is exactly ``units`` in Decimal (an exact product)
        whole = float((params.units / lot).to_integral_value(rounding=ROUND_FLOOR))
        lots = np.where(clamped, lots, whole)
        on_boundary &= clamped
    near |= on_boundary
    minimum = instrument.min_size or lot
    need = int((minimum / lot).to_integral_value(rounding=ROUND_CEILING))
    lots = np.where(lots < need, 0.0, lots)
    if instrument.min_notional > 0:
        floor_value = float(instrument.min_notional)
        value = lots * lot_f * close
        near |= (lots > 0) & (np.abs(value - floor_value) <= NEAR * floor_value)
        lots = np.where(value < floor_value, 0.0, lots)
    out = np.where(near, 0.0, lots).astype(np.int64)
    equity = ONE if plan.sizing.sizer == "fixed_usd" else ZERO
    for i in np.flatnonzero(near).tolist():
        out[i] = _exact_lots(lane, sizer, params, float(close[i]), equity, lot)
    return out


def volume_caps(lane: Lane, share: float | None, bars: np.ndarray) -> np.ndarray:
    """Lots an order may take at each of ``bars``: ``floor(share × volume / lot + 1e-9)``, the
    venue's own float expression (numpy evaluates it exactly as Python does)."""
    if share is None:
        return np.full(len(bars), NO_CAP, dtype=np.int64)
    allowed = share * lane.volume[bars] - 0.0
    with np.errstate(invalid="ignore"):
        lots = np.floor(allowed / float(lane.instrument.lot_size) + 1e-9)
        lots = np.where(allowed > 0, np.minimum(lots, float(NO_CAP)), 0.0)
    return lots.astype(np.int64)
