"""Fixtures for the Hyperliquid adapter: blocked network, cassette replay, a fake clock.

Every test here runs with the network blocked except loopback (pytest-recording's guard), and
replays cassettes with ``record_mode="none"``: a request no cassette answers fails the test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_recording import network
from sparkstacker_plugins.exchanges.hyperliquid.testing import (
    TEST_AGENT_KEY,
    TEST_MASTER,
    FakeClock,
    make_test_exchange,
    replay_vcr,
)

REPO = Path(__file__).resolve().parents[4]
OWN_CASSETTES = REPO / "tests" / "cassettes" / "hyperliquid_exchange"
MASTER = TEST_MASTER
AGENT_KEY = TEST_AGENT_KEY


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    """``--block-network`` semantics for every test in this folder (loopback allowed)."""
    with network.blocking_context(allowed_hosts=["127.0.0.1", "localhost", "::1"]):
        yield


@pytest.fixture(autouse=True)
def _no_credentials_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests build settings explicitly; a developer's environment or .env must not leak in."""
    import os

    for name in list(os.environ):
        if name.startswith("SPARKSTACKER_HYPERLIQUID_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Replay:
    """vcrpy with a matcher on method, host, path and the request's ``type`` / action type.

    ``sent`` holds the JSON bodies the adapter really sent, in order (for wire assertions),
    captured at ``requests.Session.send`` (one entry per HTTP request, above vcrpy).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import requests

        self.sent: list[dict[str, Any]] = []
        self.vcr = replay_vcr()
        original = requests.Session.send

        def send(session: Any, request: Any, **kwargs: Any) -> Any:
            body = request.body or b"{}"
            self.sent.append(json.loads(body.decode() if isinstance(body, bytes) else body))
            return original(session, request, **kwargs)

        monkeypatch.setattr(requests.Session, "send", send)

    def __call__(self, path: Path, **kwargs: Any) -> Any:
        return self.vcr.use_cassette(str(path), **kwargs)

    def actions(self) -> list[dict[str, Any]]:
        return [body["action"] for body in self.sent if "action" in body]

    def types(self) -> list[str]:
        return [
            f"exchange:{body['action']['type']}" if "action" in body else body["type"]
            for body in self.sent
        ]


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


def cassette_body(path: Path, index: int = -1) -> Any:
    """The JSON body of one recorded response, read independently of the adapter."""
    data = yaml.safe_load(path.read_text())
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


@pytest.fixture
def body() -> Callable[..., Any]:
    return cassette_body


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
