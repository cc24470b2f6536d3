"""Bar timeframes such as ``1m``, ``4h`` or ``1d`` and conversions to seconds / pandas rules."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PANDAS = {"s": "s", "m": "min", "h": "h", "d": "D", "w": "W"}
_PATTERN = re.compile(r"^(\d+)([smhdw])$")


class Timeframe(str):
    """A timeframe string that knows its length. ``Timeframe("4h").seconds == 14400``."""

    __slots__ = ()

    def __new__(cls, text: str) -> Timeframe:
        _parse(text)
        return super().__new__(cls, text)

    @property
    def seconds(self) -> int:
        count, unit = _parse(self)
        return count * _UNIT_SECONDS[unit]

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    @property
    def pandas_rule(self) -> str:
        count, unit = _parse(self)
        return f"{count}{_PANDAS[unit]}"


@lru_cache(maxsize=64)
def _parse(text: str) -> tuple[int, str]:
    match = _PATTERN.match(str(text))
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"timeframe {text!r} is not valid; use a count and a unit such as 1m, 5m, 1h, 4h or 1d"
        )
    return int(match.group(1)), match.group(2)


def timeframe_seconds(text: str) -> int:
    return Timeframe(text).seconds
