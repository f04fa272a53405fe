"""The one place that knows SQLite and PostgreSQL spell INSERT ... ON CONFLICT with different classes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement


def insert(session: Session, table):  # noqa: ANN001, ANN201 - a mapped class in, a dialect Insert out
    """An INSERT with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` for the session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"database {name!r} is not supported (sqlite, postgresql)")


def later(column: ColumnElement[datetime], value: datetime) -> ColumnElement[datetime]:
    """The later of ``column`` and ``value`` (GREATEST on PostgreSQL, max() on SQLite: one CASE for both)."""
    return case((column < value, value), else_=column)


def earlier(column: ColumnElement[datetime], value: datetime) -> ColumnElement[datetime]:
    return case((column > value, value), else_=column)
