"""Journal fixtures: every journal test runs on SQLite and on PostgreSQL.

PostgreSQL tests get a database of their own (CREATE DATABASE through an AUTOCOMMIT connection
to the ``test`` database, dropped afterwards), so they never see each other's rows.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sparkstacker.journal import Journal
from sparkstacker.journal.database import parse_url
from sparkstacker.model import Fill, Order, OrderType, Side

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _create_database(base_url: str, *, template: str | None = None) -> str:
    name = f"ssj_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(parse_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        admin.dispose()
    return name


def _drop_database(base_url: str, name: str) -> None:
    admin = sa.create_engine(parse_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # FORCE ends connections a failed test left open (slower, so only when needed).
            try:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            except sa.exc.OperationalError:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _url_for(base_url: str, name: str) -> str:
    return parse_url(base_url).set(database=name).render_as_string(hide_password=False)


def _fresh_postgres_database(base_url: str, template: str | None = None) -> Iterator[str]:
    name = _create_database(base_url, template=template)
    try:
        yield _url_for(base_url, name)
    finally:
        _drop_database(base_url, name)


@pytest.fixture(scope="session")
def pg_template(postgres_url: str) -> Iterator[str]:
    """A database migrated once per session; tests get copies (CREATE DATABASE … TEMPLATE)."""
    name = _create_database(postgres_url)
    try:
        Journal(_url_for(postgres_url, name)).close()
        yield name
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("journal-template") / "journal.db"
    Journal(f"sqlite:///{path}").close()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to a migrated, empty journal: a SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "journal.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    request.applymarker(pytest.mark.postgres)
    base = request.getfixturevalue("postgres_url")
    yield from _fresh_postgres_database(base, template=request.getfixturevalue("pg_template"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to a database without any table (the journal must migrate it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    request.applymarker(pytest.mark.postgres)
    yield from _fresh_postgres_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database only (for PostgreSQL-specific checks)."""
    yield from _fresh_postgres_database(postgres_url)


@pytest.fixture
def journal(journal_url: str) -> Iterator[Journal]:
    """A journal with ``durability="fast"``: same code, no fsync per commit, so tests stay quick.

    The durability tests use ``full`` (the default) in their child processes.
    """
    j = Journal(journal_url, durability="fast")
    yield j
    j.close()


@pytest.fixture
def run_id(journal: Journal) -> str:
    return journal.start_run("paper", [], {"venue": "sim"})


@pytest.fixture
def make_order() -> Callable[..., Order]:
    def make(cloid: str = "c1", **overrides: Any) -> Order:
        fields: dict[str, Any] = {
            "client_order_id": cloid,
            "venue": "sim",
            "symbol": "ETH-USD",
            "side": Side.BUY,
            "type": OrderType.LIMIT,
            "price": Decimal("2500.5"),
            "size": Decimal("1.25"),
            "created_at": T0,
        }
        fields.update(overrides)
        return Order(**fields)

    return make


@pytest.fixture
def make_fill() -> Callable[..., Fill]:
    def make(fill_id: str = "f1", **overrides: Any) -> Fill:
        fields: dict[str, Any] = {
            "fill_id": fill_id,
            "client_order_id": "c1",
            "venue": "sim",
            "symbol": "ETH-USD",
            "side": Side.BUY,
            "price": Decimal("2500"),
            "size": Decimal("1"),
            "fee": Decimal("0.5"),
            "timestamp": T0 + timedelta(seconds=1),
        }
        fields.update(overrides)
        return Fill(**fields)

    return make
