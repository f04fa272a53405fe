"""The README's main job: the server on SQLite in a subprocess, and a campaign uploading to it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx


def wait_until_up(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before answering at {url}")
        try:
            if httpx.get(f"{url}/buckets", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server did not answer at {url} within {timeout_s:g} s")


def run_local(
    out: Path, *, time_budget: float, backends: str, max_nodes: int, port: int, seed: int, keep_serving: bool
) -> int:
    """Start the dashboard, fuzz for `time_budget` seconds uploading to it; return an exit code."""
    out.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    db = f"sqlite:///{(out / 'server.sqlite3').resolve()}"
    env = dict(os.environ, TENSORSMITH_SERVER_WORKER_TOKEN=token)
    cmd = [sys.executable, "-m", "server", "--port", str(port), "--database-url", db, "--worker-token", token]
    with open(out / "server.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
        print(f"dashboard: {url}  (admin password in {out / 'server.log'})", flush=True)
        fuzz = [
            sys.executable,
            "-m",
            "tensorsmith.cli",
            "fuzz",
            "-o",
            str(out / "campaign"),
            "--time",
            f"{int(time_budget)}s",
            "--backends",
            backends,
            "--max-nodes",
            str(max_nodes),
            "--seed",
            str(seed),
            "--server",
            url,
            "--token",
            token,
            "--campaign-id",
            "local",
        ]
        code = subprocess.call(fuzz)
        if keep_serving and code == 0:
            print(f"campaign over; the dashboard stays at {url} until Ctrl-C", flush=True)
            try:
                proc.wait()
            except KeyboardInterrupt:
                pass
        return code
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
