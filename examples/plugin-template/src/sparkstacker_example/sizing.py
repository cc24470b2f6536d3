"""The ``fixed_risk_usd`` sizer, registered through ``register_sizers``."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from sparkstacker import hookimpl
from sparkstacker.sizing import SizeDecision, SizerParams, SizingRequest, finish_size, no_trade


class FixedRiskParams(SizerParams):
    risk: Decimal = Field(
        gt=0, description="USD lost if the stop is hit", json_schema_extra={"unit": "USD"}
    )


class FixedRiskUsd:
    """Position value = risk / stop distance, so a stop-out loses ``risk`` USD."""

    name = "fixed_risk_usd"
    summary = "Size so that the rule's stop_loss loses exactly `risk` USD"
    params_model = FixedRiskParams
    positional = ("risk",)

    def size(self, request: SizingRequest, params: SizerParams) -> SizeDecision:
        assert isinstance(params, FixedRiskParams)
        if not request.stop_distance:
            return no_trade("fixed_risk_usd needs a stop_loss in the rule's risk clause")
        return finish_size(request, params.risk / request.stop_distance, params)


@hookimpl
def register_sizers() -> list[FixedRiskUsd]:
    return [FixedRiskUsd()]
