"""Initial schema: buckets, their titles, versions, days, op types and history; findings and blobs; campaigns.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 07:10:53.840951
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "buckets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("regression", sa.Boolean(), nullable=False),
        sa.Column("reported_url", sa.String(length=1000), nullable=True),
        sa.Column("duplicate_of_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("fixed_versions", sa.JSON(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"], ["buckets.id"], name=op.f("fk_buckets_duplicate_of_id_buckets"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buckets")),
        sa.UniqueConstraint("title", name=op.f("uq_buckets_title")),
    )
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_buckets_count"), ["count"], unique=False)
        batch_op.create_index(batch_op.f("ix_buckets_duplicate_of_id"), ["duplicate_of_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_buckets_first_seen"), ["first_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_buckets_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_buckets_last_seen"), ["last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_buckets_status"), ["status"], unique=False)

    op.create_table(
        "campaign_minutes",
        sa.Column("campaign_id", sa.String(length=128), nullable=False),
        sa.Column("minute", sa.DateTime(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("tests", sa.BigInteger(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("new_buckets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "minute", "shard", name=op.f("pk_campaign_minutes")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "workers",
        sa.Column("campaign_id", sa.String(length=128), nullable=False),
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("tensorsmith_version", sa.String(length=64), nullable=False),
        sa.Column("backends", sa.JSON(), nullable=False),
        sa.Column("tests_total", sa.BigInteger(), nullable=False),
        sa.Column("findings_total", sa.BigInteger(), nullable=False),
        sa.Column("op_counts", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "worker_id", name=op.f("pk_workers")),
    )
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workers_last_seen"), ["last_seen"], unique=False)

    op.create_table(
        "bucket_days",
        sa.Column("bucket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_bucket_days_bucket_id_buckets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bucket_id", "day", name=op.f("pk_bucket_days")),
    )
    op.create_table(
        "bucket_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_bucket_events_bucket_id_buckets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bucket_events")),
    )
    with op.batch_alter_table("bucket_events", schema=None) as batch_op:
        batch_op.create_index("ix_bucket_events_bucket_id_id", ["bucket_id", "id"], unique=False)

    op.create_table(
        "bucket_ops",
        sa.Column("bucket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("op_type", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_bucket_ops_bucket_id_buckets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bucket_id", "op_type", name=op.f("pk_bucket_ops")),
    )
    with op.batch_alter_table("bucket_ops", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bucket_ops_op_type"), ["op_type"], unique=False)

    op.create_table(
        "bucket_titles",
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("bucket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_bucket_titles_bucket_id_buckets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("title", name=op.f("pk_bucket_titles")),
    )
    with op.batch_alter_table("bucket_titles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bucket_titles_bucket_id"), ["bucket_id"], unique=False)

    op.create_table(
        "bucket_versions",
        sa.Column("bucket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("backend", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_bucket_versions_bucket_id_buckets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bucket_id", "backend", "version", name=op.f("pk_bucket_versions")),
    )
    with op.batch_alter_table("bucket_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bucket_versions_backend"), ["backend"], unique=False)
        batch_op.create_index(batch_op.f("ix_bucket_versions_version"), ["version"], unique=False)

    op.create_table(
        "findings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("bucket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.String(length=128), nullable=False),
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("tensorsmith_version", sa.String(length=64), nullable=False),
        sa.Column("backend", sa.String(length=128), nullable=False),
        sa.Column("backend_version", sa.String(length=64), nullable=False),
        sa.Column("backend_config", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("alt_titles", sa.JSON(), nullable=False),
        sa.Column("error_log", sa.Text(), nullable=False),
        sa.Column("op_types", sa.JSON(), nullable=False),
        sa.Column("diffs", sa.JSON(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("repro_py", sa.Text(), nullable=True),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_findings_bucket_id_buckets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint("key", name=op.f("uq_findings_key")),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_bucket_id_id", ["bucket_id", "id"], unique=False)
        batch_op.create_index("ix_findings_bucket_id_is_sample", ["bucket_id", "is_sample"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "finding_blobs",
        sa.Column("finding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_finding_blobs_finding_id_findings"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("finding_id", "name", name=op.f("pk_finding_blobs")),
    )


def downgrade() -> None:
    op.drop_table("finding_blobs")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_campaign_id"))
        batch_op.drop_index("ix_findings_bucket_id_is_sample")
        batch_op.drop_index("ix_findings_bucket_id_id")

    op.drop_table("findings")
    with op.batch_alter_table("bucket_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bucket_versions_version"))
        batch_op.drop_index(batch_op.f("ix_bucket_versions_backend"))

    op.drop_table("bucket_versions")
    with op.batch_alter_table("bucket_titles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bucket_titles_bucket_id"))

    op.drop_table("bucket_titles")
    with op.batch_alter_table("bucket_ops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bucket_ops_op_type"))

    op.drop_table("bucket_ops")
    with op.batch_alter_table("bucket_events", schema=None) as batch_op:
        batch_op.drop_index("ix_bucket_events_bucket_id_id")

    op.drop_table("bucket_events")
    op.drop_table("bucket_days")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workers_last_seen"))

    op.drop_table("workers")
    op.drop_table("campaigns")
    op.drop_table("campaign_minutes")
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_buckets_status"))
        batch_op.drop_index(batch_op.f("ix_buckets_last_seen"))
        batch_op.drop_index(batch_op.f("ix_buckets_kind"))
        batch_op.drop_index(batch_op.f("ix_buckets_first_seen"))
        batch_op.drop_index(batch_op.f("ix_buckets_duplicate_of_id"))
        batch_op.drop_index(batch_op.f("ix_buckets_count"))

    op.drop_table("buckets")
