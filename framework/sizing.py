"""The sizing contract and the clamps every sizer shares.

A sizer turns equity, price and confidence into a notional; :func:`finish_size` applies the
common steps (confidence scaling, min/max position clamps, lot rounding, minimum notional) so
every sizer behaves the same at the edges. A size of zero is returned with a ``reason``, never sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field
from sparkstacker.errors import ModelError
from sparkstacker.model import ONE, ZERO, Direction, FrozenModel, Instrument
from sparkstacker.model.fast import Builder


class SizerParams(BaseModel):
    """Parameters every sizer accepts; sizers extend this model with their own.

    Each field may declare the unit the rule language checks with
    ``json_schema_extra={"unit": ...}``: ``"USD"`` (quote money), ``"fraction"`` (written as a
    percentage in rules: ``5%`` arrives as ``0.05``), ``"ratio"`` (a plain number) or ``"bool"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)

    min_usd: Decimal = Field(
        default=ZERO,
        ge=0,
        alias="min",
        description="Smallest position, USD",
        json_schema_extra={"unit": "USD"},
    )
    max_usd: Decimal | None = Field(
        default=None,
        gt=0,
        alias="max",
        description="Largest position, USD",
        json_schema_extra={"unit": "USD"},
    )
    scale_by_confidence: bool = Field(
        default=True,
        alias="confidence",
        description="Multiply the size by signal confidence",
        json_schema_extra={"unit": "bool"},
    )


class SizingRequest(FrozenModel):
    instrument: Instrument
    direction: Direction
    price: Decimal = Field(gt=0)
    equity: Decimal
    leverage: Decimal = Field(default=ONE, gt=0)
    confidence: Decimal = Field(default=ONE, ge=0, le=1)
    stop_distance: Decimal | None = Field(
        default=None, description="Stop-loss distance as a fraction of price (0.05 = 5 %)"
    )
    win_rate: Decimal | None = Field(default=None, ge=0, le=1)
    payoff_ratio: Decimal | None = Field(default=None, gt=0)


class SizeDecision(FrozenModel):
    """``size`` in base units (lot-aligned, >= 0). Zero comes with the reason."""

    size: Decimal = Field(ge=0)
    notional: Decimal = Field(ge=0)
    reason: str | None = None
    clamped: str | None = Field(default=None, description="Which clamp changed the size, if any")

    @property
    def is_trade(self) -> bool:
        return self.size > 0


@runtime_checkable
class Sizer(Protocol):
    """``positional`` names the params a rule may pass without a name, in order
    (``fixed_usd(100 USD, max: 1000 USD)`` binds 100 USD to ``positional[0]``)."""

    name: str
    summary: str
    params_model: type[SizerParams]
    positional: tuple[str, ...]

    def size(self, request: SizingRequest, params: SizerParams) -> SizeDecision: ...


_build_request = Builder(
    SizingRequest,
    given=(
        "instrument",
        "direction",
        "price",
        "equity",
        "leverage",
        "confidence",
        "stop_distance",
    ),
)
_build_decision = Builder(SizeDecision, given=("size", "notional", "clamped"))


def sizing_request(
    *,
    instrument: Instrument,
    direction: Direction,
    price: Decimal,
    equity: Decimal,
    leverage: Decimal,
    confidence: Decimal,
    stop_distance: Decimal | None,
) -> SizingRequest:
    """A :class:`SizingRequest` from the engine's own values (the hot path of every entry).

    Same rules as the model (price and leverage > 0, confidence in 0..1); anything outside
    them goes through validation and raises exactly as ``SizingRequest(...)`` does.
    """
    values = {
        "instrument": instrument,
        "direction": direction,
        "price": price,
        "equity": equity,
        "leverage": leverage,
        "confidence": confidence,
        "stop_distance": stop_distance,
    }
    if (
        type(instrument) is Instrument
        and type(direction) is Direction
        and type(price) is Decimal
        and type(equity) is Decimal
        and type(leverage) is Decimal
        and type(confidence) is Decimal
        and (stop_distance is None or type(stop_distance) is Decimal)
        and price.is_finite()
        and equity.is_finite()
        and confidence.is_finite()
        and leverage.is_finite()
        and price > 0
        and leverage > 0
        and 0 <= confidence <= 1
    ):
        request: SizingRequest = _build_request(values)
        return request
    return SizingRequest(**values)


def size_decision(size: Decimal, notional: Decimal, clamped: str | None = None) -> SizeDecision:
    """A trade-sized :class:`SizeDecision` (validated only when a value is out of range)."""
    if (
        type(size) is Decimal
        and type(notional) is Decimal
        and size.is_finite()
        and notional.is_finite()
        and size >= 0
        and notional >= 0
    ):
        decision: SizeDecision = _build_decision(
            {"size": size, "notional": notional, "clamped": clamped}
        )
        return decision
    return SizeDecision(size=size, notional=notional, clamped=clamped)


def no_trade(reason: str) -> SizeDecision:
    return SizeDecision(size=ZERO, notional=ZERO, reason=reason)


def finish_size(request: SizingRequest, notional: Decimal, params: SizerParams) -> SizeDecision:
    """Scale by confidence, clamp to min/max USD, round down to the lot, check minimum notional."""
    if notional <= 0:
        return no_trade(f"computed position value {notional} USD is not positive")
    clamped = None
    if params.scale_by_confidence:
        notional = notional * request.confidence
        if notional <= 0:
            return no_trade("confidence is 0")
    low, high = params.min_usd, params.max_usd
    if high is not None and notional > high:
        notional, clamped = high, f"max {high} USD"
    if notional < low:
        if high is not None and low > high:
            return no_trade(f"min {low} USD is above max {high} USD")
        notional, clamped = low, f"min {low} USD"
    instrument, price = request.instrument, request.price
    try:
        size = instrument.size_for_notional(notional, price)
    except ModelError as exc:
        return no_trade(str(exc))
    return size_decision(size, instrument.notional(size, price), clamped)
