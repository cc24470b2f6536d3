"""Guards every sizer applies before its own formula."""

from __future__ import annotations

from typing import TypeVar

from sparkstacker.errors import PluginError
from sparkstacker.sizing import SizeDecision, SizerParams, SizingRequest, no_trade

P = TypeVar("P", bound=SizerParams)


def typed_params(sizer: str, params: SizerParams, model: type[P]) -> P:
    """The params as the sizer's own model; anything else is a caller bug worth naming."""
    if not isinstance(params, model):
        raise PluginError(
            f"sizer {sizer} expects {model.__name__}, got {type(params).__name__}; "
            "validate rule parameters with the sizer's params_model"
        )
    return params


def equity_problem(request: SizingRequest) -> SizeDecision | None:
    """A no-trade decision when there is no equity to size from, else None."""
    if request.equity <= 0:
        return no_trade(
            f"equity {request.equity} {request.instrument.quote} is not positive; "
            "nothing to size a position from"
        )
    return None
