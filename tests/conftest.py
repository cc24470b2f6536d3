"""Shared fixtures: recorded data from ../shared, a fresh registry per test, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sparkstacker.model import Order

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPARKSTACKER_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def _hermetic_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the built-in plugins, whatever else is installed in the environment."""
    monkeypatch.setenv("SPARKSTACKER_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` (recorded API responses and market data); skips cleanly when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"recorded data folder {SHARED} is not present")
    return SHARED


@pytest.fixture(scope="session")
def marketdata(shared_dir: Path) -> Path:
    path = shared_dir / "marketdata"
    if not path.is_dir():
        pytest.skip("../shared/marketdata is not present")
    return path


@pytest.fixture(scope="session")
def hl_cassettes(shared_dir: Path) -> Path:
    path = shared_dir / "hyperliquid" / "cassettes"
    if not path.is_dir():
        pytest.skip("../shared/hyperliquid/cassettes is not present")
    return path


@pytest.fixture
def offline_hyperliquid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """``--block-network`` semantics (loopback allowed), and Hyperliquid adapters built only from
    explicit settings: no ``SPARKSTACKER_HYPERLIQUID_*`` from the environment or a ``.env``."""
    from pytest_recording import network

    for name in list(os.environ):
        if name.startswith("SPARKSTACKER_HYPERLIQUID_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with network.blocking_context(allowed_hosts=["127.0.0.1", "localhost", "::1"]):
        yield


@pytest.fixture
def registry():  # type: ignore[no-untyped-def]
    """A registry built from a fresh plugin manager with the built-in plugins."""
    from sparkstacker.registry import Registry

    return Registry.load(autoload=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The PostgreSQL URL from SPARKSTACKER_TEST_POSTGRES_URL.

    Unset: the test is skipped (a user's machine without PostgreSQL). Set but unreachable: the
    test fails, because CI exports the URL and the database must be there.
    """
    url = os.environ.get("SPARKSTACKER_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SPARKSTACKER_TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture
def order_factory() -> Callable[..., Any]:
    """Build a valid limit order, overriding any field."""
    from sparkstacker.model import Order, OrderType, Side

    def make(size: str = "1", **overrides: object) -> Order:
        fields: dict[str, object] = {
            "client_order_id": "c1",
            "venue": "sim",
            "symbol": "ETH-USD",
            "side": Side.BUY,
            "type": OrderType.LIMIT,
            "price": Decimal("2500"),
            "size": Decimal(size),
        }
        fields.update(overrides)
        return Order(**fields)  # type: ignore[arg-type]

    return make
