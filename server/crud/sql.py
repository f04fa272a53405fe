"""Core statements of the write path, built once per database dialect and run with parameters.

Building a statement (``insert(...).values(...)``, ORM bulk paths, cache-key generation) cost more than
running it: prepared here with ``bindparam``/``excluded``, an ingest spends its time in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import Insert, Select, Update, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from server.crud.dialect import earlier, later
from server.models import (
    Bucket,
    BucketDay,
    BucketEvent,
    BucketOp,
    BucketTitle,
    BucketVersion,
    Campaign,
    CampaignMinute,
    Finding,
    FindingBlob,
    Worker,
)

B, BT, F = Bucket.__table__, BucketTitle.__table__, Finding.__table__
BV, BD, BO, BE = BucketVersion.__table__, BucketDay.__table__, BucketOp.__table__, BucketEvent.__table__
C, CM, W, FB = Campaign.__table__, CampaignMinute.__table__, Worker.__table__, FindingBlob.__table__


@dataclass(frozen=True)
class WriteSQL:
    """The statements of ``crud.ingest`` and ``crud.campaigns.record_heartbeat`` for one dialect."""

    finding_by_key: Select
    routes: Select
    new_bucket: Insert
    bucket_by_title: Select
    link_title: Insert
    bucket_route: Select
    count: Update
    insert_finding: Insert
    insert_blob: Insert
    upsert_version: Insert
    upsert_day: Insert
    insert_op: Insert
    reopen: Update
    insert_event: Insert
    new_campaign: Insert
    touch_campaign: Update
    upsert_minute: Insert
    new_worker: Insert
    lock_worker: Select
    update_worker: Update


def _insert_fn(dialect: str):  # noqa: ANN202 - the dialect's insert()
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"database {dialect!r} is not supported (sqlite, postgresql)")


@cache
def write_sql(dialect: str) -> WriteSQL:
    ins = _insert_fn(dialect)
    version = ins(BV)
    minute = ins(CM)
    return WriteSQL(
        finding_by_key=select(F.c.id, F.c.bucket_id).where(F.c.key == bindparam("key")),
        routes=select(BT.c.title, BT.c.bucket_id, B.c.status, B.c.duplicate_of_id)
        .join(B, B.c.id == BT.c.bucket_id)
        .where(BT.c.title.in_(bindparam("titles", expanding=True))),
        new_bucket=ins(B).on_conflict_do_nothing(index_elements=["title"]).returning(B.c.id),
        bucket_by_title=select(B.c.id).where(B.c.title == bindparam("title")),
        link_title=ins(BT).on_conflict_do_nothing(index_elements=["title"]),
        bucket_route=select(B.c.status, B.c.duplicate_of_id).where(B.c.id == bindparam("b_id")),
        count=update(B)
        .where(B.c.id == bindparam("b_id"))
        .values(
            count=B.c.count + 1,
            last_seen=later(B.c.last_seen, bindparam("seen")),
            first_seen=earlier(B.c.first_seen, bindparam("seen")),
        )
        .returning(B.c.count, B.c.status, B.c.fixed_versions),
        insert_finding=ins(F).on_conflict_do_nothing(index_elements=["key"]).returning(F.c.id),
        insert_blob=ins(FB),
        upsert_version=version.on_conflict_do_update(
            index_elements=["bucket_id", "backend", "version"],
            set_={
                "count": BV.c.count + 1,
                "last_seen": later(BV.c.last_seen, version.excluded.last_seen),
                "first_seen": earlier(BV.c.first_seen, version.excluded.first_seen),
            },
        ),
        upsert_day=ins(BD).on_conflict_do_update(index_elements=["bucket_id", "day"], set_={"count": BD.c.count + 1}),
        insert_op=ins(BO).on_conflict_do_nothing(),
        reopen=update(B)
        .where(B.c.id == bindparam("b_id"), B.c.status == "fixed")
        .values(status="new", regression=True, fixed_versions=None),
        insert_event=ins(BE),
        new_campaign=ins(C).on_conflict_do_nothing(index_elements=["id"]),
        touch_campaign=update(C)
        .where(C.c.id == bindparam("c_id"), C.c.last_seen < bindparam("stale"))
        .values(last_seen=bindparam("now")),
        upsert_minute=minute.on_conflict_do_update(
            index_elements=["campaign_id", "minute", "shard"],
            set_={
                "tests": CM.c.tests + minute.excluded.tests,
                "findings": CM.c.findings + minute.excluded.findings,
                "new_buckets": CM.c.new_buckets + minute.excluded.new_buckets,
            },
        ),
        new_worker=ins(W).on_conflict_do_nothing(),
        lock_worker=select(W)
        .where(W.c.campaign_id == bindparam("c_id"), W.c.worker_id == bindparam("w_id"))
        .with_for_update(),
        update_worker=update(W).where(W.c.campaign_id == bindparam("c_id"), W.c.worker_id == bindparam("w_id")),
    )


__all__ = ["WriteSQL", "write_sql"]
