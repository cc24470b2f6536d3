"""Crafted one-minute bars for the hand-checked backtest tests.

Import it after putting this folder on sys.path (the test modules do that themselves).
"""

from __future__ import annotations

import numpy as np
from sparkstacker.lang.plan import BarFrame

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def frame(opens: list[float], closes: list[float], volume: float = 1e6) -> BarFrame:
    """1m bars from ``T0`` with these opens and closes; high/low span the two, flat volume."""
    n = len(opens)
    o, c = np.array(opens, float), np.array(closes, float)
    return BarFrame(
        timeframe="1m",
        timestamp=T0 + 60_000 * np.arange(n, dtype=np.int64),
        open=o,
        high=np.maximum(o, c),
        low=np.minimum(o, c),
        close=c,
        volume=np.full(n, volume),
    )
