"""The application factory: ``create_app(settings)`` builds the engine, templates and routes of one app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

import jinja2
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from server.api.deps import NeedLogin, csrf_token, current_user
from server.api.limits import BodyLimit
from server.api.routes import auth, pages, read, triage, workers
from server.db import make_engine, make_sessionmaker
from server.settings import Settings

HERE = Path(__file__).resolve().parent


def _version() -> str:
    try:
        return metadata.version("tensorsmith")
    except metadata.PackageNotFoundError:
        return "unknown"


def _templates(settings: Settings) -> Jinja2Templates:
    # Autoescape every template (not only *.html): everything a worker sends is text to be shown, never markup.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["when"] = lambda t: t.strftime("%Y-%m-%d %H:%M") if isinstance(t, datetime) else "-"
    env.filters["size"] = lambda n: f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"
    env.globals["public_read"] = settings.public_read

    def context(request: Request) -> dict[str, object]:
        return {"user": current_user(request), "csrf_token": csrf_token(request)}

    return Jinja2Templates(env=env, context_processors=[context])


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def create_app(settings: Settings) -> FastAPI:
    """A new app on the database of ``settings``; the schema must exist (``server.migrate.upgrade``)."""
    engine = make_engine(settings.database_url, pool_size=settings.pool_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="tensorsmith bug reports",
        version=_version(),
        description="Findings from fuzz campaigns, deduplicated into buckets by title, and their triage.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.templates = _templates(settings)
    for module in (workers, read, auth, triage, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(NeedLogin)
    async def need_login(_request: Request, exc: NeedLogin) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", 303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if not _wants_html(request):
            return await http_exception_handler(request, exc)
        context = {"code": exc.status_code, "detail": exc.detail}
        return app.state.templates.TemplateResponse(request, "error.html", context, status_code=exc.status_code)

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="tensorsmith_session",
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    return app
