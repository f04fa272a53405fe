"""docker/compose.yaml, its host-network rewrite and the Dockerfiles: valid, and keeping their promises."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = DOCKER / "compose.yaml"
SECRET_NAMES = ("WORKER_TOKEN", "ADMIN_PASSWORD", "SECRET_KEY", "PASSWORD", "TOKEN")


def compose_cli() -> list[str] | None:
    """`docker-compose` (Debian's v1) or `docker compose` (v2), whichever is installed."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


def config(*files: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    args = [a for f in files for a in ("-f", str(f))]
    return subprocess.run([*cli, *args, "config"], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_for_the_compose_tool(tmp_path):
    done = config(COMPOSE, env={"PATH": "/usr/bin:/bin:/usr/local/bin", "TENSORSMITH_SECRETS": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) == {"postgres", "server", "worker"}
    assert resolved["secrets"]["worker_token"]["file"] == str(tmp_path / "worker_token")


def test_hostnet_rewrite_is_valid_and_keeps_everything_on_loopback(tmp_path):
    done = config(COMPOSE, env={"PATH": "/usr/bin:/bin:/usr/local/bin", "TENSORSMITH_SECRETS": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    rewrite = subprocess.run(
        ["python3", str(DOCKER / "proof" / "hostnet.py"), "--port", "18000", "--pg-port", "55000"],
        input=done.stdout,
        capture_output=True,
        text=True,
        check=True,
    )
    path = tmp_path / "compose.yaml"
    path.write_text(rewrite.stdout)
    again = config(path)
    assert again.returncode == 0, again.stderr
    services = yaml.safe_load(again.stdout)["services"]
    assert all(s["network_mode"] == "host" and "ports" not in s for s in services.values())
    assert services["postgres"]["environment"]["POSTGRES_LISTEN"] == "127.0.0.1"
    assert services["server"]["environment"]["TENSORSMITH_HOST"] == "127.0.0.1"
    assert "@127.0.0.1:55000/" in services["server"]["environment"]["TENSORSMITH_SERVER_DATABASE_URL"]
    assert services["worker"]["environment"]["TENSORSMITH_SERVER_URL"] == "http://127.0.0.1:18000"


def test_every_service_restarts_and_the_worker_scales(compose):
    services = compose["services"]
    assert all(s.get("restart") == "unless-stopped" for s in services.values())
    worker = services["worker"]
    # --scale needs no fixed name and no host port; its state is per container (an anonymous volume).
    assert "container_name" not in worker and "ports" not in worker
    assert worker["volumes"] == ["/data"]
    assert worker["depends_on"]["server"]["condition"] == "service_healthy"
    assert services["server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["volumes"][0].startswith("pgdata:") and "pgdata" in compose["volumes"]


def test_dashboard_port_is_published_on_loopback_by_default(compose):
    (port,) = compose["services"]["server"]["ports"]
    assert port.startswith("${TENSORSMITH_BIND:-127.0.0.1}:")


def test_secrets_come_from_files_or_the_callers_environment_never_literals(compose):
    for name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            if any(key.endswith(s) for s in SECRET_NAMES):
                assert re.fullmatch(r"\$\{[A-Z_]+:-\}", value), f"{name}: {key} has a literal value"
            if key.endswith("_FILE"):
                secret = Path(value).name
                assert value == f"/run/secrets/{secret}" and secret in service["secrets"], (name, key)
    for secret in compose["secrets"].values():
        assert set(secret) == {"file"}


def test_compose_images_are_the_ones_build_sh_tags(compose):
    images = {s["image"] for s in compose["services"].values()}
    version = "${TENSORSMITH_VERSION:-latest}"
    assert images == {"tensorsmith/postgres:15", f"tensorsmith/server:{version}", f"tensorsmith/worker:{version}"}
    build = (DOCKER / "build.sh").read_text()
    assert "-t tensorsmith/postgres:15" in build and '-t "tensorsmith/$image:latest"' in build


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "postgres/Dockerfile"])
def test_images_run_unprivileged_with_a_health_check_and_no_secrets(dockerfile):
    text = (DOCKER / dockerfile).read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    finals = [s for s in stages if "ENTRYPOINT" in s]
    assert finals
    for stage in finals:
        users = re.findall(r"^USER (\S+)", stage, flags=re.M)
        assert users and users[-1] not in ("root", "0"), stage.splitlines()[0]
        assert re.search(r"^HEALTHCHECK ", stage, flags=re.M), stage.splitlines()[0]
    for line in re.findall(r"^(?:ENV|ARG) .*", text, flags=re.M):
        assert not re.search(r"(TOKEN|PASSWORD|SECRET_KEY)=", line), line


def test_shell_scripts_parse():
    scripts = [p for p in DOCKER.rglob("*") if p.is_file() and p.read_bytes().startswith(b"#!/bin/sh")]
    assert len(scripts) >= 8
    for script in scripts:
        done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, f"{script}: {done.stderr}"
