"""Test helpers for code that drives the Hyperliquid adapter offline (engine regression suites).

* :class:`FakeClock` — deterministic time; ``sleep`` advances it instead of waiting;
* :func:`replay_vcr` — a vcrpy ``VCR`` that replays cassettes with ``record_mode="none"`` and
  matches on method, host, path and the body's ``type`` (``/info``) or ``action.type``
  (``/exchange``): the SDK's bodies carry nonces and signatures that change on every run;
* :func:`make_test_exchange` — an adapter instance on that clock with its own limiter;
* :class:`SentBodies` — the JSON bodies the adapter really sent, captured above the replayer;
* :func:`recorded_body` and :func:`openapi_example` — expected answers read from the raw YAML
  of a cassette or an OpenAPI spec, independently of the adapter.

The hand-written ``/exchange`` cassettes live in ``tests/cassettes/hyperliquid_exchange`` and
the real ``/info`` recordings in ``../shared/hyperliquid/cassettes``. vcrpy, requests and
PyYAML are imported only by the helpers that use them.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sparkstacker_plugins.exchanges.hyperliquid.settings import HyperliquidSettings

TEST_AGENT_KEY = "0x" + "11" * 32  # a throwaway key: never funded, never approved anywhere
TEST_MASTER = "0x" + "ab" * 20
TEST_START = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    """Deterministic clock for the adapter (``AdapterClock``); records every sleep."""

    def __init__(self, start: datetime = TEST_START) -> None:
        self._now = start
        self._mono = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


def request_kind(request: Any) -> tuple[str, str | None]:
    """(``info`` | ``exchange``, request type) of a vcrpy request."""
    body = request.body or b"{}"
    data = json.loads(body.decode() if isinstance(body, bytes) else body)
    if request.path.endswith("/exchange"):
        action = data.get("action") if isinstance(data, dict) else None
        return "exchange", action.get("type") if isinstance(action, dict) else None
    return "info", data.get("type") if isinstance(data, dict) else None


def _match_kind(live: Any, recorded: Any) -> None:
    if request_kind(live) != request_kind(recorded):
        raise AssertionError(f"{request_kind(live)} != {request_kind(recorded)}")


def replay_vcr() -> Any:
    """A vcrpy VCR that only replays (a request no cassette answers raises)."""
    import vcr

    replayer = vcr.VCR(record_mode="none", match_on=["method", "scheme", "host", "path", "hl_kind"])
    replayer.register_matcher("hl_kind", _match_kind)
    return replayer


def make_test_exchange(clock: FakeClock, name: str = "hyperliquid", **overrides: Any) -> Any:
    """A testnet adapter with a throwaway agent key, ``clock`` and a private limiter."""
    from sparkstacker_plugins.exchanges.hyperliquid.exchange import HyperliquidExchange
    from sparkstacker_plugins.exchanges.hyperliquid.rate_limit import WeightLimiter
    from sparkstacker_plugins.exchanges.hyperliquid.retry import RetryPolicy

    fields: dict[str, Any] = {
        "network": "testnet",
        "private_key": SecretStr(TEST_AGENT_KEY),
        "account_address": TEST_MASTER,
        "streaming": False,
        "max_retries": 3,
    }
    fields.update(overrides)
    settings = HyperliquidSettings(**fields)
    return HyperliquidExchange(
        name,
        settings,
        limiter=WeightLimiter(clock=clock),
        clock=clock,
        retry=RetryPolicy(attempts=settings.max_retries, base_delay=0.5),
    )


def body_kind(body: dict[str, Any]) -> str:
    """``l2Book``, ``exchange:order``, … for one request body."""
    return f"exchange:{body['action']['type']}" if "action" in body else str(body.get("type"))


class SentBodies:
    """The JSON bodies the adapter really sent, in order: one per HTTP request, captured at
    ``requests.Session.send`` (above vcrpy) through ``monkeypatch`` (pytest's fixture)."""

    def __init__(self, monkeypatch: Any) -> None:
        import requests

        self.sent: list[dict[str, Any]] = []
        original = requests.Session.send

        def send(session: Any, request: Any, **kwargs: Any) -> Any:
            body = request.body or b"{}"
            self.sent.append(json.loads(body.decode() if isinstance(body, bytes) else body))
            return original(session, request, **kwargs)

        monkeypatch.setattr(requests.Session, "send", send)

    def kinds(self) -> list[str]:
        return [body_kind(body) for body in self.sent]

    def actions(self) -> list[dict[str, Any]]:
        return [body["action"] for body in self.sent if "action" in body]

    def clear(self) -> None:
        self.sent.clear()


def recorded_body(path: Path, index: int = -1) -> Any:
    """The JSON body of one recorded answer in the cassette at ``path``."""
    import yaml

    data = yaml.safe_load(path.read_text())
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


def openapi_example(path: Path) -> Any:
    """The 200 example body of an OpenAPI spec file (wherever the spec put it)."""
    import yaml

    spec = yaml.safe_load(path.read_text())
    content = spec["paths"]["/info"]["post"]["responses"]["200"]["content"]["application/json"]

    def find(node: Any) -> Any:
        if isinstance(node, dict):
            if "example" in node:
                return node["example"]
            for value in node.values():
                found = find(value)
                if found is not None:
                    return found
        return None

    return find(content)
