"""Pre-trade checks on a real engine and simulated venue: each veto is a rejected order with
the check's name and reason, and nothing reaches the venue."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import numpy as np
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.context import RunContext
from sparkstacker.engine.clock import SimulatedClock
from sparkstacker.engine.engine import Engine
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model import Order, OrderStatus, OrderType, Side, TimeInForce
from sparkstacker.plugins import make_plugin_manager
from sparkstacker.risk.pretrade import PreTradeSettings
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
from sparkstacker_plugins.exchanges.sim.options import SimOptions

D = Decimal
T0 = 1_704_067_200_000


def engine_with_price(registry, price: float = 100.0, **settings) -> tuple[Engine, SimExchange]:  # type: ignore[no-untyped-def]
    from sparkstacker.backtest.instruments import simulated_instrument

    sim = SimExchange("sim", SimOptions(volume_share=None))
    sim.add_market(simulated_instrument("sim", "ETH-USD", price), timeframe="1m")
    sim.on_bar("ETH-USD", T0, price, price, price, price, 1e6)
    clock = SimulatedClock(T0 + 60_000)
    run = RunContext(run_id="test-run", mode="backtest", registry=registry)
    engine = Engine(
        run=run,
        pm=make_plugin_manager(autoload=False),
        venues={"sim": sim},
        clock=clock,
        pretrade=PreTradeSettings(**settings),
    )
    asyncio.run(engine.start())
    engine.accounting.set_mark_float("sim", "ETH-USD", price)
    return engine, sim


def order(engine: Engine, side: Side = Side.BUY, size: str = "1", **fields) -> Order:  # type: ignore[no-untyped-def]
    values = {
        "client_order_id": engine.orders.next_client_order_id("t"),
        "venue": "sim",
        "symbol": "ETH-USD",
        "side": side,
        "type": OrderType.MARKET,
        "tif": TimeInForce.IOC,
        "size": D(size),
        "strategy": "s",
        "created_at": engine.clock.now(),
    }
    values.update(fields)
    return Order(**values)


def submit(engine: Engine, o: Order) -> Order:
    return asyncio.run(engine.orders.submit(o))


def test_reduce_only_with_nothing_to_reduce_is_vetoed(registry) -> None:  # type: ignore[no-untyped-def]
    engine, sim = engine_with_price(registry)
    result = submit(engine, order(engine, Side.SELL, reduce_only=True))
    assert result.status is OrderStatus.REJECTED
    assert (
        result.reason == "order vetoed by reduce_only: reduce-only sell with no position to reduce"
    )
    assert asyncio.run(sim.open_orders()) == []


def test_aggressive_limit_outside_the_price_band_is_vetoed(registry) -> None:  # type: ignore[no-untyped-def]
    engine, _ = engine_with_price(registry, price_band=D("0.02"))
    far = order(engine, type=OrderType.LIMIT, tif=TimeInForce.GTC, price=D("103"))
    result = submit(engine, far)
    assert (
        result.reason
        == "order vetoed by price_band: buy limit 103 is more than 2.0% above the mark 100.0"
    )
    passive = submit(
        engine, order(engine, type=OrderType.LIMIT, tif=TimeInForce.GTC, price=D("90"))
    )
    assert passive.status is OrderStatus.ACCEPTED  # far *below* the mark cannot fill badly


def test_duplicate_working_order_is_vetoed(registry) -> None:  # type: ignore[no-untyped-def]
    engine, _ = engine_with_price(registry)
    first = submit(engine, order(engine, type=OrderType.LIMIT, tif=TimeInForce.GTC, price=D("95")))
    assert first.status is OrderStatus.ACCEPTED
    again = submit(engine, order(engine, type=OrderType.LIMIT, tif=TimeInForce.GTC, price=D("95")))
    assert again.status is OrderStatus.REJECTED
    assert again.reason is not None
    assert again.reason.startswith(
        f"order vetoed by duplicate: duplicate of working order {first.client_order_id}"
    )


def test_order_rate_limit(registry) -> None:  # type: ignore[no-untyped-def]
    engine, _ = engine_with_price(registry, max_orders_per_minute=3)
    statuses = [
        submit(
            engine, order(engine, type=OrderType.LIMIT, tif=TimeInForce.GTC, price=D(90 - i))
        ).status
        for i in range(5)
    ]
    assert statuses == [OrderStatus.ACCEPTED] * 3 + [OrderStatus.REJECTED] * 2


def test_max_position_from_the_rule_is_enforced_in_a_backtest(registry) -> None:  # type: ignore[no-untyped-def]
    rule = """
    strategy "m" {
        market ETH-USD on sim
        timeframe 1m
        enter long when close > close[1]
        size fixed_units(1)
        leverage 2x
        risk max_position 50 USD
    }
    """
    n = 4
    closes = np.array([100, 101, 102, 103], float)
    bars = BarFrame(
        "1m",
        T0 + 60_000 * np.arange(n, dtype=np.int64),
        closes,
        closes,
        closes,
        closes,
        np.full(n, 1e6),
    )
    result = run_backtest(
        compile_text(rule, registry),
        registry,
        BacktestOptions(frames={("sim", "ETH-USD", "1m"): bars}),
    )
    assert result.fills == []
    rejected = result.orders[0]
    assert rejected.status is OrderStatus.REJECTED
    assert (
        rejected.reason
        == "order vetoed by max_position: position would be worth 101.00, over max_position 50.00"
    )


def test_leverage_over_the_venue_maximum(registry) -> None:  # type: ignore[no-untyped-def]
    engine, _ = engine_with_price(registry)
    result = submit(engine, order(engine, leverage=D(30)))
    assert (
        result.reason
        == "order vetoed by leverage: leverage 30x exceeds ETH-USD's maximum 25x on sim"
    )
