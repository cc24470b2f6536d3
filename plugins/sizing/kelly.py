"""Fractional Kelly sizing from a win rate and a payoff ratio."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from sparkstacker.model import ONE
from sparkstacker.sizing import SizeDecision, SizerParams, SizingRequest, finish_size, no_trade
from sparkstacker_plugins.sizing.checks import equity_problem, typed_params


class KellyParams(SizerParams):
    win_rate: Decimal | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Probability a trade wins (55% = 0.55); default: the strategy's record",
        json_schema_extra={"unit": "fraction"},
    )
    payoff: Decimal | None = Field(
        default=None,
        gt=0,
        description="Average win / average loss; default: the strategy's record",
        json_schema_extra={"unit": "ratio"},
    )
    fraction: Decimal = Field(
        default=Decimal("0.5"),
        gt=0,
        le=1,
        description="Share of the full Kelly bet to take (50% = half Kelly)",
        json_schema_extra={"unit": "fraction"},
    )


def kelly_fraction(win_rate: Decimal, payoff: Decimal) -> Decimal:
    """Kelly's optimal bet f* = p − (1 − p) / b for win probability p and payoff ratio b."""
    return win_rate - (ONE - win_rate) / payoff


class Kelly:
    """``kelly(55%, 1.5, 50%)``: notional = equity × f* × fraction.

    Parameters given in the rule win over the statistics in the request (the strategy's
    measured record), so a trader can pin a conservative estimate.
    """

    name: str = "kelly"
    summary: str = "Fractional Kelly: equity x (p - (1-p)/b) x fraction"
    params_model: type[SizerParams] = KellyParams
    positional: tuple[str, ...] = ("win_rate", "payoff", "fraction")

    def size(self, request: SizingRequest, params: SizerParams) -> SizeDecision:
        own = typed_params(self.name, params, KellyParams)
        problem = equity_problem(request)
        if problem is not None:
            return problem
        win_rate = own.win_rate if own.win_rate is not None else request.win_rate
        payoff = own.payoff if own.payoff is not None else request.payoff_ratio
        missing = [n for n, v in (("win_rate", win_rate), ("payoff", payoff)) if v is None]
        if win_rate is None or payoff is None:
            return no_trade(
                f"kelly needs {' and '.join(missing)}: pass it to the sizer or let the "
                "strategy build a trade record first"
            )
        edge = kelly_fraction(win_rate, payoff)
        if edge <= 0:
            return no_trade(
                f"no edge: Kelly f* = {edge:.4f} for win rate {win_rate} and payoff {payoff}"
            )
        return finish_size(request, request.equity * edge * own.fraction, own)
