"""Heartbeats and the campaign queries: workers alive, tests per second, series over time, op-type coverage."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from server.crud.ingest import record_campaign, seen_time
from server.crud.sql import write_sql
from server.models import Campaign, CampaignMinute, Finding, Worker, utcnow
from server.wire import HeartbeatIn

RATE_WINDOW = timedelta(minutes=5)


def record_heartbeat(session: Session, hb: HeartbeatIn, *, now: datetime | None = None) -> int:
    """Store a worker's cumulative totals; return how many tests are new since its last heartbeat.

    Totals only grow (``max`` of stored and sent), so a replayed or reordered heartbeat adds nothing.
    A worker that restarts must use a new ``worker_id``.
    """
    now = now or utcnow()
    at = seen_time(hb.at, now)
    conn = session.connection()
    sql = write_sql(conn.dialect.name)
    if conn.dialect.name == "postgresql":
        # A heartbeat lost in a server crash is replaced by the next one (totals are cumulative): no need to
        # wait for the WAL flush, which is most of a heartbeat's time. Findings keep durable commits.
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    key = {"c_id": hb.campaign_id, "w_id": hb.worker_id}
    fresh = dict(campaign_id=hb.campaign_id, worker_id=hb.worker_id, tensorsmith_version=hb.tensorsmith_version)
    fresh |= dict(
        backends=list(hb.backends), tests_total=0, findings_total=0, op_counts={}, first_seen=now, last_seen=now
    )
    conn.execute(sql.new_worker, fresh)
    worker = conn.execute(sql.lock_worker, key).one()
    added = max(0, hb.tests_total - worker.tests_total)
    changes = dict(
        tests_total=max(worker.tests_total, hb.tests_total),
        findings_total=max(worker.findings_total, hb.findings_total),
        last_seen=max(worker.last_seen, now),
        tensorsmith_version=hb.tensorsmith_version or worker.tensorsmith_version,
        backends=list(hb.backends) or worker.backends,
    )
    if any(worker.op_counts.get(op, 0) < n for op, n in hb.op_counts.items()):
        ops = dict(worker.op_counts)
        ops.update({op: max(ops.get(op, 0), n) for op, n in hb.op_counts.items()})
        changes["op_counts"] = ops
    conn.execute(sql.update_worker, key | changes)
    record_campaign(conn, sql, hb.campaign_id, hb.worker_id, at, now, tests=added)
    return added


@dataclass
class CampaignSummary:
    id: str
    first_seen: datetime
    last_seen: datetime
    workers: int
    workers_alive: int
    tests_total: int
    tests_per_s: float
    findings: int
    buckets: int


@dataclass(frozen=True)
class Minute:
    """A campaign's totals in one minute (its shards summed)."""

    minute: datetime
    tests: int
    findings: int
    new_buckets: int


@dataclass
class CampaignDetail:
    summary: CampaignSummary
    minutes: list[Minute]
    workers: list[Worker]
    op_coverage: list[tuple[str, int]]


def _summary(session: Session, c: Campaign, now: datetime, alive_s: int) -> CampaignSummary:
    alive_since = now - timedelta(seconds=alive_s)
    workers, alive, tests = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Worker.last_seen >= alive_since, 1), else_=0)), 0),
            func.coalesce(func.sum(Worker.tests_total), 0),
        ).where(Worker.campaign_id == c.id)
    ).one()
    recent = session.execute(
        select(func.coalesce(func.sum(CampaignMinute.tests), 0)).where(
            CampaignMinute.campaign_id == c.id, CampaignMinute.minute >= now - RATE_WINDOW
        )
    ).scalar_one()
    findings, buckets = session.execute(
        select(func.count(), func.count(Finding.bucket_id.distinct())).where(Finding.campaign_id == c.id)
    ).one()
    rate = float(recent) / RATE_WINDOW.total_seconds()  # SUM is NUMERIC on PostgreSQL
    return CampaignSummary(c.id, c.first_seen, c.last_seen, workers, int(alive), int(tests), rate, findings, buckets)


def list_campaigns(
    session: Session, *, alive_s: int, now: datetime | None = None, limit: int = 100
) -> list[CampaignSummary]:
    now = now or utcnow()
    campaigns = session.scalars(select(Campaign).order_by(Campaign.last_seen.desc()).limit(limit))
    return [_summary(session, c, now, alive_s) for c in campaigns]


def campaign_detail(
    session: Session, campaign_id: str, *, alive_s: int, now: datetime | None = None
) -> CampaignDetail | None:
    now = now or utcnow()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return None
    cm = CampaignMinute
    per_minute = (
        select(cm.minute, func.sum(cm.tests), func.sum(cm.findings), func.sum(cm.new_buckets))
        .where(cm.campaign_id == campaign_id)
        .group_by(cm.minute)
        .order_by(cm.minute)
    )
    minutes = [Minute(m, int(t), int(f), int(b)) for m, t, f, b in session.execute(per_minute)]
    workers = list(
        session.scalars(select(Worker).where(Worker.campaign_id == campaign_id).order_by(Worker.last_seen.desc()))
    )
    coverage: Counter[str] = Counter()
    for w in workers:
        coverage.update(w.op_counts or {})
    return CampaignDetail(
        _summary(session, campaign, now, alive_s),
        minutes,
        workers,
        sorted(coverage.items(), key=lambda kv: (-kv[1], kv[0])),
    )


def worker_alive(worker: Worker, *, alive_s: int, now: datetime | None = None) -> bool:
    return (now or utcnow()) - worker.last_seen <= timedelta(seconds=alive_s)
