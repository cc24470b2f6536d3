"""Units of the rule language: what a written quantity means and how units combine.

A quantity's unit word decides its kind: ``5%`` and ``10 bps`` are fractions (0.05, 0.001),
``100 USD`` is money, ``10x`` leverage, ``10s``/``5m``/``24h``/``3d`` durations, ``1440 bars`` a
bar count; a bare number is a plain number. Series carry units too (``close`` is a price,
``equity`` money), so ``close + 5%`` is refused at compile time.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum


class Unit(StrEnum):
    NUMBER = "number"
    FRACTION = "percentage"
    PRICE = "price"
    MONEY = "money"
    VOLUME = "volume"
    BARS = "bars"
    DURATION = "duration"
    LEVERAGE = "leverage"
    BOOL = "condition"
    ANY = "indicator value"


CURRENCIES = ("USD", "USDC", "USDT")
DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")

WORDS = {
    Unit.NUMBER: "a plain number",
    Unit.FRACTION: "a percentage",
    Unit.PRICE: "a price",
    Unit.MONEY: "an amount of money",
    Unit.VOLUME: "a size in base units",
    Unit.BARS: "a number of bars",
    Unit.DURATION: "a duration",
    Unit.LEVERAGE: "a leverage",
    Unit.BOOL: "a condition (true or false)",
    Unit.ANY: "an indicator value",
}
EXAMPLES = {
    Unit.NUMBER: "0.8",
    Unit.FRACTION: "5% or 50 bps",
    Unit.PRICE: "close * 0.99",
    Unit.MONEY: "100 USD",
    Unit.BARS: "1440 bars",
    Unit.DURATION: "10s, 5m, 24h, 3d",
    Unit.LEVERAGE: "10x",
}


def expected(unit: Unit) -> str:
    """A unit in words with an example, for "expected …" messages."""
    example = EXAMPLES.get(unit)
    return f"{WORDS[unit]} ({example})" if example else WORDS[unit]


DIMENSIONLESS = {Unit.NUMBER, Unit.FRACTION, Unit.ANY}


def unit_of(word: str | None) -> Unit:
    """The kind of a written unit word (``None`` — no unit — is a plain number)."""
    if word is None:
        return Unit.NUMBER
    if word in ("%", "bps"):
        return Unit.FRACTION
    if word in CURRENCIES:
        return Unit.MONEY
    if word == "x":
        return Unit.LEVERAGE
    if word in ("bar", "bars"):
        return Unit.BARS
    if word in DURATION_SECONDS:
        return Unit.DURATION
    raise ValueError(f"unknown unit {word!r}")


def magnitude(value: Decimal, word: str | None) -> Decimal:
    """The value in the unit's base: fractions for % and bps, seconds for durations."""
    if word == "%":
        return value / 100
    if word == "bps":
        return value / 10_000
    if word in DURATION_SECONDS:
        return value * DURATION_SECONDS[word]
    return value


MAX_DURATION_SECONDS = Decimal(3650 * 86_400)  # ten years: anything longer is a typo


def too_long(value: Decimal, word: str) -> bool:
    """A duration no trading rule can mean (and timedelta cannot hold)."""
    return magnitude(value, word) > MAX_DURATION_SECONDS


def duration(value: Decimal, word: str) -> timedelta:
    return timedelta(seconds=float(magnitude(value, word)))


def describe_unit(word: str | None) -> str:
    return WORDS[unit_of(word)]


def fraction_text(value: Decimal) -> str:
    """A fraction written back as a percentage: 0.05 → ``5%``."""
    percent = (value * 100).normalize()
    text = format(percent, "f")
    return f"{text}%"
