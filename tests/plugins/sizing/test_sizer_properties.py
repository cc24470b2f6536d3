"""Properties every sizer keeps for any input: lot-aligned, non-negative, under the max."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sparkstacker.model import Direction, Instrument
from sparkstacker.registry import Registry
from sparkstacker.sizing import Sizer, SizingRequest

SIZERS: dict[str, Sizer] = {
    name: Registry.load(autoload=False).sizers.get(name)
    for name in ("fixed_usd", "percent_equity", "risk_based", "kelly")
}


def money(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=Decimal(low), max_value=Decimal(high), places=places, allow_nan=False
    )


fractions = money("0.0001", "0.9999", 4)
instruments = st.builds(
    lambda lot, min_notional, contract: Instrument(
        symbol="X-USD",
        venue="sim",
        base="X",
        quote="USD",
        tick_size=Decimal("0.0001"),
        lot_size=lot,
        min_notional=min_notional,
        contract_size=contract,
    ),
    lot=st.sampled_from([Decimal(x) for x in ("0.00001", "0.001", "0.1", "1", "10")]),
    min_notional=st.sampled_from([Decimal(0), Decimal(10)]),
    contract=st.sampled_from([Decimal(1), Decimal("0.01"), Decimal(100)]),
)
requests = st.builds(
    SizingRequest,
    instrument=instruments,
    direction=st.sampled_from([Direction.LONG, Direction.SHORT]),
    price=money("0.0001", "200000", 4),
    equity=money("-1000", "10000000", 2),
    leverage=money("1", "50", 0),
    confidence=money("0", "1", 2),
    stop_distance=st.none() | money("-0.05", "0.5", 4),
    win_rate=st.none() | fractions,
    payoff_ratio=st.none() | money("0.01", "10", 2),
)
shared = st.fixed_dictionaries(
    {},
    optional={
        "min": money("0", "5000", 2),
        "max": money("0.01", "100000", 2),
        "confidence": st.booleans(),
    },
)
own_params = {
    "fixed_usd": st.fixed_dictionaries({"amount": money("0.01", "1000000", 2)}),
    "percent_equity": st.fixed_dictionaries({"percent": money("0.0001", "5", 4)}),
    "risk_based": st.fixed_dictionaries({"risk": fractions}, optional={"stop": fractions}),
    "kelly": st.fixed_dictionaries(
        {},
        optional={"win_rate": fractions, "payoff": money("0.01", "10", 2), "fraction": fractions},
    ),
}
cases = st.sampled_from(sorted(SIZERS)).flatmap(
    lambda name: st.tuples(st.just(name), own_params[name], shared, requests)
)


@settings(max_examples=400, deadline=None)
@given(case=cases)
def test_size_is_a_non_negative_lot_multiple_within_max(
    case: tuple[str, dict[str, Any], dict[str, Any], SizingRequest],
) -> None:
    name, own, common, request = case
    sizer = SIZERS[name]
    params = sizer.params_model.model_validate({**own, **common})
    decision = sizer.size(request, params)

    lot = request.instrument.lot_size
    assert decision.size >= 0
    assert decision.size % lot == 0
    if params.max_usd is not None:
        assert decision.notional <= params.max_usd
    if decision.size == 0:
        assert decision.reason, "a zero size must say why"
        assert decision.notional == 0
    else:
        assert decision.reason is None
        assert decision.notional == request.instrument.notional(decision.size, request.price)
        assert decision.notional >= request.instrument.min_notional
        assert request.equity > 0
