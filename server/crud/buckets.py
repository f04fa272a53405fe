"""Read queries for the bucket list and a bucket's page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from server.models import Bucket, BucketDay, BucketEvent, BucketOp, BucketTitle, BucketVersion, Finding, FindingBlob

Sort = Literal["-count", "count", "-last_seen", "last_seen", "-first_seen", "first_seen", "title"]
SORTS: tuple[str, ...] = Sort.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BucketFilter:
    """The filters of the bucket list; ``None`` means "any"."""

    backend: str | None = None
    version: str | None = None
    kind: str | None = None
    status: str | None = None
    op_type: str | None = None
    q: str | None = None


@dataclass
class BucketPage:
    rows: list[Bucket]
    total: int
    versions: dict[int, list[tuple[str, str]]]


@dataclass
class Facets:
    """The values each filter can take (for the dashboard's selects)."""

    backends: list[str]
    versions: list[str]
    kinds: list[str]
    op_types: list[str]


@dataclass
class BucketDetail:
    bucket: Bucket
    titles: list[str]
    versions: list[BucketVersion]
    days: list[tuple[date, int]]
    samples: list[Finding]
    recent: list[Finding]
    events: list[BucketEvent]
    blobs: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    duplicates: list[tuple[int, str]] = field(default_factory=list)


def _filtered(flt: BucketFilter) -> Select:
    stmt = select(Bucket)
    if flt.backend or flt.version:
        cond = [BucketVersion.bucket_id == Bucket.id]
        if flt.backend:
            cond.append(BucketVersion.backend == flt.backend)
        if flt.version:
            cond.append(BucketVersion.version == flt.version)
        stmt = stmt.where(exists().where(*cond))
    if flt.op_type:
        stmt = stmt.where(exists().where(BucketOp.bucket_id == Bucket.id, BucketOp.op_type == flt.op_type))
    if flt.kind:
        stmt = stmt.where(Bucket.kind == flt.kind)
    if flt.status:
        stmt = stmt.where(Bucket.status == flt.status)
    if flt.q:
        stmt = stmt.where(Bucket.title.icontains(flt.q, autoescape=True))
    return stmt


def list_buckets(
    session: Session, flt: BucketFilter, *, sort: Sort = "-last_seen", page: int = 1, page_size: int = 50
) -> BucketPage:
    """One page of buckets matching ``flt`` in ``sort`` order (``-`` for descending), with the versions they hit."""
    stmt = _filtered(flt)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    column = getattr(Bucket, sort.lstrip("-"))
    order = column.desc() if sort.startswith("-") else column.asc()
    stmt = stmt.order_by(order, Bucket.id.desc()).limit(page_size).offset((max(page, 1) - 1) * page_size)
    rows = list(session.scalars(stmt))
    versions: dict[int, list[tuple[str, str]]] = {b.id: [] for b in rows}
    if rows:
        q = select(BucketVersion.bucket_id, BucketVersion.backend, BucketVersion.version)
        q = q.where(BucketVersion.bucket_id.in_(versions)).order_by(BucketVersion.backend, BucketVersion.version)
        for bucket_id, backend, version in session.execute(q):
            versions[bucket_id].append((backend, version))
    return BucketPage(rows, total, versions)


def facets(session: Session) -> Facets:
    distinct = lambda col: [v for (v,) in session.execute(select(col).distinct().order_by(col))]  # noqa: E731
    return Facets(
        backends=distinct(BucketVersion.backend),
        versions=distinct(BucketVersion.version),
        kinds=distinct(Bucket.kind),
        op_types=distinct(BucketOp.op_type),
    )


def bucket_detail(session: Session, bucket_id: int, *, recent: int = 20) -> BucketDetail | None:
    """Everything the bucket page shows; a bounded number of rows whatever the bucket's size."""
    bucket = session.get(Bucket, bucket_id)
    if bucket is None:
        return None
    titles = list(
        session.scalars(select(BucketTitle.title).where(BucketTitle.bucket_id == bucket_id).order_by(BucketTitle.title))
    )
    versions = list(
        session.scalars(
            select(BucketVersion).where(BucketVersion.bucket_id == bucket_id).order_by(BucketVersion.backend)
        )
    )
    days = [
        (d, n)
        for d, n in session.execute(
            select(BucketDay.day, BucketDay.count).where(BucketDay.bucket_id == bucket_id).order_by(BucketDay.day)
        )
    ]
    by_bucket = Finding.bucket_id == bucket_id
    samples = list(session.scalars(select(Finding).where(by_bucket, Finding.is_sample).order_by(Finding.id)))
    latest = list(session.scalars(select(Finding).where(by_bucket).order_by(Finding.id.desc()).limit(recent)))
    events = list(
        session.scalars(select(BucketEvent).where(BucketEvent.bucket_id == bucket_id).order_by(BucketEvent.id))
    )
    blobs: dict[int, list[tuple[str, int]]] = {f.id: [] for f in samples}
    if samples:
        q = select(FindingBlob.finding_id, FindingBlob.name, FindingBlob.size).where(FindingBlob.finding_id.in_(blobs))
        for finding_id, name, size in session.execute(q.order_by(FindingBlob.name)):
            blobs[finding_id].append((name, size))
    dups = list(
        session.execute(select(Bucket.id, Bucket.title).where(Bucket.duplicate_of_id == bucket_id).order_by(Bucket.id))
    )
    duplicates = [(i, t) for i, t in dups]
    return BucketDetail(bucket, titles, versions, days, samples, latest, events, blobs, duplicates)


def finding(session: Session, finding_id: int) -> Finding | None:
    return session.get(Finding, finding_id)


def blob(session: Session, finding_id: int, name: str) -> bytes | None:
    q = select(FindingBlob.data).where(FindingBlob.finding_id == finding_id, FindingBlob.name == name)
    return session.execute(q).scalar_one_or_none()
