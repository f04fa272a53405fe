"""Alembic environment: the URL comes from the caller (``server.migrate``) or TENSORSMITH_SERVER_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context

from server.db import make_engine
from server.models import Base
from server.settings import DEFAULT_DATABASE_URL

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(
        "TENSORSMITH_SERVER_DATABASE_URL", DEFAULT_DATABASE_URL
    )
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection) -> None:  # noqa: ANN001 - Connection
    # render_as_batch: SQLite alters tables by copying them, so later migrations work on both databases.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
