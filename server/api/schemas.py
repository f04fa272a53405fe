"""Response models of the read API (the dashboard's data as JSON); the workers' models are in server.wire."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VersionOut(_Out):
    backend: str
    version: str
    count: int
    first_seen: datetime
    last_seen: datetime


class BucketOut(_Out):
    id: int
    title: str
    kind: str
    stage: str
    status: str
    regression: bool
    reported_url: str | None
    duplicate_of_id: int | None
    count: int
    first_seen: datetime
    last_seen: datetime


class BucketListOut(BaseModel):
    total: int
    page: int
    page_size: int
    buckets: list[BucketOut]


class FindingOut(_Out):
    id: int
    key: str
    bucket_id: int
    campaign_id: str
    worker_id: str
    seed: int
    tensorsmith_version: str
    backend: str
    backend_version: str
    backend_config: dict[str, Any]
    kind: str
    stage: str
    title: str
    alt_titles: list[str]
    error_log: str
    op_types: list[str]
    diffs: list[dict[str, Any]]
    meta: dict[str, Any]
    is_sample: bool
    found_at: datetime | None
    created_at: datetime


class EventOut(_Out):
    at: datetime
    author: str
    action: str
    detail: str


class BucketDetailOut(BaseModel):
    bucket: BucketOut
    titles: list[str]
    versions: list[VersionOut]
    days: list[tuple[date, int]]
    samples: list[FindingOut]
    recent: list[FindingOut]
    events: list[EventOut]
