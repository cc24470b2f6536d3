"""Alembic environment for the journal.

Migrations run on the connection :func:`sparkstacker.journal.migrate.upgrade` hands over (inside
its transaction), or on ``-x url=…`` when run from the alembic command line.
"""

from __future__ import annotations

from alembic import context
from sparkstacker.journal.database import make_engine, parse_url
from sparkstacker.journal.schema import Base
from sqlalchemy import Connection


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database with: alembic -x url=sqlite:///spark_stacker.db …")
    engine = make_engine(parse_url(url), "full")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the journal's migrations run online only")
run_migrations_online()
