"""Fixtures for the production-failure regression suite (helpers live in ``regkit``).

Every test here runs with the network blocked except loopback, and replays cassettes with
``record_mode="none"``: a request that no cassette answers raises inside the adapter and fails
the test, so "no order leaves" is enforced by the replayer, not just asserted.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from regkit import Wire  # noqa: E402
from sparkstacker.journal import Journal  # noqa: E402
from sparkstacker_plugins.exchanges.hyperliquid.testing import FakeClock  # noqa: E402


@pytest.fixture(autouse=True)
def _offline(offline_hyperliquid: None) -> None:
    """Every test in this folder: network blocked but loopback, no Hyperliquid env settings."""


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    """Every HTTP request body the adapters send, in order (captured above the replayer)."""
    return Wire(monkeypatch)


@pytest.fixture
def hl_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """A real journal on SQLite in the test's folder."""
    opened = Journal(f"sqlite:///{tmp_path / 'journal.db'}")
    yield opened
    opened.close()
