"""``serve``: migrate the database to the newest schema, then run the app under uvicorn (``tensorsmith serve``)."""

from __future__ import annotations

import logging

from server.main import create_app
from server.migrate import upgrade
from server.settings import Settings

log = logging.getLogger("tensorsmith.server")


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: str | None = None,
    *,
    worker_token: str | None = None,
    admin_user: str | None = None,
    admin_password: str | None = None,
    secret_key: str | None = None,
    public_read: bool | None = None,
    log_level: str = "info",
) -> None:
    """Run the service until interrupted; ``None`` arguments come from TENSORSMITH_SERVER_* or the defaults.

    Secrets that are given nowhere are generated and printed once, so a local campaign can use them.
    """
    import uvicorn  # here, not at import: the campaign imports server.client without the server's stack

    given = dict(
        database_url=database_url,
        worker_token=worker_token,
        admin_user=admin_user,
        admin_password=admin_password,
        secret_key=secret_key,
        public_read=public_read,
    )
    settings = Settings(**{k: v for k, v in given.items() if v is not None})
    upgrade(settings.database_url)
    logging.basicConfig(level=log_level.upper(), format="%(message)s")
    # print only secrets we generated: supplied ones must not end up in logs (e.g. `docker logs`)
    if "worker_token" not in settings.model_fields_set:
        log.warning("worker token: %s", settings.worker_token.get_secret_value())
    if "admin_password" not in settings.model_fields_set:
        log.warning("admin user %r, password: %s", settings.admin_user, settings.admin_password.get_secret_value())
    log.warning("tensorsmith server on http://%s:%d (database %s)", host, port, settings.database_url.split("@")[-1])
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)
