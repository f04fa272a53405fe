"""Race-free bucketing: threads upload the same and different findings at once to a real uvicorn server."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
from sqlalchemy import func, select

from server.db import make_engine
from server.models import Bucket, BucketTitle, BucketVersion, Finding, FindingBlob
from tests.server.conftest import live_server
from tests.server.factory import finding, upload

THREADS, PER_THREAD, TITLES = 8, 12, 5


def test_concurrent_uploads_make_one_bucket_per_title_and_one_finding_per_key(settings) -> None:  # noqa: ANN001
    # Every thread uploads the same shared findings (same keys: idempotency under a race) and its own ones,
    # spread over a few titles that all threads create at the same moment (bucket creation under a race).
    shared = [finding(f"race title {k % TITLES}", backend=("tvm", f"0.{k % 3}")) for k in range(PER_THREAD)]
    own = [[finding(f"race title {k % TITLES}") for k in range(PER_THREAD)] for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def work(mine: list) -> None:  # noqa: ANN001
        try:
            with httpx.Client(base_url=url, timeout=60) as http:
                barrier.wait()
                for a, b in zip(shared, mine):
                    statuses.extend([upload(http, a).status_code, upload(http, b).status_code])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    with live_server(settings) as url:
        threads = [threading.Thread(target=work, args=(own[t],)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    counts = Counter(statuses)
    assert counts[201] == PER_THREAD * (THREADS + 1) and counts[200] == PER_THREAD * (THREADS - 1), counts

    expected = Counter(f.title for f in shared) + Counter(f.title for fs in own for f in fs)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Finding)).scalar_one() == sum(expected.values())
            buckets = dict(conn.execute(select(Bucket.title, Bucket.count)).all())
            assert buckets == dict(expected)
            titles = conn.execute(select(func.count()).select_from(BucketTitle)).scalar_one()
            assert titles == TITLES
            per_version = conn.execute(select(func.sum(BucketVersion.count))).scalar_one()
            assert per_version == sum(expected.values())
            samples = conn.execute(select(func.count()).select_from(Finding).where(Finding.is_sample)).scalar_one()
            assert samples == TITLES * settings.samples_per_bucket
            with_blobs = conn.execute(select(func.count(func.distinct(FindingBlob.finding_id)))).scalar_one()
            assert with_blobs == TITLES * settings.samples_per_bucket
    finally:
        engine.dispose()
