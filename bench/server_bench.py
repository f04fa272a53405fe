"""Bug-report server benchmark: ingest, a 1,000-worker mix, and page latency with 100,000 findings.

For SQLite (a temporary file) and PostgreSQL (a fresh database on TENSORSMITH_BENCH_PG, dropped at the end)
it starts the real server (``python -m server``, one uvicorn process) and measures, from client threads on
the same machine:

1. ingest: 16 concurrent uploaders send findings as fast as they can (10% are retries of an earlier
   key); findings/s and p50/p99 latency; afterwards the database must hold each key once and each title
   in exactly one bucket with the right count ("no lost or duplicated buckets").
2. mix: open-loop traffic of 1,000 workers, each sending a heartbeat every 10 s and a finding every 10 s
   (100 heartbeats/s + 100 findings/s = 200 uploads/s); latency is measured from the scheduled send
   time, so a server that falls behind shows it (no coordinated omission). The first 5 s (connections,
   thread pools, 1,000 first heartbeats) are reported apart as ``p99_ms_with_warmup``.
3. reads: the database is filled to 100,000 findings (bulk insert, Zipf-distributed over 5,000 titles),
   then the bucket list (default, filtered, sorted by count) and bucket pages (the largest bucket and a
   typical one) are fetched sequentially; p50/p99.

Usage: python bench/server_bench.py [--db sqlite,postgresql] [--ingest 2000] [--mix-s 30] [--findings 100000]
Prints a table and one JSON object (``--json PATH`` also writes it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import queue
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
from onnx import TensorProto, helper
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.db import make_engine  # noqa: E402
from server.models import (  # noqa: E402
    Bucket,
    BucketDay,
    BucketOp,
    BucketTitle,
    BucketVersion,
    Finding,
    FindingBlob,
    utcnow,
)
from server.wire import FindingIn  # noqa: E402

TOKEN = "bench-worker-token-0123456789"
PG_URL = os.environ.get("TENSORSMITH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BOUNDARY = "tensorsmithbenchboundary7e3f"
OPS = ["Relu", "Add", "MatMul", "Conv", "Softmax", "Reshape", "Transpose", "Concat", "Gather", "ReduceSum"]


# -- payloads ---------------------------------------------------------------------------------------------------


def make_model(rng: random.Random) -> bytes:
    ops = rng.sample(["Relu", "Neg", "Abs", "Sigmoid", "Tanh", "Exp"], 3)
    names = ["x", "a", "b", "y"]
    nodes = [helper.make_node(op, [names[k]], [names[k + 1]]) for k, op in enumerate(ops)]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in ("x", "y")]
    graph = helper.make_graph(nodes, "g", [vi[0]], [vi[1]])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]).SerializeToString()


def make_npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=np.ones((2, 3), np.float32))
    return buf.getvalue()


def finding_json(key: str, title: str, rng: random.Random, *, campaign: str = "bench", worker: str = "w0") -> str:
    version = f"1.{rng.randrange(18, 22)}.0"
    return FindingIn(
        finding_id=key,
        campaign_id=campaign,
        worker_id=worker,
        seed=rng.randrange(1 << 40),
        tensorsmith_version="0.1.0",
        backend={"name": rng.choice(["onnxruntime", "tvm", "openvino"]), "version": version, "config": {"opt": 3}},
        kind="wrong_result",
        stage="run",
        title=title,
        error_log="Traceback (most recent call last):\n" + "  frame\n" * 20,
        op_types=rng.sample(OPS, 3),
        diffs=[{"output": "y", "max_abs_error": 0.25, "mismatched": 2, "total": 6}],
        meta={"opset": 21},
        repro_py="import onnxruntime as ort\n# ...\n",
    ).model_dump_json()


def multipart(finding: str, model: bytes, npz: bytes) -> bytes:
    """The upload body, encoded once up front so the client threads spend their time waiting, not encoding."""
    b = BOUNDARY.encode()
    out = [b"--" + b + b'\r\nContent-Disposition: form-data; name="finding"\r\n\r\n' + finding.encode() + b"\r\n"]
    for name, data in (("model", model), ("inputs", npz)):
        head = f'Content-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
        head += "Content-Type: application/octet-stream"
        out.append(b"--" + b + b"\r\n" + head.encode() + b"\r\n\r\n" + data + b"\r\n")
    out.append(b"--" + b + b"--\r\n")
    return b"".join(out)


FINDING_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
JSON_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


# -- the server -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m server`` in a subprocess (its own process, as in production)."""

    def __init__(self, url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "server", "--port", str(self.port), "--database-url", url]
        args += ["--worker-token", TOKEN, "--admin-password", "bench-admin-password", "--log-level", "warning"]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(values, 50) * 1000, 1), "p99_ms": round(pct(values, 99) * 1000, 1)}


