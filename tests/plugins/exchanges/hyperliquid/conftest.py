"""Fixtures for the Hyperliquid adapter: blocked network, cassette replay, a fake clock.

Every test here runs with the network blocked except loopback (pytest-recording's guard), and
replays cassettes with ``record_mode="none"``: a request no cassette answers fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sparkstacker_plugins.exchanges.hyperliquid.testing import (
    TEST_AGENT_KEY,
    TEST_MASTER,
    FakeClock,
    SentBodies,
    make_test_exchange,
    recorded_body,
    replay_vcr,
)

REPO = Path(__file__).resolve().parents[4]
OWN_CASSETTES = REPO / "tests" / "cassettes" / "hyperliquid_exchange"
MASTER = TEST_MASTER
AGENT_KEY = TEST_AGENT_KEY


@pytest.fixture(autouse=True)
def _offline(offline_hyperliquid: None) -> None:
    """Every test in this folder: network blocked but loopback, no Hyperliquid env settings."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Replay(SentBodies):
    """vcrpy with a matcher on method, host, path and the request's ``type`` / action type.

    ``sent`` holds the JSON bodies the adapter really sent, in order (for wire assertions).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(monkeypatch)
        self.vcr = replay_vcr()

    def __call__(self, path: Path, **kwargs: Any) -> Any:
        return self.vcr.use_cassette(str(path), **kwargs)


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch) -> Replay:
    return Replay(monkeypatch)


@pytest.fixture
def own() -> Callable[[str], Path]:
    def path(name: str) -> Path:
        found = OWN_CASSETTES / f"{name}.yaml"
        assert found.is_file(), f"missing hand-written cassette {found}"
        return found

    return path


@pytest.fixture
def real(hl_cassettes: Path) -> Callable[[str], Path]:
    def path(name: str) -> Path:
        if name.startswith(("_history/", "api/")):
            return hl_cassettes / name
        return hl_cassettes / "tests" / "cassettes" / "info_test" / name

    return path


@pytest.fixture
def body() -> Callable[..., Any]:
    return recorded_body


@pytest.fixture
def make_exchange(clock: FakeClock) -> Callable[..., Any]:
    """A HyperliquidExchange with a fake clock, its own limiter and fast retries."""

    def make(name: str = "hyperliquid", **overrides: Any) -> Any:
        return make_test_exchange(clock, name, **overrides)

    return make


@pytest.fixture
def testnet_exchange(make_exchange: Callable[..., Any], replay: Replay, own: Callable[[str], Path]):  # type: ignore[no-untyped-def]
    """A testnet exchange whose markets were loaded from the hand-written testnet meta."""
    exchange = make_exchange()
    with replay(own("meta_testnet")):
        asyncio.run(exchange.markets())
    replay.sent.clear()
    return exchange
