"""Dependencies of the routes: settings, database sessions, worker token, signed-in user, CSRF check."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Form, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker

from server.db import run_in_transaction
from server.settings import Settings

T = TypeVar("T")
CSRF_KEY = "csrf"
USER_KEY = "user"


class NeedLogin(Exception):
    """Raised by a dependency when a page needs a signed-in user; answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


class Transactor:
    """Runs a function in a writer transaction with retries (a fresh session per attempt)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    def run(self, fn: Callable[[Session], T]) -> T:
        return run_in_transaction(self._factory, fn)


def get_transactor(request: Request) -> Transactor:
    return Transactor(request.app.state.sessions)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
TxDep = Annotated[Transactor, Depends(get_transactor)]


def _bearer_ok(request: Request, settings: Settings) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = settings.worker_token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


def require_worker(request: Request, settings: SettingsDep) -> None:
    """Write endpoints of the workers: ``Authorization: Bearer <worker token>``."""
    if not _bearer_ok(request, settings):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a valid worker token is required", headers={"WWW-Authenticate": "Bearer"}
        )


def current_user(request: Request) -> str | None:
    return request.session.get(USER_KEY)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); forms send it back in a hidden field."""
    token = request.session.get(CSRF_KEY)
    if not token:
        token = request.session[CSRF_KEY] = secrets.token_urlsafe(24)
    return token


def require_reader_api(request: Request, settings: SettingsDep) -> None:
    """Read API: public, or a signed-in user, or a worker token, as the settings say."""
    if settings.public_read or current_user(request) or _bearer_ok(request, settings):
        return
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in or send a worker token to read")


def require_reader_page(request: Request, settings: SettingsDep) -> None:
    """Dashboard pages: public, or redirect to the sign-in page."""
    if not (settings.public_read or current_user(request)):
        raise NeedLogin(str(request.url.path))


def require_user(request: Request) -> str:
    """Triage actions need a signed-in user (who comes back to the bucket page after signing in)."""
    user = current_user(request)
    if user is None:
        bucket_id = request.path_params.get("bucket_id")
        raise NeedLogin(f"/buckets/{bucket_id}" if bucket_id is not None else "/buckets")
    return user


def check_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Forms that change state must echo the session's token (the cookie alone proves nothing)."""
    expected = request.session.get(CSRF_KEY, "")
    if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token: reload the page and try again")


UserDep = Annotated[str, Depends(require_user)]