# -- 1. ingest --------------------------------------------------------------------------------------------------


def bench_ingest(server: Server, url: str, *, n: int, uploaders: int = 16, titles: int = 200) -> dict:
    rng = random.Random(1)
    model, npz = make_model(rng), make_npz()
    unique = [(f"ingest-{k:07d}-{secrets.token_hex(4)}", f"ingest title {rng.randrange(titles)}") for k in range(n)]
    work = [(key, multipart(finding_json(key, title, rng), model, npz)) for key, title in unique]
    work += [work[rng.randrange(len(work))] for _ in range(n // 10)]  # retries of an earlier key
    rng.shuffle(work)
    jobs: queue.Queue = queue.Queue()
    for item in work:
        jobs.put(item)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def uploader() -> None:
        with httpx.Client(base_url=server.base, timeout=60) as http:
            while True:
                try:
                    _, body = jobs.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                r = http.post("/api/v1/findings", content=body, headers=FINDING_HEADERS)
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    statuses[r.status_code] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=uploader) for _ in range(uploaders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    expected = Counter(title for _, title in unique)
    check = verify(url, expected, prefix="ingest title")
    return {
        "uploads": len(work),
        "uploaders": uploaders,
        "findings_per_s": round(len(work) / elapsed, 1),
        **ms(latencies),
        "statuses": dict(statuses),
        **check,
    }


def verify(url: str, expected: Counter[str], *, prefix: str) -> dict:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            like = Bucket.title.like(prefix + "%")
            rows = dict(conn.execute(select(Bucket.title, Bucket.count).where(like)).all())
            findings = conn.execute(select(func.count()).select_from(Finding).where(Finding.title.like(prefix + "%")))
            findings = findings.scalar_one()
    finally:
        engine.dispose()
    lost = sum(1 for t in expected if t not in rows)
    extra = sum(1 for t in rows if t not in expected)
    wrong = sum(1 for t, c in expected.items() if rows.get(t) != c)
    ok = lost == extra == wrong == 0 and findings == sum(expected.values())
    return {"buckets": len(rows), "lost_buckets": lost, "extra_buckets": extra, "wrong_counts": wrong, "consistent": ok}


# -- 2. the 1,000-worker mix -------------------------------------------------------------------------------------


def mix_events(seconds: float, *, workers: int, period_s: float) -> list[tuple[float, str, bytes]]:
    """The schedule: each worker's heartbeats and findings, evenly spread, ``2 * workers / period_s`` per second."""
    rng = random.Random(2)
    model, npz = make_model(rng), make_npz()
    events: list[tuple[float, str, bytes]] = []
    for w in range(workers):
        beat = period_s * w / workers
        find = (beat + period_s / 2) % period_s
        for k in range(int(seconds / period_s) + 1):
            if beat + k * period_s < seconds:
                hb = {"campaign_id": "mix", "worker_id": f"w{w:04d}", "tests_total": 50 * (k + 1)}
                hb["op_counts"] = {"Relu": k + 1}
                events.append((beat + k * period_s, "heartbeat", json.dumps(hb).encode()))
            if find + k * period_s < seconds:
                key = f"mix-{w:04d}-{k:05d}-{secrets.token_hex(3)}"
                title = f"mix title {min(int(rng.paretovariate(1.2)), 400)}"
                body = multipart(finding_json(key, title, rng, campaign="mix", worker=f"w{w:04d}"), model, npz)
                events.append((find + k * period_s, "finding", body))
    return sorted(events, key=lambda e: e[0])


def bench_mix(
    server: Server,
    *,
    seconds: float,
    warmup_s: float = 5.0,
    workers: int = 1000,
    period_s: float = 10.0,
    threads: int = 32,
) -> dict:
    seconds += warmup_s
    events = mix_events(seconds, workers=workers, period_s=period_s)
    jobs: queue.Queue = queue.Queue()
    for e in events:
        jobs.put(e)
    results: dict[str, list[float]] = {"heartbeat": [], "finding": []}
    timeline: list[tuple[float, float]] = []
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    start = time.perf_counter() + 2.0

    def sender() -> None:
        with httpx.Client(base_url=server.base, timeout=60) as http:
            http.get("/healthz")  # connect before the schedule starts: the client's set-up is not the server's
            while True:
                try:
                    at, kind, body = jobs.get_nowait()
                except queue.Empty:
                    return
                delay = start + at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                try:
                    if kind == "heartbeat":
                        code = http.post("/api/v1/heartbeats", content=body, headers=JSON_HEADERS).status_code
                    else:
                        code = http.post("/api/v1/findings", content=body, headers=FINDING_HEADERS).status_code
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                done = time.perf_counter() - (start + at)  # from the scheduled time: lateness counts
                with lock:
                    results[kind].append(done)
                    timeline.append((at, done))
                    if not isinstance(code, int) or code >= 300:
                        failures[f"{kind} {code}"] += 1

    pool = [threading.Thread(target=sender) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    steady = [d for at, d in timeline if at >= warmup_s]
    return {
        "workers": workers,
        "offered_per_s": round(len(events) / seconds, 1),
        "achieved_per_s": round(len(events) / elapsed, 1),
        "uploads": len(events),
        **ms(steady),
        "warmup_s": warmup_s,
        "p99_ms_with_warmup": ms(results["heartbeat"] + results["finding"])["p99_ms"],
        "heartbeat": ms(results["heartbeat"]),
        "finding": ms(results["finding"]),
        "failures": dict(failures),
        "p99_ms_per_5s": [
            ms([d for at, d in timeline if w <= at < w + 5])["p99_ms"] for w in range(0, int(seconds), 5)
        ],
    }


# -- 3. reads with 100,000 findings -------------------------------------------------------------------------------


def seeded_finding(fid: int, bucket_id: int, title: str, *, worker: str, sample: bool, now) -> dict:  # noqa: ANN001
    """One row of the findings table as the ingest path would write it."""
    return dict(
        id=fid,
        key=f"seed-{fid}",
        bucket_id=bucket_id,
        campaign_id="seeded",
        worker_id=worker,
        seed=fid,
        tensorsmith_version="0.1.0",
        backend="onnxruntime",
        backend_version="1.20.0",
        backend_config={},
        kind="wrong_result",
        stage="run",
        title=title,
        alt_titles=[],
        error_log="Traceback\n" * 10,
        op_types=["Relu"],
        diffs=[],
        meta={},
        is_sample=sample,
        repro_py="print(1)\n" if sample else None,
        found_at=now,
        created_at=now,
    )


def seed(url: str, total: int, *, titles: int = 5000, samples: int = 5, batch: int = 5000) -> float:
    """Bulk-insert ``total`` findings with consistent aggregates (the ingest path is measured above)."""
    rng = random.Random(3)
    model, npz = make_model(rng), make_npz()
    now = utcnow()
    weights = [1 / (k + 1) ** 1.1 for k in range(titles)]
    chosen = Counter(rng.choices(range(titles), weights=weights, k=total))
    engine = make_engine(url, pool_size=1)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        next_id = (conn.execute(select(func.max(Bucket.id))).scalar() or 0) + 1
        next_finding = (conn.execute(select(func.max(Finding.id))).scalar() or 0) + 1
        buckets, links, versions, days, ops, findings, blobs = [], [], [], [], [], [], []
        for rank, count in chosen.items():
            bucket_id = next_id + rank
            title = f"seeded title {rank:05d}"
            first = now - timedelta(days=30)
            buckets.append(
                dict(
                    id=bucket_id,
                    title=title,
                    kind=rng.choice(["crash", "wrong_result", "timeout"]),
                    stage="run",
                    status=rng.choice(["new", "new", "confirmed", "fixed"]),
                    regression=False,
                    count=count,
                    first_seen=first,
                    last_seen=now,
                    created_at=first,
                )
            )
            links.append(dict(title=title, bucket_id=bucket_id))
            per_version = Counter(rng.choice(["1.19.0", "1.20.0", "1.21.0"]) for _ in range(count))
            versions += [
                dict(bucket_id=bucket_id, backend="onnxruntime", version=v, count=c, first_seen=first, last_seen=now)
                for v, c in per_version.items()
            ]
            per_day = Counter(rng.randrange(30) for _ in range(count))
            days += [
                dict(bucket_id=bucket_id, day=(now - timedelta(days=d)).date(), count=c) for d, c in per_day.items()
            ]
            ops += [dict(bucket_id=bucket_id, op_type=o) for o in rng.sample(OPS, 3)]
            for k in range(count):
                fid = next_finding
                next_finding += 1
                sample = k < samples
                findings.append(seeded_finding(fid, bucket_id, title, worker=f"w{k % 1000}", sample=sample, now=now))
                if sample:
                    blobs += [
                        dict(finding_id=fid, name="model", size=len(model), data=model),
                        dict(finding_id=fid, name="inputs", size=len(npz), data=npz),
                    ]
        for table, rows in (
            (Bucket, buckets),
            (BucketTitle, links),
            (BucketVersion, versions),
            (BucketDay, days),
            (BucketOp, ops),
            (Finding, findings),
            (FindingBlob, blobs),
        ):
            for k in range(0, len(rows), batch):
                conn.execute(table.__table__.insert(), rows[k : k + batch])
        conn.exec_driver_sql("ANALYZE")  # fresh planner statistics, as a long-running database has
    engine.dispose()
    return time.perf_counter() - t0


def bench_reads(server: Server, url: str, *, repeat: int = 200) -> dict:
    engine = make_engine(url, pool_size=1)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(Finding)).scalar_one()
        biggest = conn.execute(select(Bucket.id, Bucket.count).order_by(Bucket.count.desc()).limit(1)).one()
        typical = conn.execute(select(Bucket.id).where(Bucket.count.between(10, 30)).limit(1)).scalar()
    engine.dispose()
    pages = {
        "bucket list": "/buckets",
        "bucket list, sort by count, filtered": "/buckets?sort=-count&backend=onnxruntime&op=Conv&status=new",
        "bucket list, title search, page 3": "/buckets?q=title+01&page=3",
        f"bucket page, largest ({biggest.count} findings)": f"/buckets/{biggest.id}",
        "bucket page, typical": f"/buckets/{typical or biggest.id}",
    }
    out: dict[str, dict] = {"findings_in_db": total}
    with httpx.Client(base_url=server.base, timeout=60) as http:
        for label, path in pages.items():
            for _ in range(5):  # warm-up
                assert http.get(path).status_code == 200, path
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = http.get(path)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200
            out[label] = ms(times)
    return out


# -- driver -----------------------------------------------------------------------------------------------------


def database(kind: str, tmp: Path) -> tuple[str, callable]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.sqlite3'}", lambda: None
    import psycopg

    admin = psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    name = f"tensorsmith_bench_{os.getpid()}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return PG_URL.rsplit("/", 1)[0] + "/" + name, drop


def run(kind: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = database(kind, Path(tmp))
        try:
            server = Server(url)  # migrates the fresh database on start
            try:
                result = {"ingest": bench_ingest(server, url, n=args.ingest)}
                print(f"[{kind}] ingest: {result['ingest']}", file=sys.stderr)
                result["mix"] = bench_mix(server, seconds=args.mix_s)
                print(f"[{kind}] mix: {result['mix']}", file=sys.stderr)
                engine = make_engine(url, pool_size=1)
                with engine.connect() as conn:
                    have = conn.execute(select(func.count()).select_from(Finding)).scalar_one()
                engine.dispose()
                result["seed_s"] = round(seed(url, max(0, args.findings - have)), 1)
                result["reads"] = bench_reads(server, url, repeat=args.repeat)
                print(f"[{kind}] reads: {result['reads']}", file=sys.stderr)
            finally:
                server.stop()
        finally:
            drop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--ingest", type=int, default=2000, help="unique findings in the ingest phase")
    parser.add_argument("--mix-s", type=float, default=30.0, help="seconds of 1,000-worker traffic")
    parser.add_argument("--findings", type=int, default=100_000, help="findings in the database for the reads")
    parser.add_argument("--repeat", type=int, default=200, help="requests per page in the read phase")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = {kind: run(kind, args) for kind in args.db.split(",")}
    meta = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "argv": sys.argv[1:]}
    text = json.dumps({"meta": meta, "results": results}, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
