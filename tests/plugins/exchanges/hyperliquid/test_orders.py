"""Orders through the real SDK over HTTP replayed from hand-written /exchange cassettes.

Production failures covered: IOC orders partly filled or rejected and counted as done, and sizes
rounded to zero because the lot size was hard-coded.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import pytest
from sparkstacker.errors import (
    ExchangeError,
    ExchangeFormatError,
    OrderRejected,
    OrderSizeError,
    RateLimited,
)
from sparkstacker.model import (
    Liquidity,
    MarginMode,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from sparkstacker_plugins.exchanges.hyperliquid.ids import cloid_for
from sparkstacker_plugins.exchanges.hyperliquid.venue_errors import VenueHalted

D = Decimal


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def order(**fields: Any) -> Order:
    base: dict[str, Any] = {
        "client_order_id": "c-1",
        "venue": "hyperliquid",
        "symbol": "ETH-USD",
        "side": Side.BUY,
        "price": D("2400"),
        "size": D("0.01"),
        "leverage": D(3),
    }
    base.update(fields)
    return Order(**base)


@pytest.fixture
def ready(testnet_exchange: Any, replay: Any, own: Callable[[str], Path]) -> Any:
    """Testnet exchange with ETH leverage set (and verified) to 3x isolated."""
    with replay(own("leverage_flat")):
        run(testnet_exchange.set_leverage("ETH-USD", D(3), MarginMode.ISOLATED))
    replay.sent.clear()
    return testnet_exchange


def test_cloid_is_sixteen_bytes_derived_from_the_client_order_id() -> None:
    expected = "0x" + hashlib.sha256(b"sparkstacker/hyperliquid/cloid/v1:c-1").hexdigest()[:32]
    assert cloid_for("c-1") == expected
    assert len(expected) == 34
    assert cloid_for("c-1") == cloid_for("c-1") != cloid_for("c-2")


def test_gtc_limit_order_rests_and_the_wire_carries_asset_cloid_and_strings(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("order_gtc_resting")):
        report = run(ready.submit(order()))
    assert report.status is OrderStatus.ACCEPTED
    assert report.venue_order_id == "77738308"
    assert report.reason == "resting"
    assert report.filled_size == 0
    [action] = replay.actions()
    assert action == {
        "type": "order",
        "orders": [
            {
                "a": 4,
                "b": True,
                "p": "2400",
                "s": "0.01",
                "r": False,
                "t": {"limit": {"tif": "Gtc"}},
                "c": cloid_for("c-1"),
            }
        ],
        "grouping": "na",
    }
    body = replay.sent[0]
    assert body["vaultAddress"] is None
    assert body["expiresAfter"] > body["nonce"]


def test_partial_ioc_fill_is_cancelled_with_the_filled_size_never_filled(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    market = order(client_order_id="c-ioc", type=OrderType.MARKET, price=None, size=D("0.05"))
    with replay(own("order_ioc_partial")):
        report = run(ready.submit(market))
    assert report.status is OrderStatus.CANCELLED
    assert report.status is not OrderStatus.FILLED
    assert report.filled_size == D("0.02") < market.size
    assert report.reason is not None
    assert report.reason.startswith("IOC remainder cancelled")
    assert [f.fill_id for f in report.fills] == ["900001", "900002"]  # only this oid, by time
    assert sum(f.size for f in report.fills) == report.filled_size
    assert report.avg_fill_price == (D("2500.1") + D("2500.6")) / 2
    assert all(f.client_order_id == "c-ioc" for f in report.fills)
    # Market = IOC at best ask + 1%, rounded up to 5 significant figures.
    bound = (D("2500.1") * D("1.01")).quantize(D("0.1"), rounding=ROUND_CEILING)
    [action] = replay.actions()
    assert action["orders"][0]["t"] == {"limit": {"tif": "Ioc"}}
    assert D(action["orders"][0]["p"]) == bound == D("2525.2")
    assert replay.kinds() == ["l2Book", "exchange:order", "userFillsByTime"]
    # The engine's state machine accepts it: cancelled with fills, outcome "partial".
    applied = market.transition(OrderStatus.SUBMITTED)
    for fill in report.fills:
        applied = applied.apply_fill(fill)
    applied = applied.transition(report.status, reason=report.reason)
    assert applied.outcome == "partial"


def test_full_ioc_fill_is_filled_with_its_fills(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    ioc = order(client_order_id="c-ioc-full", price=D("2501"), size=D("0.02"), tif=TimeInForce.IOC)
    with replay(own("order_ioc_filled")):
        report = run(ready.submit(ioc))
    assert report.status is OrderStatus.FILLED
    assert report.filled_size == D("0.02")
    [fill] = report.fills
    assert fill.client_order_id == "c-ioc-full"
    assert fill.liquidity is Liquidity.TAKER
    assert ready.ledger.filled("77747315") == D("0.02")  # the stream will not deliver it again


def test_ioc_that_matches_nothing_is_rejected_with_the_venue_words(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    ioc = order(client_order_id="c-ioc-none", price=D("2300"), tif=TimeInForce.IOC)
    with replay(own("order_ioc_no_match")):
        report = run(ready.submit(ioc))
    assert report.status is OrderStatus.REJECTED
    assert report.filled_size == 0
    assert report.reason == "Order could not immediately match against any resting orders. asset=4"


def test_fills_that_trail_the_answer_leave_the_order_open_not_done(
    ready: Any, replay: Any, own: Callable[[str], Path], clock: Any
) -> None:
    ioc = order(client_order_id="c-lag", price=D("2501"), size=D("0.02"), tif=TimeInForce.IOC)
    with replay(own("order_ioc_fills_lag")):
        report = run(ready.submit(ioc))
    assert report.status is OrderStatus.ACCEPTED
    assert not report.status.is_terminal
    assert report.filled_size == 0
    assert "filled 0.02 per the venue" in (report.reason or "")
    assert replay.kinds().count("userFillsByTime") == 3
    assert clock.sleeps[-2:] == [0.25, 0.5]


ORDER_ERRORS = [
    "Price must be divisible by tick size. asset=4",
    "Order must have minimum value of $10. asset=4",
    "Order must have minimum value of 10 USDC. asset=10107",
    "Insufficient margin to place order. asset=4",
    "Reduce only order would increase position. asset=4",
    "Post only order would have immediately matched, bbo was 2499.9@2500.1. asset=4",
    "Order could not immediately match against any resting orders. asset=4",
    "Invalid TP/SL price. asset=4",
    "No liquidity available for market order. asset=4",
    "Order would increase open interest while open interest is capped asset=4",
    "Order rejected due to price more aggressive than oracle while at open interest cap asset=4",
    "Order would increase open interest too quickly asset=4",
    "(Spot-only) Order has insufficient spot balance to trade asset=10107",
    "Order price too far from oracle asset=4",
    "Order would cause position to exceed margin tier limit at current leverage asset=4",
    "Order has invalid size. asset=4",
    "Order has invalid price. asset=4",
    "Order price cannot be more than 80% away from the reference price asset=4",
    "Trading is halted. asset=4",
]


def test_every_per_order_error_is_a_rejection_with_the_venue_words(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    from sparkstacker_plugins.exchanges.hyperliquid.venue_errors import ORDER_ERRORS as KNOWN
    from sparkstacker_plugins.exchanges.hyperliquid.venue_errors import lookup

    with replay(own("order_errors")):
        for i, text in enumerate(ORDER_ERRORS):
            report = run(ready.submit(order(client_order_id=f"c-err-{i}")))
            assert report.status is OrderStatus.REJECTED
            assert report.reason == text
            assert lookup(text, KNOWN) is not None, f"undocumented in venue_errors: {text}"
    assert ready.halted is None


def test_action_level_refusal_rejects_the_order_with_the_venue_words(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("order_action_refused")):
        report = run(ready.submit(order()))
    assert report.status is OrderStatus.REJECTED
    assert report.reason == "Signed action over weight limit of 200."


@pytest.mark.parametrize(
    ("cassette", "words"),
    [("order_bad_signer", "User or API Wallet"), ("order_unfunded", "Must deposit")],
)
def test_credential_refusals_halt_the_venue(
    ready: Any, replay: Any, own: Callable[[str], Path], cassette: str, words: str
) -> None:
    with replay(own(cassette)), pytest.raises(VenueHalted, match=words):
        run(ready.submit(order()))
    assert ready.halted is not None
    assert words in ready.halted
    replay.sent.clear()
    with pytest.raises(VenueHalted, match="trading is halted"):
        run(ready.submit(order(client_order_id="c-after")))
    assert replay.sent == []
    ready.resume()
    assert ready.halted is None


def test_address_rate_limit_backs_off_and_retries(
    ready: Any, replay: Any, own: Callable[[str], Path], clock: Any
) -> None:
    with replay(own("order_address_limit_then_ok")):
        report = run(ready.submit(order()))
    assert report.status is OrderStatus.ACCEPTED
    assert report.venue_order_id == "77738309"
    assert ready.limiter.throttled_total == 2
    assert clock.sleeps[:2] == [0.5, 1.0]
    # the same cloid every time: a retry can never become a second order
    assert {a["orders"][0]["c"] for a in replay.actions()} == {cloid_for("c-1")}


def test_address_rate_limit_exhausted_raises_rate_limited_not_a_crash_loop(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("order_address_limit_exhausted")), pytest.raises(RateLimited):
        run(ready.submit(order()))
    assert len(replay.actions()) == 3
    assert ready.limiter.throttled_total == 3
    assert ready.halted is None


def test_http_429_is_rate_limited_and_retried(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("order_http_429_then_ok")):
        report = run(ready.submit(order()))
    assert report.status is OrderStatus.ACCEPTED
    assert ready.limiter.throttled_total == 1


@pytest.mark.parametrize(
    ("cassette", "path"),
    [("order_not_json", ""), ("order_too_many_statuses", "response.data.statuses")],
)
def test_answers_that_are_not_understood_halt_trading(
    ready: Any, replay: Any, own: Callable[[str], Path], cassette: str, path: str
) -> None:
    with replay(own(cassette)), pytest.raises(ExchangeFormatError) as info:
        run(ready.submit(order()))
    assert info.value.endpoint == "exchange:order"
    assert info.value.path == path
    with pytest.raises(VenueHalted, match="unexpected response from exchange:order"):
        run(ready.submit(order(client_order_id="c-2")))


def test_bracket_entry_with_tp_and_sl_in_one_action(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    entry = order(client_order_id="br-entry", price=D("2400"), size=D("0.01"))
    take = order(
        client_order_id="br-tp",
        side=Side.SELL,
        type=OrderType.TAKE_PROFIT,
        trigger_price=D("2600"),
        price=None,
        reduce_only=True,
    )
    stop = order(
        client_order_id="br-sl",
        side=Side.SELL,
        type=OrderType.STOP,
        trigger_price=D("2300"),
        price=None,
        reduce_only=True,
    )
    with replay(own("order_bracket")):
        reports = run(ready.submit_many([entry, take, stop], grouping="normalTpsl"))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED] * 3
    assert [r.reason for r in reports] == ["resting", "waitingForFill", "waitingForFill"]
    [action] = replay.actions()
    assert action["grouping"] == "normalTpsl"
    tp, sl = action["orders"][1]["t"]["trigger"], action["orders"][2]["t"]["trigger"]
    assert tp == {"isMarket": True, "triggerPx": "2600", "tpsl": "tp"}
    assert sl == {"isMarket": True, "triggerPx": "2300", "tpsl": "sl"}
    # A market trigger's limit is the worst price: trigger - 1% for a sell, rounded down.
    assert D(action["orders"][2]["p"]) == D("2277")
    assert [o["c"] for o in action["orders"]] == [
        cloid_for(c) for c in ("br-entry", "br-tp", "br-sl")
    ]


def test_reduce_only_close_under_10_dollars_is_allowed_only_for_the_whole_position(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    close = order(side=Side.SELL, price=D("2500"), size=D("0.003"), reduce_only=True)
    with replay(own("order_reduce_only_small_close")):
        report = run(ready.submit(close))
    assert report.status is OrderStatus.ACCEPTED
    replay.sent.clear()
    partial = order(side=Side.SELL, price=D("2500"), size=D("0.003"), reduce_only=True)
    with (
        replay(own("order_reduce_only_small_partial")),
        pytest.raises(OrderSizeError, match="under the minimum 10 USD"),
    ):
        run(ready.submit(partial))
    assert replay.kinds() == ["clearinghouseState"]  # no order was sent


@pytest.mark.parametrize(
    ("size", "match"),
    [
        ("0.00004", "rounds to 0 at lot size 0.0001"),  # the old hard-coded lot bug
        ("0.01234", "not a multiple of the lot 0.0001"),
        ("0.003", "under the minimum 10 USD"),
    ],
)
def test_sizes_that_round_to_zero_or_break_the_rules_never_leave(
    ready: Any, replay: Any, size: str, match: str
) -> None:
    with pytest.raises(OrderSizeError, match=match):
        run(ready.submit(order(size=D(size))))
    assert replay.sent == []


def test_lot_size_comes_from_each_assets_sz_decimals(ready: Any, replay: Any) -> None:
    """kPEPE (szDecimals 0) has lot 1: 0.5 is refused, never sent as "0"."""
    instruments = {i.symbol: i for i in run(ready.instruments())}
    assert instruments["kPEPE-USD"].lot_size == D(1)
    assert instruments["BTC-USD"].lot_size == D("0.00001")
    with pytest.raises(OrderSizeError, match="rounds to 0"):
        run(ready.submit(order(symbol="kPEPE-USD", size=D("0.5"), reduce_only=True)))
    assert replay.sent == []


def test_orders_the_venue_cannot_take_are_refused_locally(ready: Any, replay: Any) -> None:
    with pytest.raises(OrderRejected, match="no fill-or-kill"):
        run(ready.submit(order(tif=TimeInForce.FOK)))
    with pytest.raises(OrderRejected, match="delisted"):
        run(ready.submit(order(symbol="OLD-USD", size=D("10"), price=D("2"))))
    with pytest.raises(ExchangeError, match="is for venue 'sim'"):
        run(ready.submit(order(venue="sim")))
    with pytest.raises(ExchangeError, match=r"unknown market 'ETH-PERP'.*did you mean"):
        run(ready.submit(order(symbol="ETH-PERP")))
    assert replay.sent == []


def test_limit_prices_round_passively(ready: Any, replay: Any, own: Callable[[str], Path]) -> None:
    with replay(own("order_gtc_resting")):
        run(ready.submit(order(price=D("2400.123"))))
    assert replay.actions()[0]["orders"][0]["p"] == "2400.1"  # buy: down, never above the limit


# ---- cancel / modify / status ------------------------------------------------------------------


def test_cancel_by_oid_is_confirmed_by_status(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    resting = order(venue_order_id="77738308", status=OrderStatus.ACCEPTED)
    with replay(own("cancel_ok")):
        report = run(ready.cancel(resting))
    assert report.status is OrderStatus.CANCELLED
    assert report.filled_size == 0
    assert replay.actions() == [{"type": "cancel", "cancels": [{"a": 4, "o": 77738308}]}]
    assert replay.sent[1] == {
        "type": "orderStatus",
        "user": "0x" + "ab" * 20,
        "oid": cloid_for("c-1"),
    }


def test_cancel_by_cloid_when_the_oid_is_unknown(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    pending = order(client_order_id="c-cancel-cloid")
    with replay(own("cancel_by_cloid_ok")):
        report = run(ready.cancel(pending))
    assert report.status is OrderStatus.CANCELLED
    assert report.venue_order_id == "77738308"
    assert replay.actions() == [
        {"type": "cancelByCloid", "cancels": [{"asset": 4, "cloid": cloid_for("c-cancel-cloid")}]}
    ]


def test_cancel_of_a_filled_order_reports_the_fill_not_a_cancel(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    resting = order(venue_order_id="77738308", status=OrderStatus.ACCEPTED)
    with replay(own("cancel_already_filled")):
        report = run(ready.cancel(resting))
    assert report.status is OrderStatus.FILLED
    assert report.filled_size == D("0.01")
    assert [f.size for f in report.fills] == [D("0.006"), D("0.004")]
    assert all(f.liquidity is Liquidity.MAKER and f.fee < 0 for f in report.fills)  # rebates
    assert "Order was never placed, already canceled, or filled." in (report.reason or "")


def test_cancel_of_an_order_the_venue_never_saw(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("cancel_unknown")):
        report = run(ready.cancel(order(client_order_id="c-ghost")))
    assert report.status is OrderStatus.REJECTED
    assert report.reason is not None
    assert report.reason.startswith("order unknown to the venue")


def test_modify_keeps_the_cloid_and_reports_the_new_oid(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    resting = order(venue_order_id="77738308", status=OrderStatus.ACCEPTED)
    with replay(own("modify_ok")):
        report = run(ready.modify(resting, price=D("2390")))
    assert report.status is OrderStatus.ACCEPTED
    assert report.venue_order_id == "77738999"
    [action] = replay.actions()
    assert action["type"] == "batchModify"
    [modify] = action["modifies"]
    assert modify["oid"] == 77738308
    assert modify["order"]["p"] == "2390"
    assert modify["order"]["c"] == cloid_for("c-1")
    with replay(own("modify_error")), pytest.raises(OrderRejected, match="never placed"):
        run(ready.modify(resting, price=D("2380")))


def test_order_status_unknown_and_partially_filled_ioc(
    ready: Any, replay: Any, own: Callable[[str], Path]
) -> None:
    with replay(own("order_status_unknown")):
        assert run(ready.order_status("c-nothing", "ETH-USD")) is None
    with replay(own("order_status_partial_ioc")):
        report = run(ready.order_status("c-ioc", "ETH-USD"))
    assert report.status is OrderStatus.CANCELLED
    assert report.filled_size == D("0.02")
    assert report.reason == "IOC remainder cancelled (canceled)"
    assert len(report.fills) == 2


def test_schedule_cancel_and_isolated_margin(
    ready: Any, replay: Any, own: Callable[[str], Path], clock: Any
) -> None:
    from datetime import timedelta

    with replay(own("schedule_cancel")):
        run(ready.schedule_cancel(clock.now() + timedelta(seconds=30)))
    with replay(own("isolated_margin")):
        run(ready.update_isolated_margin("ETH-USD", D("1.5")))
    schedule, margin = replay.actions()
    assert schedule == {"type": "scheduleCancel", "time": 1767225630000}
    assert margin == {"type": "updateIsolatedMargin", "asset": 4, "isBuy": True, "ntli": 1_500_000}
