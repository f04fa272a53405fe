"""The server's one typed settings object; built by the caller and passed to ``create_app(settings)``."""

from __future__ import annotations

import secrets
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///runs/server.sqlite3"
_UNSAFE = {"", "changethis", "changeme", "admin", "password", "secret", "token"}


def _generated() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(24))


class Settings(BaseSettings):
    """Everything the service reads from its environment, validated once.

    Secrets that are not given are generated at random (``serve`` prints them), never a well-known default;
    values from the list of unsafe words are refused. Environment variables use the prefix
    ``TENSORSMITH_SERVER_`` (``TENSORSMITH_SERVER_DATABASE_URL``, ...); explicit arguments win.
    """

    model_config = SettingsConfigDict(env_prefix="TENSORSMITH_SERVER_", extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    worker_token: SecretStr = Field(default_factory=_generated)
    admin_user: str = "admin"
    admin_password: SecretStr = Field(default_factory=_generated)
    secret_key: SecretStr = Field(default_factory=_generated, description="signs the session cookie")
    public_read: bool = Field(default=True, description="dashboard and read API without signing in")
    secure_cookies: bool = Field(default=False, description="session cookie only over HTTPS")
    max_upload_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    samples_per_bucket: int = Field(default=5, ge=1, le=100)
    metadata_log_chars: int = Field(default=2048, ge=0, description="error log kept for findings past the samples")
    worker_alive_s: int = Field(default=60, gt=0, description="a worker is alive if it sent a heartbeat this recently")
    page_size: int = Field(default=50, ge=5, le=500)
    pool_size: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Self:
        for name in ("worker_token", "admin_password", "secret_key"):
            value = getattr(self, name).get_secret_value()
            if value.lower() in _UNSAFE or len(value) < 8:
                raise ValueError(f"{name} is unsafe ({len(value)} characters or a well-known word): set a real one")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
