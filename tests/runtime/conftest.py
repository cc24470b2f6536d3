"""Fixtures for the paper/live runtime tests: a sample-data store, journals on both databases.

Helpers live in ``runkit`` (child processes, venue and journal views, the invariants).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data store holding the synthetic sample (generated once per session)."""
    from sparkstacker.data.sample import ensure_sample
    from sparkstacker.data.store import CandleStore

    root = tmp_path_factory.mktemp("store")
    ensure_sample(CandleStore(root), "hyperliquid", ("ETH-USD",))
    return root


def _admin(base_url: str):  # type: ignore[no-untyped-def]
    import sqlalchemy as sa
    from sparkstacker.journal.database import parse_url

    return sa.create_engine(parse_url(base_url), isolation_level="AUTOCOMMIT")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A journal URL: a SQLite file in the test's folder, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'spark_stacker.db'}"
        return
    request.applymarker(pytest.mark.postgres)
    from sparkstacker.journal.database import parse_url

    base = request.getfixturevalue("postgres_url")
    name = f"ssrt_{uuid.uuid4().hex[:16]}"
    admin = _admin(base)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    try:
        yield parse_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = _admin(base)
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()
