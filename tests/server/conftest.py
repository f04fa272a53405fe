"""Fixtures of the server tests: a migrated SQLite file and a fresh PostgreSQL database per session.

PostgreSQL is the one at TENSORSMITH_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test); the tests
create their own database there and drop it at the end. Where it is unreachable its tests are skipped,
except under CI (CI=true), where that is an error.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from server.db import make_engine  # noqa: E402
from server.main import create_app  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.models import Base  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.server.factory import PASSWORD, SECRET, TOKEN  # noqa: E402

PG_URL = os.environ.get("TENSORSMITH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_engines = {}


def _admin_connect():  # noqa: ANN202
    import psycopg

    return psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'server.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    try:
        admin = _admin_connect()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it means "no PostgreSQL here"
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required under CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable: {exc}")
    name = f"tensorsmith_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        yield url
    finally:
        engine = _engines.pop(url, None)
        if engine is not None:
            engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _engine(url: str):  # noqa: ANN202
    if url not in _engines:
        _engines[url] = make_engine(url, pool_size=1)
    return _engines[url]


def _empty(url: str) -> None:
    """Delete every row (much faster than migrating a new database for each test)."""
    engine = _engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue(f"{request.param}_url")
    _empty(url)
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values = dict(database_url=database_url, worker_token=TOKEN, admin_password=PASSWORD, secret_key=SECRET)
    return Settings(**(values | overrides))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as http:
        yield http


@contextmanager
def live_server(settings: Settings, *, port: int = 0) -> Iterator[str]:
    """A real uvicorn server in a thread on 127.0.0.1 (``port`` 0: any free one); yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
