"""Size so that hitting the stop loses a chosen fraction of equity."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from sparkstacker.sizing import SizeDecision, SizerParams, SizingRequest, finish_size, no_trade
from sparkstacker_plugins.sizing.checks import equity_problem, typed_params


class RiskBasedParams(SizerParams):
    risk: Decimal = Field(
        gt=0,
        lt=1,
        description="Fraction of equity lost if the stop is hit (1% = 0.01)",
        json_schema_extra={"unit": "fraction"},
    )
    stop: Decimal | None = Field(
        default=None,
        gt=0,
        description="Stop distance as a fraction of price, used when the strategy sets none",
        json_schema_extra={"unit": "fraction"},
    )


class RiskBased:
    """``risk_based(1%)``: notional = equity × risk / stop distance.

    The stop distance is the strategy's own stop (``SizingRequest.stop_distance``, from the
    ``risk stop_loss`` clause) because that is the loss that will really happen; the ``stop``
    parameter is the fallback for strategies without one. Equity 10,000, risk 1 %, stop 5 %:
    notional 2,000, and the stop loses 2,000 × 5 % = 100 = 1 % of equity.
    """

    name: str = "risk_based"
    summary: str = "Position value = equity x risk / stop distance (loss at stop = risk x equity)"
    params_model: type[SizerParams] = RiskBasedParams
    positional: tuple[str, ...] = ("risk",)

    def size(self, request: SizingRequest, params: SizerParams) -> SizeDecision:
        own = typed_params(self.name, params, RiskBasedParams)
        problem = equity_problem(request)
        if problem is not None:
            return problem
        stop = request.stop_distance if request.stop_distance is not None else own.stop
        if stop is None:
            return no_trade(
                "risk_based needs a stop distance: set stop_loss in the risk clause "
                "or pass stop: to the sizer"
            )
        if stop <= 0:
            return no_trade(f"stop distance {stop} is not positive; risk per trade is undefined")
        return finish_size(request, request.equity * own.risk / stop, own)
