"""``python -m server`` (what ``tensorsmith serve`` calls): migrates a fresh database and serves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.server.conftest import free_port
from tests.server.factory import TOKEN, finding, upload

ROOT = Path(__file__).resolve().parents[2]


def test_serve_creates_the_schema_and_answers(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'runs' / 'server.sqlite3'}"
    args = [sys.executable, "-m", "server", "--port", str(port), "--database-url", url, "--worker-token", TOKEN]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(args + ["--log-level", "warning"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert upload(http, finding()).status_code == 201
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "admin user 'admin', password: " in err  # a generated password is printed once
    assert (tmp_path / "runs" / "server.sqlite3").exists()
