"""Triage actions on buckets: status, notes, merging. Each returns the bucket or a ``Rejected`` value."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server.crud.dialect import earlier, insert, later
from server.models import Bucket, BucketDay, BucketEvent, BucketOp, BucketTitle, BucketVersion, Finding, utcnow
from server.versions import newest
from server.wire import Status

MAX_NOTE_CHARS = 10_000


@dataclass(frozen=True)
class Rejected:
    """A triage action that was refused; ``missing`` when a bucket it names does not exist."""

    reason: str
    missing: bool = False


def _lock(session: Session, bucket_id: int) -> Bucket | None:
    return session.execute(select(Bucket).where(Bucket.id == bucket_id).with_for_update()).scalar_one_or_none()


def _event(session: Session, bucket_id: int, author: str, action: str, detail: str = "") -> None:
    session.add(BucketEvent(bucket_id=bucket_id, at=utcnow(), author=author, action=action, detail=detail))


def set_status(
    session: Session,
    bucket_id: int,
    status: Status,
    *,
    author: str,
    reported_url: str | None = None,
    duplicate_of: int | None = None,
) -> Bucket | Rejected:
    """Set the triage status; ``fixed`` remembers the newest version of each backend so a newer one reopens it."""
    bucket = _lock(session, bucket_id)
    if bucket is None:
        return Rejected(f"bucket {bucket_id} does not exist", missing=True)
    detail = status.value
    if status == Status.reported:
        if not reported_url or not reported_url.startswith(("https://", "http://")):
            return Rejected(f"status 'reported' needs an http(s) link to the upstream report, got {reported_url!r}")
        bucket.reported_url = reported_url
        detail += f" {reported_url}"
    if status == Status.duplicate:
        problem = _duplicate_problem(session, bucket_id, duplicate_of)
        if problem:
            return Rejected(problem, missing=problem.endswith("does not exist"))
        bucket.duplicate_of_id = duplicate_of
        detail += f" of #{duplicate_of}"
    elif bucket.duplicate_of_id is not None:
        bucket.duplicate_of_id = None
    if status == Status.fixed:
        rows = session.execute(
            select(BucketVersion.backend, BucketVersion.version).where(BucketVersion.bucket_id == bucket_id)
        )
        by_backend: dict[str, list[str]] = {}
        for backend, version in rows:
            by_backend.setdefault(backend, []).append(version)
        bucket.fixed_versions = {b: newest(vs) for b, vs in by_backend.items()}
        detail += " after " + ", ".join(f"{b} {v}" for b, v in sorted(bucket.fixed_versions.items()))
    else:
        bucket.fixed_versions = None
    if status != Status.new:
        bucket.regression = False  # triaged: the regression badge has done its job
    bucket.status = status.value
    _event(session, bucket_id, author, "status", detail)
    return bucket


def _duplicate_problem(session: Session, bucket_id: int, target: int | None) -> str | None:
    if target is None:
        return "status 'duplicate' needs the number of the original bucket"
    if target == bucket_id:
        return f"bucket {bucket_id} cannot be a duplicate of itself"
    seen = {bucket_id}
    current: int | None = target
    while current is not None:
        if current in seen:
            return f"bucket {target} leads back to {bucket_id} through 'duplicate of' links"
        seen.add(current)
        row = session.execute(select(Bucket.id, Bucket.duplicate_of_id).where(Bucket.id == current)).first()
        if row is None:
            return f"bucket {current} does not exist"
        current = row.duplicate_of_id
    return None


def add_note(session: Session, bucket_id: int, text: str, *, author: str) -> Bucket | Rejected:
    bucket = session.get(Bucket, bucket_id)
    if bucket is None:
        return Rejected(f"bucket {bucket_id} does not exist", missing=True)
    text = text.strip()
    if not text or len(text) > MAX_NOTE_CHARS:
        return Rejected(f"a note has 1 to {MAX_NOTE_CHARS} characters, got {len(text)}")
    _event(session, bucket_id, author, "note", text)
    return bucket


def merge(session: Session, source_id: int, target_id: int, *, author: str) -> Bucket | Rejected:
    """Move every finding, title and aggregate of ``source`` into ``target``; ``source`` becomes its duplicate."""
    if source_id == target_id:
        return Rejected(f"cannot merge bucket {source_id} into itself")
    first, second = sorted((source_id, target_id))  # lock in id order: two opposite merges cannot deadlock
    locked = {first: _lock(session, first), second: _lock(session, second)}
    source, target = locked[source_id], locked[target_id]
    for bucket_id, bucket in locked.items():
        if bucket is None:
            return Rejected(f"bucket {bucket_id} does not exist", missing=True)
    if target.status == Status.duplicate:
        return Rejected(f"bucket {target_id} is itself a duplicate (of #{target.duplicate_of_id}); merge into that")
    no_sync = {"synchronize_session": False}
    session.execute(
        update(Finding).where(Finding.bucket_id == source_id).values(bucket_id=target_id), execution_options=no_sync
    )
    session.execute(
        update(BucketTitle).where(BucketTitle.bucket_id == source_id).values(bucket_id=target_id),
        execution_options=no_sync,
    )
    dups = update(Bucket).where(Bucket.duplicate_of_id == source_id).values(duplicate_of_id=target_id)
    session.execute(dups, execution_options=no_sync)
    _merge_versions(session, source_id, target_id)
    _merge_days(session, source_id, target_id)
    ops = session.scalars(select(BucketOp.op_type).where(BucketOp.bucket_id == source_id)).all()
    if ops:
        session.execute(
            insert(session, BucketOp).on_conflict_do_nothing(), [{"bucket_id": target_id, "op_type": o} for o in ops]
        )
        session.execute(delete(BucketOp).where(BucketOp.bucket_id == source_id))
    target.count += source.count
    target.first_seen = min(target.first_seen, source.first_seen)
    target.last_seen = max(target.last_seen, source.last_seen)
    source.count = 0
    source.status, source.duplicate_of_id, source.fixed_versions = Status.duplicate.value, target_id, None
    _event(session, source_id, author, "merge", f"merged into #{target_id}")
    _event(session, target_id, author, "merge", f"#{source_id} merged in: {source.title}")
    return target


def _merge_versions(session: Session, source_id: int, target_id: int) -> None:
    rows = session.scalars(select(BucketVersion).where(BucketVersion.bucket_id == source_id)).all()
    for r in rows:
        values = dict(bucket_id=target_id, backend=r.backend, version=r.version, count=r.count)
        values |= dict(first_seen=r.first_seen, last_seen=r.last_seen)
        stmt = insert(session, BucketVersion).values(**values)
        bump = dict(
            count=BucketVersion.count + r.count,
            first_seen=earlier(BucketVersion.first_seen, r.first_seen),
            last_seen=later(BucketVersion.last_seen, r.last_seen),
        )
        session.execute(stmt.on_conflict_do_update(index_elements=["bucket_id", "backend", "version"], set_=bump))
    session.execute(delete(BucketVersion).where(BucketVersion.bucket_id == source_id))


def _merge_days(session: Session, source_id: int, target_id: int) -> None:
    rows = session.scalars(select(BucketDay).where(BucketDay.bucket_id == source_id)).all()
    for r in rows:
        stmt = insert(session, BucketDay).values(bucket_id=target_id, day=r.day, count=r.count)
        bump = dict(count=BucketDay.count + r.count)
        session.execute(stmt.on_conflict_do_update(index_elements=["bucket_id", "day"], set_=bump))
    session.execute(delete(BucketDay).where(BucketDay.bucket_id == source_id))
