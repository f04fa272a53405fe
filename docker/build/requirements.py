"""Print the pip requirements of one image role (server or worker), read from pyproject.toml.

The image's dependency layer is built from this list alone, so it is rebuilt only when pyproject.toml
changes, never when the source does. The server image leaves out what only a fuzzing worker runs
(torch, ONNX Runtime, Z3, the backends); the worker takes everything plus the `backends` extra.
Usage: python3 requirements.py {server,worker} [path/to/pyproject.toml]
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

WORKER_ONLY = {"torch", "onnxruntime", "z3-solver"}
ROLES = ("server", "worker")


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def requirements(pyproject: dict, role: str) -> list[str]:
    """The requirement strings `role` installs; ValueError names an unknown role."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; valid: {', '.join(ROLES)}")
    project = pyproject["project"]
    deps = list(project["dependencies"])
    if role == "server":
        return [d for d in deps if _name(d) not in WORKER_ONLY]
    return deps + list(project.get("optional-dependencies", {}).get("backends", []))


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        lines = requirements(tomllib.loads(path.read_text()), argv[0])
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
