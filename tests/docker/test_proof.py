"""The heavy proof (docker/proof/fault_test.py) as a slow test: needs a Docker engine and the built images."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROOF = Path(__file__).resolve().parents[2] / "docker" / "proof" / "fault_test.py"


@pytest.mark.slow
def test_server_postgres_and_two_workers_survive_crashes_without_losing_findings():
    if not shutil.which("docker-compose") or subprocess.run(["docker", "info"], capture_output=True).returncode:
        pytest.skip("needs a running Docker engine and docker-compose")
    images = ("tensorsmith/server:latest", "tensorsmith/worker:latest", "tensorsmith/postgres:15")
    if subprocess.run(["docker", "image", "inspect", *images], capture_output=True).returncode:
        pytest.skip("build the images first: docker/build.sh")
    done = subprocess.run([sys.executable, str(PROOF)], capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
