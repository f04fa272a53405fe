"""The compose setup's proof: server + PostgreSQL + two workers, findings arriving, then crashes; nothing lost.

Runs docker/compose.yaml (rewritten for the host network by hostnet.py, so all traffic stays on 127.0.0.1)
with the images docker/build.sh built, backends `onnxruntime,onnxruntime-injected` (the injected one has a
known wrong result, so findings come quickly), and these faults, each a SIGKILL of a container's init from
the host, i.e. a crash that the restart policy answers:

  A. a worker, in the middle of a test;
  B. the server, in the middle of an upload: the server is frozen (SIGSTOP) until a finding's request
     waits unread in its socket (seen with `ss`), then killed;
  C. both at once: the server frozen with a worker's finding upload in flight, that worker killed, then
     the server killed; the hardest case for "nothing lost".

Afterwards every worker's spool is drained and the workers stop gracefully. The check: the finding folders
the workers wrote (each is uploaded under its folder name) are exactly the findings PostgreSQL holds, and
the buckets' counts (read API, every page) add up to that number, so nothing was lost or counted twice.
Writes docker/proof/out/report.json and prints each step. Needs root or the docker group, `ss`, the images,
and ports --port / --pg-port free on 127.0.0.1. Takes 5-15 minutes on two cores.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCKER_DIR = HERE.parent
OUT = HERE / "out"
PROJECT = "tsproof"
CAMPAIGN = "proof"
FINDING_BYTES = 4096  # a queued request larger than this is a finding upload (a heartbeat is ~2 KiB)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*cmd: str, check: bool = True, input: str | None = None) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, input=input)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def poll(predicate, timeout_s: float, every_s: float = 1.0):
    """The first truthy value of `predicate()` within `timeout_s`, else None."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value or None
        time.sleep(every_s)


def wait_for(what: str, predicate, timeout_s: float, every_s: float = 1.0):
    value = poll(predicate, timeout_s, every_s)
    if value is None:
        raise TimeoutError(f"gave up waiting for {what} after {timeout_s:g} s")
    return value


