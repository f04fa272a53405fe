"""The Alembic migrations create exactly the models' schema, on both databases, and undo cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from server.db import make_engine
from server.migrate import downgrade, upgrade
from server.models import Base


def _diff(url: str) -> list:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()


def test_migrations_match_the_models(database_url: str) -> None:
    assert _diff(database_url) == []


def test_upgrade_is_idempotent_and_downgrade_drops_everything(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'fresh' / 'db.sqlite3'}"  # the folder is made on demand
    upgrade(url)
    upgrade(url)
    engine = make_engine(url, pool_size=1)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    downgrade(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
