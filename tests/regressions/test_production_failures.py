"""One test per failure of the system Spark Stacker replaces, at the level where it failed.

Its first production test on Hyperliquid logged "leverage 1.0" and traded at 25x, left orders.log
empty, could not parse the real order book or positions, counted partly filled or rejected IOC
orders as done, missed a failed hedge leg and rounded sizes to zero with a hard-coded lot size.
Its sibling market maker placed no orders for days (validation only on the cached-book path)
and showed the exchange balance instead of the paper account's equity.

The engine drives a real :class:`HyperliquidExchange` over HTTP replayed from cassettes (vcrpy,
``record_mode="none"``, network blocked): a request no cassette answers fails the test.
"""

from __future__ import annotations

import asyncio
import csv
import json
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from regkit import (
    T0,
    answer_cassette,
    build_engine,
    cassette,
    close_bar,
    compile_one,
    hyperliquid,
    merged_cassette,
    play,
)
from sparkstacker.backtest.runner import BacktestOptions, run_backtest
from sparkstacker.engine.clock import SimulatedClock
from sparkstacker.errors import LeverageMismatch, ModelError
from sparkstacker.exchange import VenueEvent
from sparkstacker.hookspecs import hookimpl
from sparkstacker.journal import Journal
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model import (
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    can_transition,
    from_millis,
    to_millis,
)
from sparkstacker.observe import OrderLogPlugin, setup_logging
from sparkstacker.runtime.options import RunOptions
from sparkstacker.runtime.state import StateDir
from sparkstacker.runtime.venues import feed_markets, open_paper_venues
from sparkstacker.runtime.wiring import Observers, account_list
from sparkstacker_plugins.exchanges.hyperliquid.orders import prepare_order
from sparkstacker_plugins.exchanges.hyperliquid.streams import StreamTranslator
from sparkstacker_plugins.exchanges.hyperliquid.testing import (
    make_test_exchange,
    openapi_example,
    recorded_body,
    replay_vcr,
)

D = Decimal
USER_STATE_ADDRESS = "0x5e9ee1089755c3435139848e47e6635505d5a13a"  # the recorded account

ETH_10X = """
strategy "{name}" {{
    market ETH-USD on hyperliquid
    timeframe 1m
    enter long when close > close[1]
    {exit}
    size {size}
    leverage 10x
    {extra}
}}
"""


def eth_rule(
    name: str = "eth", *, size: str = "fixed_units(0.05)", exit: str = "", extra: str = ""
) -> str:
    return ETH_10X.format(name=name, size=size, exit=exit, extra=extra)


# ---- 1. leverage ---------------------------------------------------------------------------------


def test_leverage_configured_differs_from_applied_is_caught(
    registry: Any, wire: Any, hl_clock: Any
) -> None:
    """Original failure: the system logged "leverage 1.0" while the account traded at 25x."""
    venue = hyperliquid(hl_clock)
    plan = compile_one(registry, eth_rule())
    engine, [slot] = build_engine(registry, {"hyperliquid": venue}, [plan])
    wire.clear()

    async def scenario() -> None:
        # The venue acknowledges updateLeverage, yet still reports cross 25x on read-back.
        with play(cassette("leverage_silently_25x")), pytest.raises(LeverageMismatch) as info:
            await engine.start()
        assert "10x cross" in str(info.value)
        assert "25x cross" in str(info.value)
        assert not engine.started
        # What was pushed is what the rule configured: ETH (asset 4 on testnet), 10x, cross.
        [update] = [b["action"] for b in wire.sent if "action" in b]
        assert update == {"type": "updateLeverage", "asset": 4, "isCross": True, "leverage": 10}
        # A driver that ignored the failure still cannot open at 25x: the entry the strategy
        # decides on bar 1 is refused before any request (no cassette is active and the
        # network is blocked, so a request would fail the test).
        wire.clear()
        await close_bar(engine, 0, 2500.0)
        await close_bar(engine, 1, 2501.0)
        assert wire.sent == []

    asyncio.run(scenario())
    [order] = engine.orders.all_orders()
    assert order.status is OrderStatus.REJECTED
    assert order.reason is not None
    assert "expects 10x cross" in order.reason
    assert "reports 25x cross" in order.reason
    assert slot.leg.size == 0


# ---- 2. orders.log -------------------------------------------------------------------------------

STATUS_AFTER = {  # what each lifecycle event means for the order's status (None: unchanged)
    "intent": "new",
    "submitted": "submitted",
    "accepted": "accepted",
    "triggered": "triggered",
    "partial_fill": "partially_filled",
    "fill": "filled",
    "cancel_requested": None,
    "cancelled": "cancelled",
    "rejected": "rejected",
    "expired": "expired",
}