class Setup:
    """The running compose project: containers, the server's API, the database."""

    def __init__(self, compose_file: Path, port: int):
        self.compose = ["docker-compose", "-p", PROJECT, "-f", str(compose_file)]
        self.url = f"http://127.0.0.1:{port}"
        self.port = port

    def run(self, *args: str) -> str:
        return sh(*self.compose, *args)

    def container(self, service: str, index: int = 1) -> str:
        return f"{PROJECT}_{service}_{index}"

    def workers(self) -> list[str]:
        names = sh("docker", "ps", "-a", "--filter", f"name={PROJECT}_worker_", "--format", "{{.Names}}")
        return sorted(names.split())

    def state(self, name: str) -> dict:
        fmt = "{{.State.Pid}} {{.State.Status}} {{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
        pid, status, restarts, *health = sh("docker", "inspect", "-f", fmt, name).split()
        return {"pid": int(pid), "status": status, "restarts": int(restarts), "health": health[0] if health else ""}

    def pending(self, name: str) -> int:
        """How many items wait in a worker's upload spool."""
        out = sh("docker", "exec", name, "sh", "-c", "ls /data/campaign-*/spool/pending | wc -l", check=False)
        return int(out.strip() or -1)

    def exit_code(self, name: str) -> int:
        return int(sh("docker", "inspect", "-f", "{{.State.ExitCode}}", name))

    def crash(self, name: str) -> None:
        """SIGKILL the container's init from the host: a crash, which the restart policy answers."""
        os.kill(self.state(name)["pid"], signal.SIGKILL)

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            body = r.read()
        return json.loads(body) if path.startswith("/api/") else body.decode()

    def up(self) -> bool:
        try:
            return self.get("/healthz") is not None
        except OSError:
            return False

    def buckets(self) -> list[dict]:
        rows, page = [], 1
        while True:
            data = self.get(f"/api/v1/buckets?page={page}")
            rows += data["buckets"]
            if len(rows) >= data["total"] or not data["buckets"]:
                return rows
            page += 1

    def sql(self, query: str) -> list[str]:
        out = sh("docker", "exec", self.container("postgres"), "psql", "-U", "tensorsmith", "-At", "-c", query)
        return out.split()

    def worker_files(self, name: str) -> dict:
        """A worker's finding folders, pending spool items, seed and next test index (read with `docker cp`)."""
        raw = subprocess.run(["docker", "cp", f"{name}:/data", "-"], capture_output=True, check=True).stdout
        found, pending, seeds, next_index = set(), [], set(), 0
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for member in tar.getmembers():
                parts = member.name.split("/")
                if len(parts) == 4 and parts[2] == "findings" and not parts[3].startswith("."):
                    found.add(parts[3])
                elif len(parts) == 5 and parts[2:4] == ["spool", "pending"]:
                    pending.append(parts[4])
                elif parts[-1] == "seed" and member.isfile():
                    seeds.add(tar.extractfile(member).read().decode().strip())
                elif parts[-1] == "state.json" and member.isfile():
                    next_index = json.loads(tar.extractfile(member).read())["next_index"]
        keys = {f[-64:] if len(f) >= 8 else f"finding-{f}" for f in found}  # the key tensorsmith.upload sends
        return {"keys": keys, "pending": pending, "seeds": sorted(seeds), "next_index": next_index}

    def inflight(self) -> list[tuple[int, int]]:
        """(client port, unread bytes) of requests queued at the server, from the server side's Recv-Q."""
        rows = sh("ss", "-tnH", "state", "established", f"( sport = :{self.port} )")
        result = []
        for row in rows.splitlines():
            recv_q, _send_q, _local, peer = row.split()[:4]
            if int(recv_q) > 0:
                result.append((int(peer.rsplit(":", 1)[1]), int(recv_q)))
        return result

    def process_of_port(self, port: int) -> str | None:
        """The worker container whose process owns the client side of a connection on `port`."""
        rows = sh("ss", "-tnpH", "state", "established", f"( sport = :{port} and dport = :{self.port} )")
        for pid in re.findall(r"pid=(\d+)", rows):
            cgroup = Path(f"/proc/{pid}/cgroup").read_text()
            match = re.search(r"docker[/-]([0-9a-f]{64})", cgroup)
            if match:
                return sh("docker", "inspect", "-f", "{{.Name}}", match.group(1)).strip().lstrip("/")
        return None

    def save_logs(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        names = sh("docker", "ps", "-a", "--filter", f"name={PROJECT}_", "--format", "{{.Names}}").split()
        for name in names:
            done = subprocess.run(["docker", "logs", "-t", name], capture_output=True, text=True)
            (folder / f"{name}.log").write_text(done.stdout + done.stderr)

    def server_python(self) -> int:
        """Host pid of the server's uvicorn process (child of tini and the entrypoint)."""
        top = sh("docker", "top", self.container("server"), "-eo", "pid,args")
        for line in top.splitlines()[1:]:
            pid, args = line.split(None, 1)
            if "tensorsmith serve" in args:
                return int(pid)
        raise RuntimeError("no server process")


def prepare(port: int, pg_port: int) -> Path:
    """Secrets of the proof's own and the compose file for the host network; returns its path."""
    OUT.mkdir(exist_ok=True)
    secrets = OUT / "secrets"
    sh(str(DOCKER_DIR / "secrets.sh"), str(secrets))
    env = dict(
        os.environ,
        TENSORSMITH_SECRETS=str(secrets),
        TENSORSMITH_BACKENDS="onnxruntime,onnxruntime-injected",
        TENSORSMITH_MAX_NODES="5",
        TENSORSMITH_CAMPAIGN=CAMPAIGN,
    )
    config = subprocess.run(
        ["docker-compose", "-f", str(DOCKER_DIR / "compose.yaml"), "config"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    hostnet = [sys.executable, str(HERE / "hostnet.py"), "--port", str(port), "--pg-port", str(pg_port)]
    path = OUT / "compose.yaml"
    path.write_text(sh(*hostnet, input=config))
    return path


def start(s: Setup, workers: int, report: dict) -> None:
    s.run("down", "-v", "--remove-orphans")
    t0 = time.monotonic()
    s.run("up", "-d", "--scale", f"worker={workers}")
    wait_for("the server", s.up, 300)
    log(f"up: postgres, server, {workers} workers ({time.monotonic() - t0:.0f} s)")
    total = wait_for("5 findings on the server", lambda: sum(b["count"] for b in s.buckets()) >= 5, 900, 3)
    buckets = s.buckets()
    page = s.get("/buckets")
    shown = len(set(re.findall(r'href="/buckets/(\d+)"', page)))
    campaign = s.get(f"/campaigns/{CAMPAIGN}")
    report["arrival"] = {
        "seconds_after_up": round(time.monotonic() - t0),
        "findings": sum(b["count"] for b in buckets),
        "buckets": len(buckets),
        "buckets_on_dashboard_page": shown,
        "campaign_page_bytes": len(campaign),
    }
    log(f"findings arriving: {report['arrival']}")
    assert total and shown > 0, "the dashboard shows no bucket"


def fault_worker(s: Setup, report: dict) -> None:
    """A: kill worker 1 in the middle of a test; it restarts with its seed and resumes where it was."""
    name = s.container("worker", 1)
    before, state = s.worker_files(name), s.state(name)
    s.crash(name)
    killed_at = time.time()
    log(f"A: killed {name} at test {before['next_index']} (restarts so far {state['restarts']})")
    wait_for(f"{name} restarted", lambda: s.state(name)["restarts"] > state["restarts"], 120)
    after = wait_for(
        f"{name} resumed",
        lambda: (f := s.worker_files(name))["next_index"] > before["next_index"] and f,
        600,
        5,
    )
    report["fault_a_worker"] = {
        "killed_at": killed_at,
        "container": name,
        "next_index_before": before["next_index"],
        "next_index_after_resume": after["next_index"],
        "seed_before": before["seeds"],
        "seed_after": after["seeds"],
        "restarts": s.state(name)["restarts"],
    }
    assert before["seeds"] == after["seeds"], "the restarted worker changed its seed"
    log(f"A: {name} resumed at test {after['next_index']} with the same seed {after['seeds']}")


def fault_server(s: Setup, report: dict, key: str, *, kill_worker: bool) -> None:
    """B (and C with kill_worker): freeze the server until a finding upload waits in its socket, then kill it."""
    server = s.container("server")
    restarts = s.state(server)["restarts"]
    pid = s.server_python()
    # Short freezes (3 s, below the client's 10 s time-out) until one catches a finding upload in flight:
    # a long freeze would make the workers back off and spool, and then there is nothing in flight.
    deadline = time.monotonic() + 600
    while True:
        os.kill(pid, signal.SIGSTOP)
        frozen_at = time.time()
        hit = poll(lambda: next(((p, q) for p, q in s.inflight() if q > FINDING_BYTES), None), 3, 0.1)
        worker = hit and s.process_of_port(hit[0])
        # For C, the upload must be a new finding, not a spooled one being resent (which stays in the
        # spool until the server acknowledges it): with an empty spool, it is the former.
        if hit and worker and (not kill_worker or s.pending(worker) == 0):
            break
        os.kill(pid, signal.SIGCONT)
        if time.monotonic() > deadline:
            raise TimeoutError("no finding upload caught in flight within 600 s")
        time.sleep(5)
    size = hit[1]
    if kill_worker:
        s.crash(worker)
    s.crash(server)
    killed_at = time.time()
    what = f"server killed with {size} bytes of {worker}'s upload unread" + (", and that worker" if kill_worker else "")
    log(f"{key[-1].upper()}: {what} (frozen {killed_at - frozen_at:.0f} s)")
    wait_for("the server restarted", lambda: s.state(server)["restarts"] > restarts and s.up(), 300)
    if kill_worker:
        wait_for(f"{worker} restarted", lambda: s.state(worker)["status"] == "running", 120)
    report[key] = {
        "frozen_at": frozen_at,
        "killed_at": killed_at,
        "upload_bytes_unread": size,
        "uploading_worker": worker,
        "worker_killed": kill_worker,
        "worker_spool_was_empty": kill_worker,
        "server_back_after_s": round(time.time() - killed_at, 1),
    }
    log(f"{key[-1].upper()}: server back after {report[key]['server_back_after_s']} s")


def stop_and_resume(s: Setup, report: dict) -> None:
    """Stop everything gracefully (workers exit 0 after their test), start again: the workers go on."""
    t0 = time.monotonic()
    s.run("stop")
    stopped = time.monotonic() - t0
    codes = {w: s.exit_code(w) for w in s.workers()}
    at_stop = {w: s.worker_files(w)["next_index"] for w in s.workers()}
    s.run("start")
    wait_for("the server", s.up, 300)
    for w, index in at_stop.items():
        wait_for(f"{w} resumed", lambda w=w, index=index: s.worker_files(w)["next_index"] > index, 600, 5)
    report["stop_resume"] = {"stop_seconds": round(stopped), "worker_exit_codes": codes, "next_index_at_stop": at_stop}
    log(f"stopped in {stopped:.0f} s (worker exit codes {codes}), started again, every worker resumed")
    # 0: the campaign finished its test and flushed; 130: stopped while still starting (no test had run).
    # 137 would be Docker's SIGKILL after the grace period: a worker that ignored the stop.
    assert set(codes.values()) <= {0, 130}, "a worker did not stop on SIGTERM"


def drain_and_stop(s: Setup, report: dict) -> None:
    wait_for("every spool drained", lambda: all(not s.worker_files(w)["pending"] for w in s.workers()), 600, 5)
    t0 = time.monotonic()
    s.run("stop", "worker")
    report["final_stop"] = {
        "seconds": round(time.monotonic() - t0),
        "worker_exit_codes": {w: s.exit_code(w) for w in s.workers()},
    }
    log(f"workers stopped: {report['final_stop']}")


def check(s: Setup, report: dict) -> bool:
    """Nothing lost, nothing counted twice: worker finding folders == stored findings == sum of bucket counts."""
    expected, per_worker = set(), {}
    for w in s.workers():
        files = s.worker_files(w)
        expected |= files["keys"]
        per_worker[w] = {
            "findings": len(files["keys"]),
            "pending": len(files["pending"]),
            "seed": files["seeds"],
            "tests": files["next_index"],
            "restarts": s.state(w)["restarts"],
        }
    stored = s.sql("SELECT key FROM findings")
    bucket_counts = sum(b["count"] for b in s.buckets())
    lost, extra = sorted(expected - set(stored)), sorted(set(stored) - expected)
    result = {
        "workers": per_worker,
        "findings_written_by_workers": len(expected),
        "findings_stored": len(stored),
        "distinct_keys_stored": len(set(stored)),
        "sum_of_bucket_counts": bucket_counts,
        "buckets": len(s.buckets()),
        "lost": lost,
        "extra": extra,
    }
    result["ok"] = (
        not lost
        and not extra
        and len(stored) == len(set(stored)) == len(expected) == bucket_counts
        and not any(w["pending"] for w in per_worker.values())
    )
    report["check"] = result
    return result["ok"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18765, help="the server's port on 127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=55432, help="PostgreSQL's port on 127.0.0.1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="leave the setup running afterwards")
    args = parser.parse_args(argv)
    s = Setup(prepare(args.port, args.pg_port), args.port)
    report: dict = {"started_at": time.time()}
    try:
        start(s, args.workers, report)
        fault_worker(s, report)
        fault_server(s, report, "fault_b", kill_worker=False)
        fault_server(s, report, "fault_c", kill_worker=True)
        stop_and_resume(s, report)
        drain_and_stop(s, report)
        ok = check(s, report)
    finally:
        report["seconds"] = round(time.time() - report["started_at"])
        (OUT / "report.json").write_text(json.dumps(report, indent=1, default=sorted))
        s.save_logs(OUT / "logs")
        if not args.keep:
            s.run("down", "-v")
    log(json.dumps(report["check"], indent=1))
    log("PASS: nothing lost, nothing counted twice" if ok else "FAIL: see lost / extra / counts above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
