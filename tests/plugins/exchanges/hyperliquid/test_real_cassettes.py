"""The adapter against real recorded Hyperliquid /info answers (vcrpy replay, network blocked).

Expected values are read from the raw YAML in each test, independently of the adapter.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sparkstacker.errors import ExchangeFormatError, RetryableExchangeError
from sparkstacker.model import Liquidity, MarginMode, OrderStatus, OrderType, Side
from sparkstacker_plugins.exchanges.hyperliquid import parsing
from sparkstacker_plugins.exchanges.hyperliquid.symbols import SymbolMap
from sparkstacker_plugins.exchanges.hyperliquid.testing import openapi_example

pytestmark = pytest.mark.shared
D = Decimal
USER_STATE_ADDRESS = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def mainnet(make_exchange: Callable[..., Any]) -> Any:
    return make_exchange(network="mainnet", account_address=USER_STATE_ADDRESS)


@pytest.fixture
def loaded(mainnet: Any, replay: Any, real: Callable[[str], Path]) -> Any:
    """Mainnet markets loaded from the recorded meta (test_get_info.yaml)."""
    with replay(real("test_get_info.yaml")):
        run(mainnet.markets())
    replay.sent.clear()
    return mainnet


# ---- meta and instruments ---------------------------------------------------------------------


def test_meta_gives_instruments_with_lot_tick_and_leverage_from_the_recording(
    loaded: Any, real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    universe = body(real("test_get_info.yaml"))["universe"]
    instruments = {i.venue_symbol: i for i in run(loaded.instruments())}
    assert len(instruments) == len(universe) == 28
    for asset in universe:
        inst = instruments[asset["name"]]
        sz = asset["szDecimals"]
        assert inst.symbol == f"{asset['name']}-USD"
        assert inst.lot_size == D(10) ** -sz
        assert inst.tick_size == D(10) ** -(6 - sz)
        assert inst.price_significant_figures == 5
        assert inst.max_leverage == D(asset["maxLeverage"])
        assert inst.min_notional == D(10)
    markets = {m.coin: m for m in run(loaded.markets())}
    # Asset ids are positions in this network's universe: ETH is 1 on mainnet.
    assert markets["ETH"].asset_id == [a["name"] for a in universe].index("ETH") == 1
    assert markets["kPEPE"].instrument.lot_size == D(1)


def test_first_generation_meta_without_max_leverage_is_a_format_error_not_a_guess(
    mainnet: Any, replay: Any, real: Callable[[str], Path]
) -> None:
    with (
        replay(real("_history/e5c9d39/tests/cassettes/test_get_info.yaml")),
        pytest.raises(ExchangeFormatError) as info,
    ):
        run(mainnet.markets())
    assert info.value.endpoint == "meta"
    assert info.value.path == "universe[0].maxLeverage"
    assert mainnet.halted is not None
    assert "maxLeverage" in mainnet.halted


def test_spot_meta_maps_pair_names_and_asset_ids(
    make_exchange: Callable[..., Any],
    replay: Any,
    real: Callable[[str], Path],
    body: Callable[..., Any],
) -> None:
    spot_path = real("_history/d9fefc2/tests/cassettes/info_test/test_spot_asset_ctx.yaml")
    raw = body(spot_path)
    exchange = make_exchange(network="mainnet", include_spot=True)
    with replay(real("test_get_info.yaml")):
        meta_raw = run(exchange.client.fetch_meta())
    with replay(spot_path):
        spot_raw = run(exchange.client.fetch_spot())
    assert [b["type"] for b in replay.sent] == ["meta", "spotMetaAndAssetCtxs"]
    exchange.install_markets(meta_raw, spot_raw)
    markets = {m.coin: m for m in run(exchange.markets())}
    tokens = {t["index"]: t for t in raw[0]["tokens"]}
    hype = next(u for u in raw[0]["universe"] if u["name"] == "@107")
    assert tokens[hype["tokens"][0]]["name"] == "HYPE"
    assert markets["@107"].symbol == "HYPE-USDC"
    assert markets["@107"].asset_id == 10_000 + 107
    assert markets["@107"].instrument.lot_size == D(10) ** -tokens[hype["tokens"][0]]["szDecimals"]
    assert markets["PURR/USDC"].symbol == "PURR-USDC"
    assert markets["PURR/USDC"].asset_id == 10_000
    # the spot price rule allows 8 - szDecimals decimals
    purr_sz = tokens[1]["szDecimals"]
    assert markets["PURR/USDC"].instrument.tick_size == D(10) ** -(8 - purr_sz)
    assert len([m for m in markets.values() if m.is_spot]) == len(raw[0]["universe"]) == 233
    # 249 contexts for 233 pairs: keyed by coin, never zipped by position
    assert len(raw[1]) == 249
    assert exchange._spot_ctx["PURR/USDC"].markPx == D("0.11317")


# ---- order book --------------------------------------------------------------------------------


def test_l2_snapshot_levels_are_bids_then_asks(
    mainnet: Any, replay: Any, real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    raw = body(real("test_get_l2_snapshot.yaml"))
    with replay(real("test_get_l2_snapshot.yaml")):
        book = run(mainnet.order_book("DYDX-USD"))
    assert book.best_bid == D("2.111")
    assert book.best_ask == D("2.1124")
    assert len(book.bids) == len(raw["levels"][0]) == 20
    assert len(book.asks) == len(raw["levels"][1]) == 20
    assert [lv.price for lv in book.bids] == [D(x["px"]) for x in raw["levels"][0]]
    assert [lv.orders for lv in book.asks] == [x["n"] for x in raw["levels"][1]]
    assert book.timestamp.timestamp() * 1000 == raw["time"]


def test_openapi_l2book_example_is_the_bare_list_shape_and_is_refused(
    real: Callable[[str], Path], loaded: Any
) -> None:
    example = openapi_example(real("api/info/l2book.yaml"))
    assert isinstance(example, list)
    assert len(example) == 2
    with pytest.raises(ExchangeFormatError) as info:
        parsing.parse_book(example, loaded._require_symbols(), venue="hyperliquid")
    assert info.value.endpoint == "l2Book"
    assert info.value.path == ""


# ---- user state --------------------------------------------------------------------------------


def test_user_state_gives_twelve_positions_with_coin_size_leverage_and_liquidation(
    mainnet: Any, replay: Any, real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    raw = body(real("test_get_user_state.yaml"))
    with replay(real("test_get_info.yaml")):
        run(mainnet.markets())
    with replay(real("test_get_user_state.yaml")):
        account = run(mainnet.account())
    rows = [item["position"] for item in raw["assetPositions"]]
    assert len(account.positions) == len(rows) == 12
    for position, row in zip(account.positions, rows, strict=True):
        assert position.symbol == f"{row['coin']}-USD"
        assert position.size == D(row["szi"])
        assert position.entry_price == D(row["entryPx"])
        assert position.leverage == D(row["leverage"]["value"]) == D(20)
        assert position.margin_mode is MarginMode(row["leverage"]["type"])
        want_liq = None if row["liquidationPx"] is None else D(row["liquidationPx"])
        assert position.liquidation_price == want_liq
        assert position.unrealized_pnl == D(row["unrealizedPnl"])
    nulls = [r["coin"] for r in rows if r["liquidationPx"] is None]
    assert {"ETH", "MATIC", "SOL"} <= set(nulls)
    assert account.position("BTC-USD").size == D("-0.00785")  # type: ignore[union-attr]
    assert account.equity == D(raw["marginSummary"]["accountValue"])
    assert account.margin_used == D(raw["marginSummary"]["totalMarginUsed"])
    pnl = sum(D(r["unrealizedPnl"]) for r in rows)
    assert account.collateral == D(raw["marginSummary"]["accountValue"]) - pnl
    assert account.balances[0].available == D(raw["withdrawable"])


def test_openapi_user_state_example_with_nan_liquidation_price(
    real: Callable[[str], Path], loaded: Any
) -> None:
    example = openapi_example(real("api/info/userstate.yaml"))
    assert example["assetPositions"][0]["position"]["liquidationPx"] == "NaN"
    account = parsing.parse_account(
        example,
        loaded._require_symbols(),
        venue="hyperliquid",
        account="main",
        now=loaded.clock.now(),
    )
    [position] = account.positions
    assert position.liquidation_price is None
    assert position.entry_price is None
    assert position.is_flat
    assert account.equity == 0


# ---- fills -------------------------------------------------------------------------------------


def test_user_fills_aggregate_per_order_like_an_independent_sum(
    loaded: Any, replay: Any, real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    raw = body(real("test_get_user_fills.yaml"))
    exchange = loaded
    with replay(real("test_get_user_fills.yaml")):
        fills = run(exchange.fills())
    assert len(fills) == len(raw) == 500
    # Independent aggregation straight from the YAML rows.
    size: dict[int, Decimal] = defaultdict(Decimal)
    value: dict[int, Decimal] = defaultdict(Decimal)
    fees: dict[int, Decimal] = defaultdict(Decimal)
    count: dict[int, int] = defaultdict(int)
    for row in raw:
        size[row["oid"]] += D(row["sz"])
        value[row["oid"]] += D(row["sz"]) * D(row["px"])
        fees[row["oid"]] += D(row["fee"])
        count[row["oid"]] += 1
    totals = parsing.aggregate_fills(fills)
    assert set(totals) == {str(oid) for oid in size}
    multi = [oid for oid, n in count.items() if n > 1]
    assert len(multi) == 60
    assert max(count.values()) == 7
    for oid in size:
        t = totals[str(oid)]
        assert t.count == count[oid]
        assert t.size == size[oid]
        assert t.avg_price == value[oid] / size[oid]
        assert t.fees == fees[oid]
    taker = {f.fill_id for f in fills if f.liquidity is Liquidity.TAKER}
    assert len(taker) == sum(1 for r in raw if r["crossed"])
    assert len({f.fill_id for f in fills}) == 500  # no tid in 2023 rows: ids still unique
    sui = next(f for f in fills if f.venue_order_id == "189324432")
    assert sui.symbol == "SUI-USD"
    assert sui.side is Side.SELL
    assert sui.closed_pnl == D("-0.25686")


def test_negative_fee_is_a_rebate_and_liquidation_rows_are_flagged(loaded: Any) -> None:
    row = {
        "coin": "ETH",
        "px": "2500.0",
        "sz": "0.1",
        "side": "B",
        "time": 1767225600000,
        "oid": 7,
        "crossed": False,
        "fee": "-0.005",
        "hash": "0x00",
        "tid": 99,
        "liquidation": {"liquidatedUser": "0x" + "12" * 20, "markPx": "2499.0", "method": "market"},
    }
    [fill] = parsing.parse_fills([row], loaded._require_symbols(), venue="hyperliquid")
    assert fill.fee == D("-0.005")
    assert fill.liquidity is Liquidity.MAKER
    assert fill.is_liquidation
    assert fill.fill_id == "99"


# ---- open orders -------------------------------------------------------------------------------


def test_open_orders_recording(
    loaded: Any, real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    raw = body(real("test_get_open_orders.yaml"))
    orders = parsing.parse_open_orders(
        raw, loaded._require_symbols(), venue="hyperliquid", endpoint="openOrders"
    )
    assert len(orders) == len(raw) == 196
    first = orders[0]
    assert first.symbol == "MATIC-USD"
    assert first.side is Side.BUY
    assert first.price == D(raw[0]["limitPx"])
    assert first.size == D(raw[0]["sz"])
    assert first.venue_order_id == str(raw[0]["oid"])
    assert first.client_order_id == "hl-oid-62269971"
    sells = sum(1 for r in raw if r["side"] == "A")
    assert sum(1 for o in orders if o.side is Side.SELL) == sells


def test_frontend_open_orders_flatten_tp_sl_children_once(
    loaded: Any, replay: Any, real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    raw = body(real("test_get_frontend_open_orders.yaml"))
    with replay(real("test_get_frontend_open_orders.yaml")):
        orders = run(loaded.open_orders())
    # Real answer: 3 top-level rows, and the parent repeats the two triggers as children.
    assert len(raw) == 3
    assert len(raw[2]["children"]) == 2
    by_oid = {o.venue_order_id: o for o in orders}
    assert set(by_oid) == {"3184595905", "3184595906", "3184595907"}
    parent = by_oid["3184595905"]
    assert parent.type is OrderType.LIMIT
    assert parent.price == D("10.0")
    assert parent.group_id is None
    stop, take = by_oid["3184595906"], by_oid["3184595907"]
    assert stop.type is OrderType.STOP
    assert stop.trigger_price == D("9.995")
    assert take.type is OrderType.TAKE_PROFIT
    assert take.trigger_price == D("10.004")
    assert stop.reduce_only
    assert take.reduce_only
    assert stop.side is Side.SELL
    assert stop.group_id == take.group_id == "3184595905"
    assert stop.price is None
    assert stop.annotations["limit_px"] == "9.1954"


# ---- history -----------------------------------------------------------------------------------


def test_historical_orders_map_ioc_cancel_rejected_and_canceled(
    real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    raw = body(real("test_historical_orders.yaml"))
    records = parsing.parse_historical_orders(raw)
    outcomes = [parsing.record_outcome(r, endpoint="historicalOrders") for r in records]
    words = [r["status"] for r in raw]
    assert words == ["iocCancelRejected"] * 3 + ["canceled"] * 2
    for (status, filled, reason), word in zip(outcomes, words, strict=True):
        assert reason == word
        assert filled == 0
        assert status is (
            OrderStatus.REJECTED if word == "iocCancelRejected" else OrderStatus.CANCELLED
        )


def test_candles_snapshot_recording(
    loaded: Any, replay: Any, real: Callable[[str], Path], body: Callable[..., Any], clock: Any
) -> None:
    from datetime import UTC, datetime

    path = real("test_get_candles_snapshot.yaml")
    raw = body(path)
    request = yaml.safe_load(path.read_text())["interactions"][-1]["request"]["body"]
    import json

    req = json.loads(request)["req"]
    start = datetime.fromtimestamp(req["startTime"] / 1000, tz=UTC)
    end = datetime.fromtimestamp(req["endTime"] / 1000, tz=UTC)
    clock._now = datetime(2030, 1, 1, tzinfo=UTC)
    with replay(path):
        candles = run(loaded.candles("kPEPE-USD", "1h", start, end))
    # The first recorded candle opens before startTime (it contains it): not in [start, end).
    inside = [r for r in raw if req["startTime"] <= r["t"] < req["endTime"]]
    assert raw[0]["t"] < req["startTime"]
    assert len(inside) == len(raw) - 1 == 23
    assert [c.timestamp.timestamp() * 1000 for c in candles] == [r["t"] for r in inside]
    assert [c.close for c in candles] == [D(r["c"]) for r in inside]
    assert [c.trades for c in candles] == [r["n"] for r in inside]


def test_funding_history_recording(
    loaded: Any, replay: Any, real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    from datetime import UTC, datetime

    path = real("test_get_funding_history[1684811870000].yaml")
    raw = body(path)
    with replay(path):
        rates = run(
            loaded.funding_history(
                "BTC-USD",
                datetime.fromtimestamp(1681923833, tz=UTC),
                datetime.fromtimestamp(1684811870, tz=UTC),
            )
        )
    assert len(rates) == len(raw) == 34
    assert [r.rate for r in rates] == [D(x["fundingRate"]) for x in raw]
    assert rates[0].premium == D("-0.00091334")


def test_long_funding_recording_parses_every_row(
    real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    raw = body(real("test_get_funding_history[None].yaml"))
    rates = parsing.parse_funding(raw, "BTC-USD")
    assert len(rates) == len(raw) == 1038
    gaps = {
        int((b.timestamp - a.timestamp).total_seconds() // 3600)
        for a, b in itertools.pairwise(rates)
    }
    assert {1, 8} <= gaps  # 8-hourly funding switching to hourly in the recording


def test_openapi_candle_asset_ctx_and_mids_examples(
    real: Callable[[str], Path], body: Callable[..., Any]
) -> None:
    candle = openapi_example(real("api/info/candle.yaml"))
    [bar] = parsing.parse_candles(candle, "BTC-USD")
    assert bar.close == D(candle[0]["c"])
    assert bar.volume == D(candle[0]["v"])
    mids = parsing.parse_all_mids(openapi_example(real("api/info/allmids.yaml")))
    assert mids["APE"] == D("4.36255")
    recorded = parsing.parse_all_mids(body(real("test_get_all_mids.yaml")))
    assert len(recorded) == 28
    assert recorded["BTC"] == D("30135.0")
    # The OpenAPI metaAndAssetCtxs example predates maxLeverage: refused, with the path.
    meta, _ = openapi_example(real("api/info/assetctxs.yaml"))
    with pytest.raises(ExchangeFormatError, match=r"universe\[0\]\.maxLeverage"):
        parsing.parse_meta(meta)


def test_symbols_for_unknown_perp_coins_still_map_but_unknown_spot_does_not(loaded: Any) -> None:
    symbols: SymbolMap = loaded._require_symbols()
    assert symbols.symbol_for_coin("NEWCOIN", "userFills", "[0].coin") == "NEWCOIN-USD"
    with pytest.raises(ExchangeFormatError, match="spot coin '@107'"):
        symbols.symbol_for_coin("@107", "userFills", "[0].coin")


# ---- transport ---------------------------------------------------------------------------------


def test_http_500_with_null_body_is_retried_with_backoff_then_raised(
    loaded: Any, replay: Any, real: Callable[[str], Path], clock: Any
) -> None:
    path = real("_history/cf3854e/tests/cassettes/info_test/test_batch_clearinghouse_states.yaml")
    payload = {"type": "batchClearinghouseStates", "users": [USER_STATE_ADDRESS], "dex": ""}
    with replay(path, allow_playback_repeats=True), pytest.raises(RetryableExchangeError) as info:
        run(loaded.client.post_info(payload))
    assert "HTTP 500" in str(info.value)
    assert len(replay.sent) == 3  # max_retries attempts, each replayed the 500
    assert clock.sleeps == [0.5, 1.0]  # exponential backoff between attempts


def test_a_request_outside_the_cassette_fails_the_test(
    loaded: Any, replay: Any, own: Any, make_exchange: Callable[..., Any]
) -> None:
    from vcr.errors import CannotOverwriteExistingCassetteException

    with replay(own("order_gtc_resting")), pytest.raises(CannotOverwriteExistingCassetteException):
        run(loaded.order_book("ETH-USD"))
    # Without a cassette the socket guard refuses the connection: the call fails, never passes.
    remote = make_exchange(api_url="http://203.0.113.7")
    with pytest.raises(RuntimeError, match="Network is disabled"):
        run(remote.markets())
