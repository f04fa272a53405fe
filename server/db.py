"""Engine and sessions: built from the settings on demand (never at import), one per app."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()

# SQLSTATEs on PostgreSQL and message fragments on SQLite that mean "run the transaction again".
_RETRY_PG = {"40001", "40P01", "55P03"}
_RETRY_SQLITE = ("database is locked", "database table is locked")


def normalise_url(url: str) -> str:
    """Pick the psycopg 3 driver for a bare ``postgresql://`` URL (SQLAlchemy's default would be psycopg2)."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and ``BEGIN IMMEDIATE`` for writers."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pool_pre_ping: a round trip per request; a connection lost to a restart fails one request and is dropped.
        return create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, pool_recycle=3600)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
        # Transactions are begun by the "begin" hook below, not by pysqlite's implicit BEGIN, so that writers
        # can take the write lock up front: a deferred BEGIN that later upgrades fails at once with "database is
        # locked" under WAL instead of waiting for the busy timeout.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # noqa: ANN001 - Connection
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def write_lock(engine: Engine) -> threading.Lock | nullcontext:
    """The in-process writer lock of a SQLite engine (a no-op context for other databases).

    SQLite admits one writer at a time; when threads contend for it, its busy handler sleeps in growing steps
    (up to 100 ms) and an unlucky writer can wait seconds. Queueing the process's writers on a lock first
    hands the database over without sleeping; other processes are still held off by the busy timeout.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(engine, threading.Lock())


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def writer(session: Session) -> Session:
    """Mark ``session`` as a writer before its first statement (``BEGIN IMMEDIATE`` on SQLite; no-op elsewhere)."""
    session.connection(execution_options={"sqlite_immediate": True})
    return session


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock, serialization failure or lock time-out that a fresh transaction may pass."""
    if not isinstance(exc, DBAPIError) or isinstance(exc, IntegrityError):
        return False
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in _RETRY_PG:
        return True
    return any(m in str(exc.orig) for m in _RETRY_SQLITE)


def run_in_transaction(factory: sessionmaker[Session], fn: Callable[[Session], T], *, attempts: int = 5) -> T:
    """Run ``fn`` in a fresh writer transaction, committing on success and retrying transient conflicts."""
    lock = write_lock(factory.kw["bind"])
    for attempt in range(attempts):
        with lock, factory() as session:
            try:
                writer(session)
                result = fn(session)
                session.commit()
                return result
            except DBAPIError as exc:
                session.rollback()
                if attempt == attempts - 1 or not is_retryable(exc):
                    raise
        time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")
