"""The images' scripts, run on the host: secrets from files, the worker's seed and graceful stop, requirements."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DOCKER = Path(__file__).resolve().parents[2] / "docker"
BIN = DOCKER / "bin"


def run_entrypoint(env: dict, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(BIN / "ts-entrypoint"), *command], env={"PATH": os.environ["PATH"], **env}, capture_output=True
    )


def test_entrypoint_reads_secret_files_and_hides_the_file_variables(tmp_path):
    (tmp_path / "token").write_text("from-a-file-123\n")
    done = run_entrypoint({"TENSORSMITH_TOKEN_FILE": str(tmp_path / "token")}, "env")
    env = dict(line.split("=", 1) for line in done.stdout.decode().splitlines())
    assert env["TENSORSMITH_TOKEN"] == "from-a-file-123"
    assert "TENSORSMITH_TOKEN_FILE" not in env


def test_entrypoint_prefers_the_variable_and_unsets_empty_ones(tmp_path):
    (tmp_path / "token").write_text("from-a-file-123")
    env = {
        "TENSORSMITH_TOKEN": "from-the-env-456",
        "TENSORSMITH_TOKEN_FILE": str(tmp_path / "token"),
        "TENSORSMITH_SERVER_ADMIN_PASSWORD": "",
    }
    out = run_entrypoint(env, "env").stdout.decode()
    assert "TENSORSMITH_TOKEN=from-the-env-456" in out.splitlines()
    assert "TENSORSMITH_SERVER_ADMIN_PASSWORD" not in out


def test_entrypoint_refuses_an_unreadable_secret_file(tmp_path):
    done = run_entrypoint({"PGPASSWORD_FILE": str(tmp_path / "missing")}, "true")
    assert done.returncode == 2 and b"PGPASSWORD_FILE" in done.stderr


FAKE_TENSORSMITH = """#!{python}
import json, os, signal, sys, time
out = sys.argv[sys.argv.index("-o") + 1]
with open(os.path.join(out, "argv.json"), "w") as f:
    json.dump(sys.argv[1:], f)
stopping = []
if os.environ.get("FAKE_HANDLER"):
    signal.signal(signal.SIGINT, lambda *a: stopping.append(1))
while not stopping:
    time.sleep(0.05)
with open(os.path.join(out, "stopped"), "w") as f:
    f.write("gracefully")
"""


@pytest.fixture
def worker(tmp_path):
    """Start ts-worker with a fake `tensorsmith` on PATH; yields (process, data folder)."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "tensorsmith").write_text(FAKE_TENSORSMITH.format(python=sys.executable))
    (fake_bin / "tensorsmith").chmod(0o755)
    data = tmp_path / "data"
    procs = []

    def start(*args: str, handler: bool = True) -> subprocess.Popen:
        env = {
            "PATH": f"{fake_bin}:{os.environ['PATH']}",
            "TENSORSMITH_SERVER_URL": "http://127.0.0.1:9",
            "TENSORSMITH_TOKEN": "token-123456",
            "TENSORSMITH_DATA": str(data),
            "TENSORSMITH_BACKENDS": "onnxruntime",
        }
        if handler:
            env["FAKE_HANDLER"] = "1"
        # a session of its own, so teardown can kill the fake campaign too (regression: it outlived the tests)
        cmd = ["sh", str(BIN / "ts-worker"), *args]
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, start_new_session=True)
        procs.append(proc)
        return proc

    yield start, data
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def wait_for_file(path: Path, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def campaign_dir(data: Path) -> Path:
    (folder,) = data.glob("campaign-*")
    return folder


def test_worker_keeps_its_seed_across_restarts_and_passes_options(worker):
    start, data = worker
    proc = start("--search-steps", "7")
    wait_for_file(data)
    wait_for_file(campaign_dir(data) / "argv.json")
    folder = campaign_dir(data)
    seed = int((folder / "seed").read_text())
    assert seed % 2**32 == 0 and 0 <= seed < 2**62
    argv = (folder / "argv.json").read_text()
    assert f'"--seed", "{seed}"' in argv and '"--search-steps", "7"' in argv and '"--campaign-id", "default"' in argv
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    (folder / "argv.json").unlink()
    start("--search-steps", "7")
    wait_for_file(folder / "argv.json")
    assert int((folder / "seed").read_text()) == seed and campaign_dir(data) == folder


def test_sigterm_stops_the_campaign_gracefully(worker):
    start, data = worker
    proc = start()
    wait_for_file(data)
    wait_for_file(campaign_dir(data) / "argv.json")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert (campaign_dir(data) / "stopped").read_text() == "gracefully"


def test_sigterm_stops_a_worker_that_is_still_starting(worker):
    # Before the campaign installs its handler, SIGINT must still end the process (the default action),
    # not be ignored as a background job's SIGINT is by default: that worker would run until killed.
    start, data = worker
    proc = start(handler=False)
    wait_for_file(data)
    wait_for_file(campaign_dir(data) / "argv.json")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) != 0
    assert not (campaign_dir(data) / "stopped").exists()


def test_requirements_split_the_server_from_the_worker():
    def reqs(role: str) -> subprocess.CompletedProcess:
        script = DOCKER / "build" / "requirements.py"
        return subprocess.run([sys.executable, str(script), role], capture_output=True, text=True)

    server, worker = reqs("server").stdout.split(), reqs("worker").stdout.split()
    names = {r.split("=")[0].split(">")[0].split("[")[0] for r in server}
    assert {"fastapi", "sqlalchemy", "psycopg", "onnx", "typer"} <= names
    assert not names & {"torch", "onnxruntime", "z3-solver"}
    assert "torch==2.13.0" in worker and any(r.startswith("openvino") for r in worker)
    assert any(r.startswith("apache-tvm") for r in worker)
    bad = reqs("gpu")
    assert bad.returncode == 2 and "'gpu'" in bad.stderr and "server, worker" in bad.stderr
