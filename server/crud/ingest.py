"""Ingest of one finding: idempotent on its key, routed to the bucket of its title, race-free.

No step reads a value and writes it back: bucket creation is ``INSERT ... ON CONFLICT DO NOTHING`` on the
unique title, the finding is ``INSERT ... ON CONFLICT DO NOTHING`` on its unique key, counters are updated
in place (``count = count + 1 RETURNING count``) and the returned count decides whether the finding is one
of the bucket's samples (the row lock of that UPDATE orders concurrent ingests of one bucket). Rows are
touched in one order (title, bucket, finding, versions, days, campaign) so concurrent ingests on
PostgreSQL queue on row locks instead of deadlocking; SQLite runs writers one at a time. A duplicate key
found late rolls the whole transaction back. Call it inside ``db.run_in_transaction``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from server.crud.sql import WriteSQL, write_sql
from server.models import MINUTE_SHARDS, as_naive_utc, utcnow
from server.versions import is_newer
from server.wire import FindingIn, Status

MAX_DUPLICATE_HOPS = 8
MAX_CLOCK_SKEW = timedelta(days=30)
CAMPAIGN_TOUCH = timedelta(seconds=5)  # how stale a campaign's last-seen time may get


@dataclass(frozen=True)
class IngestResult:
    """What happened to one upload."""

    finding_id: int
    bucket_id: int
    duplicate: bool
    new_bucket: bool = False
    sampled: bool = False
    reopened: bool = False


@dataclass(frozen=True)
class IngestLimits:
    samples_per_bucket: int = 5
    metadata_log_chars: int = 2048


def seen_time(found_at: datetime | None, now: datetime) -> datetime:
    """When the finding happened: the client's time if plausible (spooled uploads arrive late), else now."""
    if found_at is None:
        return now
    t = as_naive_utc(found_at)
    return now if t > now or t < now - MAX_CLOCK_SKEW else t


def ingest(
    session: Session, f: FindingIn, blobs: dict[str, bytes], *, limits: IngestLimits, now: datetime | None = None
) -> IngestResult:
    """Store ``f`` (with its blobs if it is one of the bucket's first samples) and update the aggregates."""
    now = now or utcnow()
    seen = seen_time(f.found_at, now)
    conn = session.connection()
    sql = write_sql(conn.dialect.name)
    # No "seen this key?" query first: retries are rare, and the unique key catches them below.
    bucket_id, new_bucket = route(conn, sql, f, seen)
    count, status, fixed_versions = conn.execute(sql.count, {"b_id": bucket_id, "seen": seen}).one()
    sampled = bool(blobs) and count <= limits.samples_per_bucket
    finding_id = conn.execute(sql.insert_finding, _finding_row(f, bucket_id, sampled, limits, seen, now)).scalar()
    if finding_id is None:  # a concurrent upload of the same key committed first: undo ours, answer with theirs
        session.rollback()
        known = _existing(session.connection(), sql, f.finding_id)
        assert known is not None, "a conflicting finding key must be visible after the other commit"
        return known
    if sampled:
        rows = [{"finding_id": finding_id, "name": n, "size": len(b), "data": b} for n, b in blobs.items()]
        conn.execute(sql.insert_blob, rows)
    _aggregate(conn, sql, bucket_id, f, seen)
    reopened = status == Status.fixed and _reopen(conn, sql, bucket_id, f, fixed_versions, seen)
    record_campaign(conn, sql, f.campaign_id, f.worker_id, seen, now, findings=1, new_buckets=int(new_bucket))
    return IngestResult(finding_id, bucket_id, False, new_bucket=new_bucket, sampled=sampled, reopened=reopened)


def _existing(conn: Connection, sql: WriteSQL, key: str) -> IngestResult | None:
    row = conn.execute(sql.finding_by_key, {"key": key}).first()
    return None if row is None else IngestResult(row.id, row.bucket_id, duplicate=True)


def route(conn: Connection, sql: WriteSQL, f: FindingIn, seen: datetime) -> tuple[int, bool]:
    """The bucket for ``f``: the first of its titles (own, then alternatives) that routes somewhere, else a new one."""
    titles = [f.title, *f.alt_titles]
    known = {row.title: row for row in conn.execute(sql.routes, {"titles": titles})}
    hit = next((known[t] for t in titles if t in known), None)
    if hit is not None:
        if hit.status == Status.duplicate and hit.duplicate_of_id is not None:
            return _canonical(conn, sql, hit.duplicate_of_id), False
        return hit.bucket_id, False
    values = dict(title=f.title, kind=f.kind.value, stage=f.stage.value, status=Status.new.value, regression=False)
    values |= dict(count=0, first_seen=seen, last_seen=seen, created_at=seen)
    bucket_id = conn.execute(sql.new_bucket, values).scalar()
    new_bucket = bucket_id is not None
    if bucket_id is None:  # created by a concurrent upload, committed by now (the INSERT waited for it)
        bucket_id = conn.execute(sql.bucket_by_title, {"title": f.title}).scalar_one()
    conn.execute(sql.link_title, {"title": f.title, "bucket_id": bucket_id})
    return bucket_id, new_bucket


