"""Which pre-trade checks run for a strategy is worked out once from its configuration: the
checks its plan makes no-ops are left out, the ones that can veto always run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sparkstacker.errors import OrderVetoed
from sparkstacker.lang import compile_text
from sparkstacker.model import Order, OrderType, Side, TimeInForce, utcnow
from sparkstacker.risk.governor import Governor
from sparkstacker.risk.pretrade import PreTradeRisk

D = Decimal
PLAIN = """
strategy "plain" {
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1]
    size fixed_units(1)
}
"""
CAPPED = """
strategy "capped" {
    market ETH-USD on sim
    timeframe 1m
    enter long when close > close[1]
    size fixed_units(1)
    risk max_position 150 USD
}
"""


class View:
    """The engine as the checks see it: a flat book at a 100 mark."""

    def __init__(self, plans: dict[str, Any]) -> None:
        self.plans = plans

    def leg_position(self, order: Order) -> Decimal:
        return D(0)

    def net_position(self, venue: str, symbol: str) -> Decimal:
        return D(0)

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        return D(100)

    def instrument(self, venue: str, symbol: str) -> None:
        return None

    def plan(self, strategy: str | None) -> Any:
        return self.plans.get(strategy or "")

    def equity(self) -> Decimal:
        return D(10_000)

    def gross_exposure(self) -> Decimal:
        return D(0)

    def now_ms(self) -> int:
        return 0

    def open_orders(self) -> list[Order]:
        return []


def order(strategy: str, size: str) -> Order:
    return Order(
        client_order_id=f"{strategy}-{size}",
        venue="sim",
        symbol="ETH-USD",
        side=Side.BUY,
        type=OrderType.MARKET,
        tif=TimeInForce.IOC,
        size=D(size),
        strategy=strategy,
        created_at=utcnow(),
    )


@pytest.fixture
def risk(registry: Any) -> PreTradeRisk:
    plans = {p.name: p for text in (PLAIN, CAPPED) for p in compile_text(text, registry).strategies}
    return PreTradeRisk(View(plans))


def names(risk: PreTradeRisk, strategy: str | None) -> list[str]:
    return [name for name, _ in risk.applicable(strategy)]


def test_unconfigured_checks_are_left_out(risk: PreTradeRisk) -> None:
    always = ["reduce_only", "leverage", "price_band", "duplicate", "order_rate"]
    assert names(risk, "plain") == always
    assert names(risk, None) == always
    assert names(risk, "capped") == ["reduce_only", "leverage", "max_position", *always[2:]]


def test_a_configured_limit_still_vetoes(risk: PreTradeRisk) -> None:
    risk(order("capped", "1"))  # 100 USD: within 150
    with pytest.raises(OrderVetoed) as caught:
        risk(order("capped", "2"))  # 200 USD
    assert caught.value.check == "max_position"
    risk(order("plain", "1000"))  # no limit configured: nothing to veto


def test_governor_check_runs_only_with_a_governor(registry: Any) -> None:
    from sparkstacker.lang.plan import PortfolioPlan

    text = "portfolio {\n    on drawdown 5% reduce_only\n}\n" + PLAIN
    portfolio = compile_text(text, registry).portfolio
    assert isinstance(portfolio, PortfolioPlan)
    governed = PreTradeRisk(View({}), portfolio=portfolio, governor=Governor(portfolio))
    assert names(governed, "plain")[0] == "governor"


def test_replacing_the_checks_is_honoured(risk: PreTradeRisk) -> None:
    seen: list[str] = []
    risk.checks = (("mine", lambda o: seen.append(o.client_order_id)),)
    risk(order("plain", "1"))
    assert seen == ["plain-1"]
    assert names(risk, "plain") == ["mine"]
