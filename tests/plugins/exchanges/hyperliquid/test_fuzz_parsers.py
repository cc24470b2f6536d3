"""Fuzz: mutated real responses are parsed or refused with ExchangeFormatError — nothing else.

Mutations of one node of a real answer: drop a key, null it, change its type, add an unknown key,
turn number strings into floats/ints and numbers into strings, NaN, absurd magnitudes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sparkstacker.errors import ExchangeFormatError
from sparkstacker_plugins.exchanges.hyperliquid import parsing, responses
from sparkstacker_plugins.exchanges.hyperliquid.streams import (
    FillLedger,
    OrderIds,
    StreamTranslator,
)
from sparkstacker_plugins.exchanges.hyperliquid.symbols import SymbolMap

pytestmark = pytest.mark.shared
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


def _swap_number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return 12345
        return int(number) if number.is_integer() else number
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


MUTATIONS: dict[str, Callable[[Any], Any]] = {
    "null": lambda v: None,
    "number_swap": _swap_number,
    "empty_object": lambda v: {},
    "empty_list": lambda v: [],
    "text": lambda v: "garbage",
    "bool": lambda v: True,
    "negative": lambda v: -1,
    "nan": lambda v: "NaN",
    "huge": lambda v: "1e400",
    "float_nan": lambda v: float("nan"),
}


def mutate(data: Any, index: int, kind: str) -> Any:
    mutated = copy.deepcopy(data)
    all_paths = paths(mutated)
    path = all_paths[index % len(all_paths)]
    if not path:
        return MUTATIONS[kind](mutated) if kind not in ("drop", "extra") else mutated
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if kind == "drop":
        if isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
    elif kind == "extra":
        target = parent[last]
        if isinstance(target, dict):
            target["unexpectedNewField"] = {"nested": [1, "x"]}
        else:
            parent[last] = [target, target] if isinstance(parent, list) else target
    else:
        parent[last] = MUTATIONS[kind](parent[last])
    return mutated


KINDS = st.sampled_from(["drop", "extra", *MUTATIONS])
INDEX = st.integers(min_value=0, max_value=10_000)


def only_format_errors(parse: Callable[[Any], Any], data: Any) -> None:
    """Parsed, or refused with a format error that names where; any other exception fails."""
    problem: ExchangeFormatError | None = None
    try:
        parse(data)
    except ExchangeFormatError as exc:
        problem = exc
    if problem is not None:
        assert problem.endpoint
        assert isinstance(problem.path, str)


@pytest.fixture(scope="module")
def raw(hl_cassettes: Path) -> dict[str, Any]:
    import json

    import yaml

    def load(name: str) -> Any:
        path = hl_cassettes / "tests" / "cassettes" / "info_test" / name
        data = yaml.safe_load(path.read_text())
        return json.loads(data["interactions"][-1]["response"]["body"]["string"])

    return {
        "meta": load("test_get_info.yaml"),
        "book": load("test_get_l2_snapshot.yaml"),
        "state": load("test_get_user_state.yaml"),
        "fills": load("test_get_user_fills.yaml")[:12],
        "open": load("test_get_open_orders.yaml")[:8],
        "frontend": load("test_get_frontend_open_orders.yaml"),
        "history": load("test_historical_orders.yaml"),
        "candles": load("test_get_candles_snapshot.yaml")[:6],
        "funding": load("test_get_funding_history[1684811870000].yaml")[:8],
        "mids": load("test_get_all_mids.yaml"),
    }


@pytest.fixture(scope="module")
def symbols(raw: dict[str, Any]) -> SymbolMap:
    return SymbolMap.build(parsing.parse_meta(raw["meta"]))


PARSERS: dict[str, Callable[[SymbolMap], Callable[[Any], Any]]] = {
    "meta": lambda s: lambda d: SymbolMap.build(parsing.parse_meta(d)),
    "book": lambda s: lambda d: parsing.parse_book(d, s, venue="hyperliquid"),
    "state": lambda s: (
        lambda d: parsing.parse_account(d, s, venue="hyperliquid", account="main", now=NOW)
    ),
    "fills": lambda s: (
        lambda d: parsing.aggregate_fills(parsing.parse_fills(d, s, venue="hyperliquid"))
    ),
    "open": lambda s: (
        lambda d: parsing.parse_open_orders(d, s, venue="hyperliquid", endpoint="openOrders")
    ),
    "frontend": lambda s: lambda d: parsing.parse_open_orders(d, s, venue="hyperliquid"),
    "history": lambda s: (
        lambda d: [
            parsing.record_outcome(r, endpoint="historicalOrders")
            for r in parsing.parse_historical_orders(d)
        ]
    ),
    "candles": lambda s: lambda d: parsing.parse_candles(d, "kPEPE-USD"),
    "funding": lambda s: lambda d: parsing.parse_funding(d, "BTC-USD"),
    "mids": lambda s: lambda d: parsing.parse_all_mids(d),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_unmutated_real_answers_parse(name: str, raw: dict[str, Any], symbols: SymbolMap) -> None:
    PARSERS[name](symbols)(raw[name])


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(index=INDEX, kind=KINDS)
def test_mutated_real_answers_parse_or_raise_format_errors(
    name: str, index: int, kind: str, raw: dict[str, Any], symbols: SymbolMap
) -> None:
    only_format_errors(PARSERS[name](symbols), mutate(raw[name], index, kind))


EXCHANGE_ANSWERS: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    "order": (
        {
            "status": "ok",
            "response": {
                "type": "order",
                "data": {
                    "statuses": [
                        {"resting": {"oid": 77738308}},
                        {"filled": {"totalSz": "0.02", "avgPx": "1891.4", "oid": 77747314}},
                        {"error": "Order could not immediately match. asset=4"},
                        "waitingForFill",
                    ]
                },
            },
        },
        lambda d: responses.order_outcomes(d, "exchange:order", 4),
    ),
    "cancel": (
        {
            "status": "ok",
            "response": {
                "type": "cancel",
                "data": {
                    "statuses": [
                        "success",
                        {"error": "Order was never placed, already canceled, or filled."},
                    ]
                },
            },
        },
        lambda d: responses.cancel_outcomes(d, "exchange:cancel", 2),
    ),
    "default": (
        {"status": "ok", "response": {"type": "default"}},
        lambda d: responses.default_outcome(d, "exchange:updateLeverage"),
    ),
    "refused": (
        {"status": "err", "response": "Invalid leverage value"},
        lambda d: responses.default_outcome(d, "exchange:updateLeverage"),
    ),
    "order_status": (
        {
            "status": "order",
            "order": {
                "order": {
                    "coin": "ETH",
                    "side": "A",
                    "limitPx": "2412.7",
                    "sz": "0.0",
                    "oid": 1,
                    "timestamp": 1724361546645,
                    "triggerCondition": "N/A",
                    "isTrigger": False,
                    "triggerPx": "0.0",
                    "children": [],
                    "isPositionTpsl": False,
                    "reduceOnly": True,
                    "orderType": "Market",
                    "origSz": "0.0076",
                    "tif": "FrontendMarket",
                    "cloid": None,
                },
                "status": "filled",
                "statusTimestamp": 1724361546645,
            },
        },
        lambda d: [
            parsing.record_outcome(r, endpoint="orderStatus")
            for r in [parsing.parse_order_status(d)]
            if r is not None
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(EXCHANGE_ANSWERS))
@FUZZ
@given(index=INDEX, kind=KINDS)
def test_mutated_exchange_answers_parse_or_raise_format_errors(
    name: str, index: int, kind: str
) -> None:
    data, parse = EXCHANGE_ANSWERS[name]
    only_format_errors(parse, mutate(data, index, kind))


def test_documented_exchange_answers_parse() -> None:
    for data, parse in EXCHANGE_ANSWERS.values():
        parse(data)
    outcomes = responses.order_outcomes(EXCHANGE_ANSWERS["order"][0], "exchange:order", 4)
    assert [o.kind for o in outcomes] == ["resting", "filled", "error", "waiting"]  # type: ignore[union-attr]


WS_MESSAGES = [
    {
        "channel": "orderUpdates",
        "data": [
            {
                "order": {
                    "coin": "ETH",
                    "side": "B",
                    "limitPx": "2500.0",
                    "sz": "0.0",
                    "oid": 9,
                    "timestamp": 1767225600000,
                    "origSz": "0.1",
                },
                "status": "filled",
                "statusTimestamp": 1767225600000,
            }
        ],
    },
    {
        "channel": "userFills",
        "data": {
            "isSnapshot": True,
            "user": "0x" + "ab" * 20,
            "fills": [
                {
                    "coin": "ETH",
                    "px": "2500.0",
                    "sz": "0.1",
                    "side": "B",
                    "time": 1767225600001,
                    "oid": 9,
                    "crossed": True,
                    "fee": "0.1",
                    "hash": "0x1",
                    "tid": 5,
                }
            ],
        },
    },
    {
        "channel": "user",
        "data": {
            "funding": {
                "time": 1,
                "coin": "ETH",
                "usdc": "-0.1",
                "szi": "1.0",
                "fundingRate": "0.0001",
            }
        },
    },
    {"channel": "user", "data": {"nonUserCancel": [{"coin": "ETH", "oid": 9}]}},
    {
        "channel": "candle",
        "data": {
            "t": 1,
            "T": 60000,
            "s": "ETH",
            "i": "1m",
            "o": "1",
            "c": "1",
            "h": "1",
            "l": "1",
            "v": "0",
            "n": 1,
        },
    },
]


@FUZZ
@given(which=st.integers(0, len(WS_MESSAGES) - 1), index=INDEX, kind=KINDS)
def test_mutated_websocket_pushes_become_events_or_a_halt(
    which: int, index: int, kind: str, symbols: SymbolMap
) -> None:
    import asyncio

    halts: list[str] = []
    events: list[Any] = []

    async def emit(event: Any) -> None:
        events.append(event)

    translator = StreamTranslator(
        venue="hyperliquid",
        account="main",
        symbols=lambda: symbols,
        ids=OrderIds(),
        ledger=FillLedger(),
        emit=emit,
        halt=halts.append,
        now=lambda: NOW,
        watermark_ms=0,
    )
    message = mutate(WS_MESSAGES[which], index, kind)
    if not isinstance(message, dict):
        return
    asyncio.run(translator.handle(message))
    assert (len(halts) == 1) == any(e.kind == "halted" for e in events)
