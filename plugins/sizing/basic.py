"""Sizers that need no market view: a fixed amount, or a share of equity."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from sparkstacker.sizing import SizeDecision, SizerParams, SizingRequest, finish_size
from sparkstacker_plugins.sizing.checks import equity_problem, typed_params


class FixedUsdParams(SizerParams):
    amount: Decimal = Field(
        gt=0, description="Position value in quote currency", json_schema_extra={"unit": "USD"}
    )


class FixedUsd:
    """``fixed_usd(100 USD)``: the same position value every time."""

    name: str = "fixed_usd"
    summary: str = "Fixed position value in USD"
    params_model: type[SizerParams] = FixedUsdParams
    positional: tuple[str, ...] = ("amount",)

    def size(self, request: SizingRequest, params: SizerParams) -> SizeDecision:
        own = typed_params(self.name, params, FixedUsdParams)
        problem = equity_problem(request)
        if problem is not None:
            return problem
        return finish_size(request, own.amount, own)


class PercentEquityParams(SizerParams):
    percent: Decimal = Field(
        gt=0,
        description=(
            "Position value as a fraction of equity (5% = 0.05); above 100% is leveraged "
            "exposure, which the leverage and risk limits still check"
        ),
        json_schema_extra={"unit": "fraction"},
    )


class PercentEquity:
    """``percent_equity(10%)``: notional = equity × percent.

    Leverage does not multiply the size: it only sets how much margin the position ties up
    (10% of equity at 5x leverage uses 2% of equity as margin).
    """

    name: str = "percent_equity"
    summary: str = "Position value = equity x percent (leverage changes margin, not size)"
    params_model: type[SizerParams] = PercentEquityParams
    positional: tuple[str, ...] = ("percent",)

    def size(self, request: SizingRequest, params: SizerParams) -> SizeDecision:
        own = typed_params(self.name, params, PercentEquityParams)
        problem = equity_problem(request)
        if problem is not None:
            return problem
        return finish_size(request, request.equity * own.percent, own)


class FixedUnitsParams(SizerParams):
    units: Decimal = Field(
        gt=0,
        description="Position size in base units (1 = one ETH)",
        json_schema_extra={"unit": "ratio"},
    )


class FixedUnits:
    """``fixed_units(1)``: the same size in base units every time (rounded down to the lot)."""

    name: str = "fixed_units"
    summary: str = "Fixed position size in base units"
    params_model: type[SizerParams] = FixedUnitsParams
    positional: tuple[str, ...] = ("units",)

    def size(self, request: SizingRequest, params: SizerParams) -> SizeDecision:
        own = typed_params(self.name, params, FixedUnitsParams)
        return finish_size(request, own.units * request.price, own)
