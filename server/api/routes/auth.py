"""Signing in and out: the admin user from the settings, a signed session cookie, CSRF-checked forms."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from server.api.deps import CSRF_KEY, USER_KEY, SettingsDep, check_csrf

router = APIRouter(tags=["auth"], include_in_schema=False)


def _safe_next(url: str) -> str:
    """Only local paths: an open redirect to another site after sign-in is a phishing aid."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/buckets"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/buckets") -> HTMLResponse:  # noqa: A002 - the query name
    return request.app.state.templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None}
    )


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(
    request: Request,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/buckets",  # noqa: A002
):  # noqa: ANN201 - a redirect or the form again
    user_ok = hmac.compare_digest(username.encode(), settings.admin_user.encode())
    password_ok = hmac.compare_digest(password.encode(), settings.admin_password.get_secret_value().encode())
    if not (user_ok and password_ok):
        context = {"next": _safe_next(next), "error": "wrong user name or password"}
        return request.app.state.templates.TemplateResponse(request, "login.html", context, status_code=401)
    request.session.clear()  # a fresh session (and CSRF token) on sign-in: no session fixation
    request.session[USER_KEY] = settings.admin_user
    request.session[CSRF_KEY] = secrets.token_urlsafe(24)
    return RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/buckets", status.HTTP_303_SEE_OTHER)
