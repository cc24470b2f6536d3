"""The venue computes the account's free margin only for orders that add exposure."""

from __future__ import annotations

from decimal import Decimal

from simkit import eth, market
from sparkstacker_plugins.exchanges.sim.messages import HYPERLIQUID
from sparkstacker_plugins.exchanges.sim.validation import MarketView, check_order

D = Decimal


def view(position: str, free: list[int], available: str | None = None) -> MarketView:
    def free_margin() -> Decimal:
        free.append(1)
        return D("150")

    return MarketView(
        position=D(position),
        last=D(2000),
        bid=D(2000),
        ask=D(2000),
        leverage=D(10),
        available=D(available) if available is not None else None,
        free_margin=free_margin,
    )


def test_closing_orders_never_ask_for_margin() -> None:
    asked: list[int] = []
    assert (
        check_order(market("sell", "1", reduce_only=True), eth(), HYPERLIQUID, view("1", asked))
        is None
    )
    assert check_order(market("sell", "0.5"), eth(), HYPERLIQUID, view("1", asked)) is None
    assert asked == []


def test_adding_orders_are_checked_against_free_margin() -> None:
    asked: list[int] = []
    # 0.5 ETH at 2000 / 10x = 100 of margin: fits in 150
    assert check_order(market("buy", "0.5"), eth(), HYPERLIQUID, view("0", asked)) is None
    # a flip from long 1 to short 1: 1 ETH added = 200 of margin > 150
    assert (
        check_order(market("sell", "2"), eth(), HYPERLIQUID, view("1", asked)) == HYPERLIQUID.margin
    )
    assert asked == [1, 1]


def test_a_given_available_is_used_as_is() -> None:
    asked: list[int] = []
    assert (
        check_order(market("buy", "0.5"), eth(), HYPERLIQUID, view("0", asked, "50"))
        == HYPERLIQUID.margin
    )
    assert asked == []
