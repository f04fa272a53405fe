"""SQLAlchemy 2 tables of the service; the schema itself is created by the Alembic migrations.

Invariants kept by ``crud.ingest``: every bucket's own title is in ``bucket_titles``; ``buckets.count`` is the
number of findings in the bucket; the first ``samples_per_bucket`` findings of a bucket (by the count at
their ingest) have blobs (``findings.is_sample``); ``bucket_versions`` and ``bucket_days`` add up to ``buckets.count``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.wire import MAX_TITLE_CHARS

# Integer primary keys are 64-bit on PostgreSQL, and INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
MINUTE_SHARDS = 16

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, as a naive UTC datetime: SQLite keeps no time zones, so every stored time is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def as_naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Bucket(Base):
    """One bug: every finding whose title routes here (see ``BucketTitle``)."""

    __tablename__ = "buckets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    regression: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_url: Mapped[str | None] = mapped_column(String(1000))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("buckets.id", ondelete="SET NULL"), index=True)
    fixed_versions: Mapped[dict[str, str] | None] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer, default=0, index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime, index=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BucketTitle(Base):
    """A title that routes findings to a bucket: its own title, and the titles of buckets merged into it."""

    __tablename__ = "bucket_titles"

    title: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS), primary_key=True)
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"), index=True)


class Finding(Base):
    """One uploaded finding; only samples keep blobs, repro and the full error log."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_bucket_id_id", "bucket_id", "id"),  # a bucket's latest findings
        Index("ix_findings_bucket_id_is_sample", "bucket_id", "is_sample"),  # its samples, without a scan
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"))
    campaign_id: Mapped[str] = mapped_column(String(128), index=True)
    worker_id: Mapped[str] = mapped_column(String(128))
    seed: Mapped[int] = mapped_column(BigInteger)
    tensorsmith_version: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(128))
    backend_version: Mapped[str] = mapped_column(String(64))
    backend_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    kind: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(MAX_TITLE_CHARS))
    alt_titles: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_log: Mapped[str] = mapped_column(Text, default="")
    op_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    diffs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    repro_py: Mapped[str | None] = mapped_column(Text)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    found_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FindingBlob(Base):
    """A file of a sample finding (model, inputs, outputs, original_model), kept apart from the metadata."""

    __tablename__ = "finding_blobs"

    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class BucketVersion(Base):
    """How often a bucket was seen on one backend version."""

    __tablename__ = "bucket_versions"

    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"), primary_key=True)
    backend: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


class BucketOp(Base):
    """An op type that occurs in some finding of the bucket (for the op-type filter)."""

    __tablename__ = "bucket_ops"

    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"), primary_key=True)
    op_type: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class BucketDay(Base):
    """Findings of a bucket per day (the counts-over-time plot)."""

    __tablename__ = "bucket_days"

    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class BucketEvent(Base):
    """The triage history of a bucket: status changes, notes, merges, regressions."""

    __tablename__ = "bucket_events"
    __table_args__ = (Index("ix_bucket_events_bucket_id_id", "bucket_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    author: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class Campaign(Base):
    """A fuzz campaign, known from its workers' heartbeats and findings."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


class Worker(Base):
    """The latest cumulative statistics of one worker of a campaign."""

    __tablename__ = "workers"

    campaign_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tensorsmith_version: Mapped[str] = mapped_column(String(64), default="")
    backends: Mapped[list[str]] = mapped_column(JSON, default=list)
    tests_total: Mapped[int] = mapped_column(BigInteger, default=0)
    findings_total: Mapped[int] = mapped_column(BigInteger, default=0)
    op_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime, index=True)


class CampaignMinute(Base):
    """Per-minute totals of a campaign: tests run, findings and new buckets (the campaign plots).

    Each minute is split over ``MINUTE_SHARDS`` rows chosen by worker: every upload of a campaign adds to its
    current minute, and one row would make all of them queue on its lock (on PostgreSQL, through each
    other's commit). Readers sum the shards.
    """

    __tablename__ = "campaign_minutes"

    campaign_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    tests: Mapped[int] = mapped_column(BigInteger, default=0)
    findings: Mapped[int] = mapped_column(Integer, default=0)
    new_buckets: Mapped[int] = mapped_column(Integer, default=0)