def _canonical(conn: Connection, sql: WriteSQL, bucket_id: int) -> int:
    """Follow "duplicate of" links, so findings of a bucket marked as a duplicate count for the original."""
    for _ in range(MAX_DUPLICATE_HOPS):
        status, duplicate_of = conn.execute(sql.bucket_route, {"b_id": bucket_id}).one()
        if status != Status.duplicate or duplicate_of is None:
            break
        bucket_id = duplicate_of
    return bucket_id


def _finding_row(f: FindingIn, bucket_id: int, sampled: bool, limits: IngestLimits, seen, now) -> dict:  # noqa: ANN001
    return dict(
        key=f.finding_id,
        bucket_id=bucket_id,
        campaign_id=f.campaign_id,
        worker_id=f.worker_id,
        seed=f.seed,
        tensorsmith_version=f.tensorsmith_version,
        backend=f.backend.name,
        backend_version=f.backend.version,
        backend_config=f.backend.config,
        kind=f.kind.value,
        stage=f.stage.value,
        title=f.title,
        alt_titles=list(f.alt_titles),
        error_log=f.error_log if sampled else f.error_log[: limits.metadata_log_chars],
        op_types=sorted(set(f.op_types)),
        diffs=[d.model_dump(exclude_none=True) for d in f.diffs],
        meta=f.meta,
        repro_py=f.repro_py if sampled else None,
        is_sample=sampled,
        found_at=seen,
        created_at=now,
    )


def _aggregate(conn: Connection, sql: WriteSQL, bucket_id: int, f: FindingIn, seen: datetime) -> None:
    """Count the finding per backend version, per day and per op type of its bucket."""
    version = dict(bucket_id=bucket_id, backend=f.backend.name, version=f.backend.version, count=1)
    conn.execute(sql.upsert_version, version | dict(first_seen=seen, last_seen=seen))
    conn.execute(sql.upsert_day, {"bucket_id": bucket_id, "day": seen.date(), "count": 1})
    if f.op_types:
        conn.execute(sql.insert_op, [{"bucket_id": bucket_id, "op_type": op} for op in sorted(set(f.op_types))])


def _reopen(conn: Connection, sql: WriteSQL, bucket_id: int, f: FindingIn, fixed: dict | None, seen) -> bool:  # noqa: ANN001
    """Reopen a fixed bucket seen on a backend version newer than any it was seen on before the fix."""
    backend, version = f.backend.name, f.backend.version
    before = (fixed or {}).get(backend)
    if not is_newer(version, before):
        return False
    if conn.execute(sql.reopen, {"b_id": bucket_id}).rowcount != 1:
        return False
    detail = f"seen again on {backend} {version} (fixed after {before or 'other backends only'})"
    event = dict(bucket_id=bucket_id, at=seen, author="server", action="regression", detail=detail)
    conn.execute(sql.insert_event, event)
    return True


def record_campaign(
    conn: Connection,
    sql: WriteSQL,
    campaign_id: str,
    worker_id: str,
    at: datetime,
    now: datetime,
    *,
    tests: int = 0,
    findings: int = 0,
    new_buckets: int = 0,
) -> None:
    """Make sure the campaign exists, refresh its last-seen time, and add to its per-minute totals.

    The campaign row is shared by all its workers, so it is written only when missing or stale (an
    ``ON CONFLICT DO NOTHING`` insert and an ``UPDATE ... WHERE last_seen < stale`` lock nothing in the
    common case); the minute totals go to the worker's shard of the minute.
    """
    conn.execute(sql.new_campaign, {"id": campaign_id, "first_seen": now, "last_seen": now})
    conn.execute(sql.touch_campaign, {"c_id": campaign_id, "stale": now - CAMPAIGN_TOUCH, "now": now})
    minute = at.replace(second=0, microsecond=0)
    row = dict(campaign_id=campaign_id, minute=minute, shard=zlib.crc32(worker_id.encode()) % MINUTE_SHARDS)
    conn.execute(sql.upsert_minute, row | dict(tests=tests, findings=findings, new_buckets=new_buckets))
