"""The instrument's price grid and lot as the compiled kernel reads them, and its fill prices.

A grid price is ``k × increment`` where the increment (a power of ten) depends on the price's
decimal exponent (Hyperliquid: five significant figures, never finer than the tick). The kernel
carries prices as the floats nearest those decimals; :meth:`Grid.locate` recovers ``k`` and the
exponent exactly (decimal → float rounding is monotone and a grid price of at most 15 digits has
no other float), and :meth:`Grid.price` writes the ``Decimal`` exactly as
``Instrument.round_price`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sparkstacker.backtest.fast_lane import Lane
from sparkstacker.errors import SparkStackerError
from sparkstacker.model import ONE, Instrument, Side
from sparkstacker_plugins.exchanges.sim.core import dec, dec12

A_MIN, A_MAX = -15, 20  # decimal exponents of prices the kernel handles
POW10 = np.array([10.0**i for i in range(23)])  # exact floats


@dataclass(frozen=True)
class Grid:
    """An instrument's price grid and lot as the kernel reads them (powers of ten only)."""

    p10: np.ndarray  # float nearest 10**a for a in A_MIN..A_MAX+1
    inc_e: np.ndarray  # per decimal exponent a of a price: the exponent of its increment
    increments: tuple[Decimal, ...]  # the instrument's own increment Decimal per a
    lot: Decimal
    lot_exponent: int

    def price(self, k: int, a: int) -> Decimal:
        """``k`` increments at exponent ``a``, as ``Instrument.round_price`` writes it."""
        price = Decimal(k) * self.increments[a - A_MIN]
        return price.quantize(ONE) if price == price.to_integral_value() else price

    def locate(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(k, a)`` of grid prices given as the floats nearest them: ``a`` the decimal
        exponent (exact: decimal → float rounding is monotone and a grid price of at most 15
        digits has no other float), ``k`` the whole number of increments."""
        a = np.searchsorted(self.p10, prices, side="right") - 1 + A_MIN
        a = np.clip(a, A_MIN, A_MAX)
        e = self.inc_e[a - A_MIN]
        scale = 10.0 ** np.abs(e).astype(np.float64)
        k = np.rint(np.where(e < 0, prices * scale, prices / scale)).astype(np.int64)
        return k, a

    def size(self, lots: int) -> Decimal:
        return Decimal(lots) * self.lot

    def size_floats(self, lots: np.ndarray) -> np.ndarray:
        """``float(Decimal(lots) * lot)`` for every element (one correctly rounded op)."""
        e = self.lot_exponent
        as_float = lots.astype(np.float64)
        return as_float / 10.0**-e if e < 0 else as_float * 10.0**e


def _power_of_ten(value: Decimal) -> int | None:
    normal = value.normalize()
    sign, digits, exponent = normal.as_tuple()
    if sign or digits != (1,) or not isinstance(exponent, int) or abs(exponent) > 22:
        return None
    return exponent


def grid_of(instrument: Instrument) -> Grid | str:
    """The kernel's view of ``instrument``, or why the kernel cannot round on its grid."""
    if instrument.contract_size != ONE:
        return f"contract size {instrument.contract_size}"
    lot_exponent = _power_of_ten(instrument.lot_size)
    if lot_exponent is None:
        return f"lot size {instrument.lot_size} is not a power of ten"
    increments = tuple(
        instrument.price_increment(Decimal(1).scaleb(a)) for a in range(A_MIN, A_MAX + 1)
    )
    exponents = [_power_of_ten(inc) for inc in increments]
    if any(e is None for e in exponents):
        return f"price tick {instrument.tick_size} is not a power of ten"
    return Grid(
        p10=np.array([float(Decimal(10) ** a) for a in range(A_MIN, A_MAX + 2)]),
        inc_e=np.array(exponents, dtype=np.int64),
        increments=increments,
        lot=instrument.lot_size,
        lot_exponent=lot_exponent,
    )


def fill_prices(
    lane: Lane, sim: Any, grid: Grid, ref: np.ndarray, bars: np.ndarray, side: Side
) -> np.ndarray | str:
    """Taker prices of ``side`` at ``ref[bars]``: grid points as the floats nearest them
    (``Grid.locate`` gives each one's ``Decimal``), or why one cannot be written that way."""
    from sparkstacker.backtest.fast_kernel_jit import grid_prices

    model = sim.slippage_model
    fraction = float(model.bps) / 10_000.0 if type(model).__name__ == "FixedBps" else 0.0
    prices = np.empty(len(bars), dtype=np.float64)
    up = side is Side.BUY
    args = (fraction, A_MIN, grid.p10, grid.inc_e, POW10, prices)
    for i in grid_prices(ref, bars, up, *args).tolist():
        bar = int(bars[i])
        ref_f = float(ref[bar])
        raw = model.fill_price(side, ref_f, 1.0, float(lane.volume[bar]), None)
        try:
            price = lane.instrument.round_price(
                dec(ref_f) if raw == ref_f else dec12(raw), "up" if up else "down"
            )
        except SparkStackerError as exc:
            return f"a fill price the grid refuses ({exc})"
        prices[i] = float(price)
        k, a = grid.locate(prices[i : i + 1])
        if grid.price(int(k[0]), int(a[0])) != price:
            return f"a price ({price}) the kernel cannot write as k × increment"
    return prices
