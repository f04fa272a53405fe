"""Rewrite a compose file for a Docker engine without a bridge network: every service on the host's network.

`dockerd --bridge=none` (the project's machines, where containers may only talk over 127.0.0.1) cannot give
the services a network of their own, and Compose v1 refuses published ports next to `network_mode: host`
(v2's `!reset` is not there to drop them in an override). So the proof derives its compose file from the
real one instead: the output of `docker-compose -f docker/compose.yaml config` (variables resolved, paths
absolute) on stdin, the same services with the host network, ports dropped, and every listener on
127.0.0.1: PostgreSQL on --pg-port, the server on --port.
Usage: docker-compose -f docker/compose.yaml config | python3 hostnet.py --port 18765 --pg-port 55432
"""

from __future__ import annotations

import argparse
import sys

import yaml


def hostnet(doc: dict, *, port: int, pg_port: int) -> dict:
    """The compose document `doc` with host networking (see the module docstring); `doc` is changed in place."""
    services = doc["services"]
    for svc in services.values():
        svc["network_mode"] = "host"
        svc.pop("ports", None)
        svc.pop("networks", None)
    _env(services["postgres"]).update(POSTGRES_LISTEN="127.0.0.1", PGPORT=str(pg_port))
    server = _env(services["server"])
    server.update(TENSORSMITH_HOST="127.0.0.1", TENSORSMITH_PORT=str(port))
    server["TENSORSMITH_SERVER_DATABASE_URL"] = server["TENSORSMITH_SERVER_DATABASE_URL"].replace(
        "@postgres:5432/", f"@127.0.0.1:{pg_port}/"
    )
    _env(services["worker"])["TENSORSMITH_SERVER_URL"] = f"http://127.0.0.1:{port}"
    doc.pop("networks", None)
    return doc


def _env(svc: dict) -> dict:
    env = svc.setdefault("environment", {})
    if isinstance(env, list):  # the KEY=VALUE list form
        env = svc["environment"] = dict(item.split("=", 1) for item in env)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="the server's port on 127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=55432, help="PostgreSQL's port on 127.0.0.1")
    args = parser.parse_args(argv)
    doc = hostnet(yaml.safe_load(sys.stdin), port=args.port, pg_port=args.pg_port)
    yaml.safe_dump(doc, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
