"""Hedged positions and the risk governor, end to end: fixtures and the helper module's path.

Helpers live in ``hedgekit`` (real candles, rule text, child processes, metric scrapes).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