class EventCounter:
    """A plugin beside orders.log that counts the lifecycle events the engine emits."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    @hookimpl
    def on_order_event(self, event: OrderEvent) -> None:
        self.events.append((event.order.client_order_id, event.kind.value))


def test_orders_log_receives_every_lifecycle_event(registry: Any, tmp_path: Path) -> None:
    """Original failure: orders.log stayed empty for a whole production run."""
    closes = [100, 101, 102, 101, 100, 99, 103, 104, 100, 96, 97, 98, 99, 95, 94, 96, 100, 101]
    opens = [100.0, *closes[:-1]]
    volume = [1e6] * len(closes)
    volume[4] = volume[9] = 8.0  # thin bars: the 10 % volume cap fills IOCs only in part
    n = len(closes)
    frame = BarFrame(
        timeframe="1m",
        timestamp=T0 + 60_000 * np.arange(n, dtype=np.int64),
        open=np.array(opens, float),
        high=np.maximum(opens, closes) + 0.5,
        low=np.minimum(opens, closes) - 0.5,
        close=np.array(closes, float),
        volume=np.array(volume, float),
    )
    rules = """
    strategy "logged" {
        market ETH-USD on sim
        timeframe 1m
        enter long when close > close[1]
        enter short when close < close[1]
        size fixed_units(2)
        leverage 4x
        hedge ratio 20%, leverage 2x, on sim account "hedge", within 10s else unwind
        risk stop_loss 3%, take_profit 4%
        fees maker 0% taker 0%
        fill at next_open
    }
    """
    counter = EventCounter()
    with setup_logging(tmp_path / "_logs", fmt="json", level="INFO") as files:
        options = BacktestOptions(
            frames={("sim", "ETH-USD", "1m"): frame},
            plugins=[OrderLogPlugin(files.orders), counter],
            account_equity={"sim.hedge": D(30)},  # too little margin for the larger hedges
        )
        result = run_backtest(compile_text(rules, registry), registry, options)
        path = files.paths["orders.log"]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines, "orders.log is empty"
    # One line per lifecycle event, in emission order, numbered without gaps.
    assert [(x["client_order_id"], x["kind"]) for x in lines] == counter.events
    assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    assert {x["run_id"] for x in lines} == {result.run_id}
    kinds = {x["kind"] for x in lines}
    assert {"intent", "submitted", "accepted", "triggered", "partial_fill", "fill"} <= kinds
    assert {"cancel_requested", "cancelled", "rejected"} <= kinds
    # Every order of the run is in the log, and its lines follow the state machine.
    by_order: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_order.setdefault(line["client_order_id"], []).append(line)
    orders = {o.client_order_id: o for o in result.orders}
    assert list(by_order) == list(orders)
    fills: dict[str, list[str]] = {}
    for fill in result.fills:
        fills.setdefault(fill.client_order_id or "", []).append(fill.fill_id)
    for cloid, events in by_order.items():
        assert (events[0]["kind"], events[0]["status"]) == ("intent", "new"), cloid
        status, filled = "new", D(0)
        for event in events[1:]:
            assert not OrderStatus(status).is_terminal, f"{cloid}: event after {status}"
            after = STATUS_AFTER[event["kind"]] or status
            if after != status:
                assert can_transition(OrderStatus(status), OrderStatus(after)), (cloid, event)
            assert event["status"] == after, (cloid, event)
            assert D(event["filled_size"]) >= filled
            status, filled = after, D(event["filled_size"])
        order = orders[cloid]
        assert (status, filled) == (order.status.value, order.filled_size), cloid
        logged_fills = [e["fill"] for e in events if e["fill"] is not None]
        assert [f["fill_id"] for f in logged_fills] == fills.get(cloid, []), cloid
        assert sum((D(f["size"]) for f in logged_fills), D(0)) == order.filled_size, cloid
        if order.status is OrderStatus.REJECTED:
            assert events[-1]["reason"] == order.reason


# ---- 3. planned versus filled size ---------------------------------------------------------------


def test_planned_size_versus_filled_size_is_tracked_through_partial_fills(
    registry: Any, wire: Any, hl_clock: Any
) -> None:
    """Original failure: an IOC that filled only part of its size was booked as the full size."""
    venue = hyperliquid(hl_clock)
    plan = compile_one(registry, eth_rule(exit="exit when bars_held >= 1"))
    engine, [slot] = build_engine(registry, {"hyperliquid": venue}, [plan])

    async def scenario() -> None:
        with play(cassette("start_eth_10x")):
            await engine.start()
        await close_bar(engine, 0, 2500.0)
        wire.clear()
        # Bar 1: the rule enters long 0.05 ETH; the venue fills 0.02 and cancels the rest.
        with play(cassette("ioc_partial_entry")):
            await close_bar(engine, 1, 2501.0)
        [entry] = engine.orders.all_orders()
        assert entry.size == D("0.05")
        assert entry.status is OrderStatus.CANCELLED
        assert entry.filled_size == D("0.02")
        assert entry.reason is not None
        assert "0.02 of 0.05" in entry.reason
        assert slot.leg.size == D("0.02")
        assert engine.book.net("hyperliquid", "ETH-USD") == D("0.02")
        # The strategy's next decision reads the real position: the exit closes 0.02, not 0.05.
        state = engine.strategy_state(slot, 2, 2502.0)
        assert state.position == pytest.approx(0.02)
        wire.clear()
        with play(cassette("exit_0_02_filled")):
            await close_bar(engine, 2, 2502.0)
        [sent] = wire.orders()
        assert (sent["b"], sent["s"], sent["r"]) == (False, "0.02", True)

    asyncio.run(scenario())
    _entry, exit_ = engine.orders.all_orders()
    assert exit_.reduce_only
    assert exit_.size == exit_.filled_size == D("0.02")
    assert exit_.status is OrderStatus.FILLED
    assert slot.leg.size == 0
    # What arrived is what was filled: two fills of 0.01 in, one of 0.02 out (from the cassettes).
    assert [(f.side.value, f.size) for f in engine.orders.fills] == [
        ("buy", D("0.01")),
        ("buy", D("0.01")),
        ("sell", D("0.02")),
    ]


# ---- 4. order book -------------------------------------------------------------------------------


@pytest.mark.shared  # reads real recordings from ../shared
def test_nested_order_book_parses(
    registry: Any, wire: Any, hl_clock: Any, hl_cassettes: Path, tmp_path: Path
) -> None:
    """Original failure: the real l2Book answer (``levels: [[bids], [asks]]``) did not parse."""
    recorded = hl_cassettes / "tests" / "cassettes" / "info_test" / "test_get_l2_snapshot.yaml"
    raw = recorded_body(recorded)
    bids, asks = raw["levels"]
    venue = make_test_exchange(hl_clock, network="mainnet")
    with play(recorded):
        book = asyncio.run(venue.order_book("DYDX-USD"))  # meta, then the book (real answers)
    assert (book.symbol, book.venue) == ("DYDX-USD", "hyperliquid")
    assert book.best_bid == D(bids[0]["px"])
    assert book.best_ask == D(asks[0]["px"])
    assert book.best_bid < book.best_ask
    assert (len(book.bids), len(book.asks)) == (len(bids), len(asks)) == (20, 20)
    assert [(lv.price, lv.size, lv.orders) for lv in book.bids] == [
        (D(x["px"]), D(x["sz"]), x["n"]) for x in bids
    ]
    assert [lv.orders for lv in book.asks] == [x["n"] for x in asks]
    assert int(book.timestamp.timestamp() * 1000) == raw["time"]

    # The engine's market buy is priced off that book's best ask (levels[1][0]): + 1 % bound,
    # rounded up to 5 significant figures (DYDX allows 6 - szDecimals(1) = 5 decimals).
    bound = D(asks[0]["px"]) * D("1.01")
    expected = bound.quantize(D(10) ** (bound.adjusted() - 4), rounding=ROUND_CEILING)
    plan = compile_one(
        registry,
        """
        strategy "dydx" {
            market DYDX-USD on hyperliquid
            timeframe 1m
            enter long when close > close[1]
            size fixed_units(10)
            leverage 3x
        }
        """,
    )
    engine, [slot] = build_engine(registry, {"hyperliquid": venue}, [plan])
    order_flow = merged_cassette(
        tmp_path / "dydx_order.yaml",
        (recorded, 1),  # the real DYDX l2Book
        (cassette("dydx_market_buy_filled"), None),
    )

    async def scenario() -> None:
        with play(cassette("start_dydx_3x_mainnet")):
            await engine.start()
        await close_bar(engine, 0, 2.10)
        wire.clear()
        with play(order_flow):
            await close_bar(engine, 1, 2.11)

    asyncio.run(scenario())
    assert wire.kinds() == ["l2Book", "exchange:order", "userFillsByTime"]
    assert wire.sent[0]["coin"] == "DYDX"
    [sent] = wire.orders()
    assert (sent["b"], sent["s"], D(sent["p"])) == (True, "10", expected)
    assert sent["t"] == {"limit": {"tif": "Ioc"}}
    assert slot.leg.size == D(10)


# ---- 5. positions --------------------------------------------------------------------------------


@pytest.mark.shared  # reads real recordings from ../shared
def test_positions_parse_via_position_coin(
    registry: Any, wire: Any, hl_clock: Any, hl_cassettes: Path, tmp_path: Path
) -> None:
    """Original failure: positions were read as ``item["coin"]``; the coin is under
    ``assetPositions[].position.coin``, so every position read raised KeyError."""
    info = hl_cassettes / "tests" / "cassettes" / "info_test"
    state = info / "test_get_user_state.yaml"
    raw = recorded_body(state)
    rows = [item["position"] for item in raw["assetPositions"]]
    venue = make_test_exchange(hl_clock, network="mainnet", account_address=USER_STATE_ADDRESS)
    with play(info / "test_get_info.yaml"):
        asyncio.run(venue.markets())
    with play(state):
        account = asyncio.run(venue.account())
    assert [p.symbol for p in account.positions] == [f"{r['coin']}-USD" for r in rows]
    assert [p.size for p in account.positions] == [D(r["szi"]) for r in rows]
    assert {p.direction.value for p in account.positions} == {"long", "short"}
    for position, row in zip(account.positions, rows, strict=True):
        assert position.margin_mode.value == row["leverage"]["type"]
        assert position.leverage == D(row["leverage"]["value"])
        expected_liq = None if row["liquidationPx"] is None else D(row["liquidationPx"])
        assert position.liquidation_price == expected_liq
    assert any(r["liquidationPx"] is None for r in rows)
    assert account.equity == D(raw["marginSummary"]["accountValue"])

    # "NaN" liquidation price (the OpenAPI example): no price, not a number that is not one.
    example = openapi_example(hl_cassettes / "api" / "info" / "userstate.yaml")
    assert example["assetPositions"][0]["position"]["liquidationPx"] == "NaN"
    served = answer_cassette(tmp_path / "nan_state.yaml", "clearinghouseState", example)
    with play(served):
        [position] = asyncio.run(venue.account()).positions
    assert position.symbol == "BTC-USD"
    assert position.is_flat
    assert position.liquidation_price is None

    # The engine reads leverage back through the same positions: BTC is held (cross 20x), so
    # the read-back comes from assetPositions[].position, not from activeAssetData.
    btc = next(r for r in rows if r["coin"] == "BTC")
    assert (btc["leverage"]["type"], btc["leverage"]["value"]) == ("cross", 20)
    plan = compile_one(
        registry,
        """
        strategy "btc" {
            market BTC-USD on hyperliquid
            timeframe 1m
            enter short when close < close[1]
            size fixed_usd(100 USD)
            leverage 20x
        }
        """,
    )
    engine, _ = build_engine(registry, {"hyperliquid": venue}, [plan])
    start = merged_cassette(
        tmp_path / "start.yaml", (cassette("update_leverage_ok_mainnet"), None), (state, None)
    )
    wire.clear()
    with replay_vcr().use_cassette(str(start), allow_playback_repeats=True):
        asyncio.run(engine.start())
    assert engine.started
    assert wire.kinds() == [
        "exchange:updateLeverage",
        "clearinghouseState",  # the adapter's read-back: the BTC position's leverage
        "clearinghouseState",  # the engine's own read-back
        "clearinghouseState",  # the account, to anchor equity
    ]
    assert engine.equity() == D(raw["marginSummary"]["accountValue"])


# ---- 6. IOC outcomes -----------------------------------------------------------------------------

NO_MATCH = "Order could not immediately match against any resting orders. asset=4"


def test_ioc_rejection_and_partial_fill_are_not_counted_as_done(
    registry: Any, wire: Any, hl_clock: Any
) -> None:
    """Original failure: IOC orders rejected or partly filled were counted as completed trades."""
    # (a) An IOC that crosses nothing: rejected with the venue's words, nothing held.
    venue = hyperliquid(hl_clock)
    plan = compile_one(registry, eth_rule(name="ioc"))
    engine, [slot] = build_engine(registry, {"hyperliquid": venue}, [plan])

    async def rejected() -> None:
        with play(cassette("start_eth_10x")):
            await engine.start()
        await close_bar(engine, 0, 2500.0)
        with play(cassette("ioc_no_match")):
            await close_bar(engine, 1, 2501.0)
        [order] = engine.orders.all_orders()
        assert order.status is OrderStatus.REJECTED
        assert order.reason == NO_MATCH
        assert order.filled_size == 0
        assert slot.leg.size == 0
        assert slot.leg.entry_price is None
        assert slot.entry_order is None
        assert not slot.busy
        flat = engine.strategy_state(slot, 2, 2502.0)
        assert (flat.position, flat.bars_held) == (0.0, 0)
        # Not "already long": the next rising bar enters again, and this time it fills.
        with play(cassette("ioc_filled_0_05")):
            await close_bar(engine, 2, 2502.0)
        assert slot.leg.size == D("0.05")

    asyncio.run(rejected())

    # (b) A partial IOC whose fills are not visible yet: nothing is built on it until the
    # venue's final word arrives; then the stop and the hedge follow the filled 0.02.
    main = hyperliquid(hl_clock)
    hedge = hyperliquid(hl_clock, "hyperliquid.hedge")
    plan = compile_one(
        registry,
        eth_rule(
            name="hedged",
            extra='hedge ratio 50%, leverage 2x, on hyperliquid account "hedge", '
            "within 10s else unwind\n    risk stop_loss 5%",
        ),
    )
    engine, [slot] = build_engine(
        registry,
        {"hyperliquid": main, "hyperliquid.hedge": hedge},
        [plan],
        hedge_venue="hyperliquid.hedge",
    )

    async def partial() -> None:
        with play(cassette("start_eth_10x_hedged")):
            await engine.start()
        await close_bar(engine, 0, 2500.0)
        wire.clear()
        with play(cassette("ioc_partial_fills_lag")):
            await close_bar(engine, 1, 2501.0)
        [entry] = engine.orders.all_orders()
        assert entry.status is OrderStatus.ACCEPTED  # outcome unknown: not done, not failed
        assert entry.filled_size == 0
        assert slot.leg.size == 0
        assert slot.busy
        assert slot.protective == {}
        group = engine.hedges.groups["hedged"]
        assert group.order is None
        assert group.leg.size == 0
        # The next bar's entry signal is not stacked on the working order.
        await close_bar(engine, 2, 2502.0)
        assert [o.client_order_id for o in engine.orders.all_orders()] == [entry.client_order_id]
        assert wire.kinds().count("exchange:order") == 1
        # The venue's final word (orderStatus by cloid): cancelled after filling 0.02.
        wire.clear()
        with play(cassette("order_status_partial_final")):
            final = await main.order_status(entry.client_order_id, "ETH-USD")
        assert final is not None
        with play(cassette("protective_and_hedge_0_02")):
            await engine.handle_events(
                [
                    VenueEvent(
                        kind="order", venue="hyperliquid", timestamp=final.timestamp, report=final
                    )
                ]
            )

    asyncio.run(partial())
    entry = engine.orders.all_orders()[0]
    assert (entry.status, entry.filled_size) == (OrderStatus.CANCELLED, D("0.02"))
    assert slot.leg.size == D("0.02")
    stop, hedge_order = wire.orders()
    assert (stop["b"], stop["s"], stop["r"]) == (False, "0.02", True)
    assert "trigger" in stop["t"]
    assert (hedge_order["b"], hedge_order["s"]) == (False, "0.01")  # 50 % of 0.02, not of 0.05
    assert engine.hedges.groups["hedged"].leg.size == D("-0.01")
    assert engine.hedges.groups["hedged"].state.value == "hedged"


# ---- 7. hedge leg ------------------------------------------------------------------------------

NO_MARGIN = "Insufficient margin to place order. asset=4"


def test_failed_hedge_leg_is_detected(
    registry: Any, wire: Any, hl_clock: Any, journal: Journal
) -> None:
    """Original failure: a hedge leg the venue refused went unnoticed (counted as hedged)."""
    run_id = journal.start_run("live", [], {"suite": "regressions"})
    main = hyperliquid(hl_clock)
    hedge = hyperliquid(hl_clock, "hyperliquid.hedge")
    plan = compile_one(
        registry,
        eth_rule(
            name="pair",
            extra='hedge ratio 50%, leverage 2x, on hyperliquid account "hedge", '
            "within 10s else unwind",
        ),
    )
    engine, [slot] = build_engine(
        registry,
        {"hyperliquid": main, "hyperliquid.hedge": hedge},
        [plan],
        run_id=run_id,
        journal=journal,
        hedge_venue="hyperliquid.hedge",
    )

    async def scenario() -> None:
        with play(cassette("start_eth_10x_hedged")):
            await engine.start()
        await close_bar(engine, 0, 2500.0)
        wire.clear()
        # Main buy 0.05 fills; the hedge sell of 0.025 is refused; the rule says unwind.
        with play(cassette("hedge_rejected_then_unwind")):
            await close_bar(engine, 1, 2501.0)
        await engine.settle()

    asyncio.run(scenario())
    entry, hedge_order, unwind = engine.orders.all_orders()
    assert (entry.venue, entry.status, entry.filled_size) == (
        "hyperliquid",
        OrderStatus.FILLED,
        D("0.05"),
    )
    assert (hedge_order.venue, hedge_order.size) == ("hyperliquid.hedge", D("0.025"))
    assert (hedge_order.status, hedge_order.reason) == (OrderStatus.REJECTED, NO_MARGIN)
    assert unwind.reduce_only
    assert unwind.status is OrderStatus.FILLED
    assert unwind.size == D("0.05")
    assert slot.leg.size == 0
    group = engine.hedges.groups["pair"]
    assert group.leg.size == 0
    assert group.state.value == "flat"
    # The wire: main buy, hedge sell (refused), main reduce-only sell — nothing else.
    assert [(o["b"], o["s"], o["r"]) for o in wire.orders()] == [
        (True, "0.05", False),
        (False, "0.025", False),
        (False, "0.05", True),
    ]
    # Journaled: the protocol steps, in order, and a critical risk event naming the reason.
    steps = journal.group_events(group.group_id)
    assert [s.step for s in steps] == ["hedge_sent", "hedge_incomplete", "unwind", "in_balance"]
    assert [s.data["state"] for s in steps] == ["hedging", "hedging", "unwinding", "flat"]
    assert steps[1].data["reason"] == NO_MARGIN
    assert not any(s.data["state"] == "hedged" for s in steps)
    [risk] = journal.risk_events(run_id)
    assert (risk.kind, risk.severity, risk.venue) == ("hedge_failed", "critical", "hyperliquid")
    assert NO_MARGIN in risk.message
    assert "unwinding" in risk.message
    journaled = {o.client_order_id: o.status for o in journal.orders(run_id)}
    assert journaled == {o.client_order_id: o.status for o in engine.orders.all_orders()}


# ---- 8. lot size ---------------------------------------------------------------------------------


@pytest.mark.shared  # reads real recordings from ../shared
def test_size_rounding_to_zero_is_refused(
    registry: Any, wire: Any, hl_clock: Any, hl_cassettes: Path, journal: Journal, tmp_path: Path
) -> None:
    """Original failure: a hard-coded lot size rounded order sizes to zero and sent them anyway."""
    real_meta = hl_cassettes / "tests" / "cassettes" / "info_test" / "test_get_info.yaml"
    btc = next(a for a in recorded_body(real_meta)["universe"] if a["name"] == "BTC")
    lot = D(10) ** -btc["szDecimals"]  # 0.00001 BTC: this asset's lot, from the recorded meta
    run_id = journal.start_run("live", [], {})
    venue = make_test_exchange(hl_clock, network="mainnet")
    with play(real_meta):
        asyncio.run(venue.markets())
    plan = compile_one(
        registry,
        """
        strategy "tiny" {
            market BTC-USD on hyperliquid
            timeframe 1m
            enter long when close > close[1]
            size fixed_usd(0.25 USD)
            leverage 5x
        }
        """,
    )
    engine, [slot] = build_engine(
        registry, {"hyperliquid": venue}, [plan], run_id=run_id, journal=journal
    )
    assert slot.instrument.lot_size != lot  # a placeholder until the venue's markets are bound

    async def scenario() -> None:
        # Only the start-up requests are recorded: an order (or a book for pricing one) would
        # find no answer and fail inside the adapter.
        with play(cassette("start_btc_5x_mainnet")):
            await engine.start()
            wire.clear()
            await close_bar(engine, 0, 30_000.0)
            await close_bar(engine, 1, 30_001.0)  # 0.25 USD / 30001 = 0.0000083 BTC < one lot

    asyncio.run(scenario())
    assert slot.instrument.lot_size == lot
    assert wire.sent == []
    assert engine.orders.all_orders() == []
    assert engine.events.signals == engine.events.signals_ignored == 1
    exported = tmp_path / "signals.csv"
    journal.export_csv("signals", exported, run_id)
    [signal] = list(csv.DictReader(exported.open()))
    assert signal["direction"] == "long"
    assert signal["accepted"].lower() in ("false", "0")
    reason = signal["decision_reason"]
    assert reason.startswith("sizer fixed_usd: ")
    assert "rounds to 0" in reason
    assert f"lot size {lot}" in reason


# ---- 9. validation and the book a price came from ----------------------------------------------


def test_order_validation_runs_on_cached_and_uncached_book_paths(
    registry: Any, wire: Any, hl_clock: Any
) -> None:
    """Original failure (the sibling market maker): only the cached-book path validated orders;
    the fresh-book path skipped validation, errored, and no order was placed for days.

    Here one path prices orders off a book: the Hyperliquid adapter's market orders, which fetch
    a fresh l2Book for every order (streamed books reach event handlers only; nothing caches
    them for pricing). Limit orders use no book. So the test shows (a) validation gives the same
    answer whichever source the book came from, and (b) on the engine, a refusal on the
    fresh-book path is a rejected order with the reason, and both paths go on placing orders.
    """
    venue = hyperliquid(hl_clock)
    market = venue._require_symbols().market("ETH-USD")

    # (a) The same book, from REST (l2Book) and from the websocket (an l2Book push).
    with play(cassette("l2book_eth")):
        rest_book = asyncio.run(venue.order_book("ETH-USD"))
    streamed: list[VenueEvent] = []

    async def collect(event: VenueEvent) -> None:
        streamed.append(event)

    translator = StreamTranslator(
        venue=venue.name,
        account=venue.account_label,
        symbols=venue._require_symbols,
        ids=venue.ids,
        ledger=venue.ledger,
        emit=collect,
        halt=venue.halt,
        now=hl_clock.now,
        watermark_ms=0,
    )
    push = {"channel": "l2Book", "data": recorded_body(cassette("l2book_eth"))}
    asyncio.run(translator.handle(push))
    [event] = streamed
    assert event.kind == "book"
    assert event.book is not None
    stream_book = event.book
    assert stream_book.bids == rest_book.bids
    assert stream_book.asks == rest_book.asks
    cases = [
        (Side.BUY, D("0.004"), None),  # 0.004 x 2525.2 = 10.10 USD: valid
        (Side.SELL, D("0.004"), "under the minimum 10 USD"),  # 0.004 x 2474.9 = 9.90 USD
        (Side.BUY, D("0.00405"), "not a multiple of the lot 0.0001"),
        (Side.SELL, D("0.0041"), None),  # 0.0041 x 2474.9 = 10.15 USD: valid
    ]
    for side, size, refusal in cases:
        outcomes: list[tuple[str, Any]] = []
        for book in (rest_book, stream_book):
            order = Order(
                client_order_id="c-9",
                venue="hyperliquid",
                symbol="ETH-USD",
                side=side,
                type=OrderType.MARKET,
                tif=TimeInForce.IOC,
                size=size,
                leverage=D(10),
            )
            try:
                prepared = prepare_order(order, market, book=book, slippage=D("0.01"))
            except ModelError as exc:
                outcomes.append(("refused", str(exc)))
            else:
                outcomes.append(("sent", (prepared.size, prepared.price)))
        assert outcomes[0] == outcomes[1], (side, size)
        if refusal is None:
            price = "2525.2" if side is Side.BUY else "2474.9"  # best ask / bid -+ 1 %, on tick
            assert outcomes[0] == ("sent", (size, D(price)))
        else:
            assert outcomes[0][0] == "refused"
            assert refusal in outcomes[0][1]

    # (b) The engine: market sells (book-priced) and post-only limit buys (no book).
    plans = [
        compile_one(
            registry,
            """
            strategy "taker" {
                market ETH-USD on hyperliquid
                timeframe 1m
                enter short when close < close[1]
                size fixed_units(0.004)
                leverage 10x
            }
            """,
        ),
        compile_one(
            registry,
            """
            strategy "maker" {
                market ETH-USD on hyperliquid
                timeframe 1m
                enter long when close > close[1] at limit close * (1 - 0.1%) post_only
                size fixed_usd(20 USD)
                leverage 10x
            }
            """,
        ),
    ]
    engine, [taker, maker] = build_engine(registry, {"hyperliquid": venue}, plans)

    async def scenario() -> None:
        with play(cassette("start_eth_10x_two_strategies")):
            await engine.start()
        await close_bar(engine, 0, 2600.0)
        wire.clear()
        with play(cassette("book_priced_and_limit_orders")):
            await close_bar(engine, 1, 2500.0)  # taker sells: the fresh book says 9.90 USD
            await close_bar(engine, 2, 2700.0)  # maker bids below the close
            await close_bar(engine, 3, 2650.0)  # taker sells again: 10.49 USD off the book

    asyncio.run(scenario())
    refused, quote, sold = engine.orders.all_orders()
    assert (refused.strategy, refused.status) == ("taker", OrderStatus.REJECTED)
    assert refused.reason is not None
    assert refused.reason.startswith("not sent: order value 9.90 USD")
    assert (quote.strategy, quote.status, quote.tif) == (
        "maker",
        OrderStatus.ACCEPTED,
        TimeInForce.ALO,
    )
    assert (sold.strategy, sold.status, sold.filled_size) == (
        "taker",
        OrderStatus.FILLED,
        D("0.004"),
    )
    assert wire.kinds() == [
        "l2Book",  # bar 1: priced, validated, refused: no order action
        "exchange:order",  # bar 2: the limit buy, no book needed
        "l2Book",
        "exchange:order",  # bar 3: the market sell
        "userFillsByTime",
    ]
    limit_wire, market_wire = wire.orders()
    assert (limit_wire["b"], limit_wire["s"], limit_wire["t"]) == (
        True,
        "0.0074",  # 20 USD / 2697.3 = 0.00741…, down to the lot 0.0001
        {"limit": {"tif": "Alo"}},
    )
    assert (market_wire["b"], market_wire["s"], market_wire["p"]) == (False, "0.004", "2623.4")
    assert (taker.leg.size, maker.leg.size) == (D("-0.004"), 0)
    assert not taker.busy  # the refused order did not leave the strategy stuck


# ---- 10. paper equity ----------------------------------------------------------------------------


@pytest.mark.shared  # reads real recordings from ../shared
def test_paper_equity_comes_from_the_simulated_account(
    registry: Any, wire: Any, hl_clock: Any, hl_cassettes: Path, journal: Journal, tmp_path: Path
) -> None:
    """Original failure (the sibling): a paper run showed the exchange account's balance as its
    equity instead of the simulated account's.

    Composed from the runtime's own parts (paper venues, observers, account list) and the engine,
    with a Hyperliquid adapter connected for market data: ``Runtime.run()``'s live-candle feed
    was not complete when this was written. The loop below is the runtime's per-bar step.
    """
    info = hl_cassettes / "tests" / "cassettes" / "info_test"
    candles_cassette = info / "test_get_candles_snapshot.yaml"
    state_cassette = info / "test_get_user_state.yaml"
    exchange_value = D(recorded_body(state_cassette)["marginSummary"]["accountValue"])
    rows = recorded_body(candles_cassette)
    # The market-data connection: real meta, real kPEPE 1h candles, and a real account that
    # holds 1182.31 USD, which any code asking this adapter for an account would be given.
    recorded = merged_cassette(
        tmp_path / "hyperliquid.yaml", (candles_cassette, None), (state_cassette, None)
    )
    data = make_test_exchange(hl_clock, network="mainnet", account_address=USER_STATE_ADDRESS)
    first, last = rows[0]["t"], rows[-1]["t"]
    with replay_vcr().use_cassette(str(recorded), allow_playback_repeats=True):
        asyncio.run(data.connect())
        assert asyncio.run(data.account()).equity == exchange_value
        candles = asyncio.run(
            data.candles("kPEPE-USD", "1h", from_millis(first), from_millis(last + 3_600_000))
        )
        instrument = next(i for i in asyncio.run(data.instruments()) if i.symbol == "kPEPE-USD")
    assert len(candles) == len(rows) == 24
    wire.clear()

    plan = compile_one(
        registry,
        """
        strategy "paper_pepe" {
            market kPEPE-USD on hyperliquid
            timeframe 1h
            enter long when close > close[1]
            exit when bars_held >= 2
            size fixed_usd(200 USD)
            leverage 5x
        }
        """,
    )
    options = RunOptions(mode="paper", equity=D(10_000), state_dir=tmp_path / "state")
    paper = open_paper_venues([plan], StateDir(tmp_path / "state"), registry, options)
    assert list(paper) == ["hyperliquid"]  # the paper account carries the venue's name
    [market] = feed_markets([plan])
    paper["hyperliquid"].add_market(
        instrument.model_copy(update={"venue": "hyperliquid"}), timeframe=market.timeframe
    )
    run_id = journal.start_run("paper", [], {"feed": "hyperliquid"})
    observers = Observers.open(
        run_id=run_id,
        journal=journal,
        log_dir=tmp_path / "_logs",
        log_format="json",
        log_level="INFO",
        metrics_on=False,
        metrics_host=None,
        metrics_port=None,
        balance_interval_ms=0,
    )
    engine, [slot] = build_engine(
        registry,
        dict(paper),
        [plan],
        run_id=run_id,
        mode="paper",
        journal=journal,
        plugins=[plugin for _, plugin in observers.plugins()],
        start_ms=first,
    )
    clock = engine.clock
    assert isinstance(clock, SimulatedClock)
    step = 3_600_000

    async def run() -> None:
        await engine.start()
        observers.accounts(account_list(paper), clock.now_ms(), force=True)
        venue = paper["hyperliquid"]
        for index, candle in enumerate(candles):
            ts = to_millis(candle.timestamp)
            o, h, lo, c, v = (
                float(x)
                for x in (candle.open, candle.high, candle.low, candle.close, candle.volume)
            )
            clock.set_ms(max(ts, clock.now_ms()))
            opened = venue.on_bar_open(market.symbol, ts, o, h, lo, c, v)
            if opened:
                await engine.handle_events(opened)
            closed = venue.on_bar_close(market.symbol)
            if closed:
                await engine.handle_events(closed)
            clock.set_ms(ts + step)
            engine.accounting.set_mark_float("hyperliquid", market.symbol, c)
            await engine.on_clock()
            await engine.on_bar_close(slot, index, ts + step, (o, h, lo, c, v))
            observers.accounts(account_list(paper), ts + step)

    try:
        asyncio.run(run())
        exposition = observers.metrics.exposition().decode()
    finally:
        observers.close()
        paper["hyperliquid"].log.close()
    simulated = paper["hyperliquid"].account_state()
    assert simulated.simulated
    assert engine.orders.fills, "the strategy never traded; the equity would be trivially 10000"
    assert simulated.equity != D(10_000)
    assert "clearinghouseState" not in wire.kinds()  # the exchange's account was never read
    # The engine's equity is the simulated account's.
    assert engine.equity() == pytest.approx(simulated.equity, abs=D("0.000001"))
    # balance.log: every snapshot is the simulated account, ending at its equity.
    snapshots = [
        json.loads(line) for line in (tmp_path / "_logs" / "balance.log").read_text().splitlines()
    ]
    assert len(snapshots) == len(candles) + 1
    assert {(s["venue"], s["simulated"]) for s in snapshots} == {("hyperliquid", True)}
    assert D(snapshots[0]["equity"]) == D(10_000)
    assert D(snapshots[-1]["equity"]) == simulated.equity
    assert all(D(s["equity"]) != exchange_value for s in snapshots)
    # The journal's balances: the same snapshots.
    exported = tmp_path / "balances.csv"
    journal.export_csv("balances", exported, run_id)
    balances = list(csv.DictReader(exported.open()))
    assert [D(b["equity"]) for b in balances] == [D(s["equity"]) for s in snapshots]
    assert {b["simulated"].lower() for b in balances} <= {"true", "1"}
    # Metrics: one account_balance series, labelled simulated, at the simulated equity.
    series = [
        line
        for line in exposition.splitlines()
        if line.startswith("spark_stacker_account_balance{")
    ]
    assert len(series) == 1, series
    labels, value = series[0].rsplit(" ", 1)
    assert 'simulated="true"' in labels
    assert 'venue="hyperliquid"' in labels
    assert float(value) == pytest.approx(float(simulated.equity))
