"""Small vocabularies shared by the domain models."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class Direction(StrEnum):
    """What a signal asks for: go long, go short, or be flat."""

    LONG = "long"
    SHORT = "short"
    FLAT = "flat"

    @property
    def sign(self) -> int:
        return _DIRECTION_SIGNS[self]


_DIRECTION_SIGNS = {Direction.LONG: 1, Direction.SHORT: -1, Direction.FLAT: 0}
