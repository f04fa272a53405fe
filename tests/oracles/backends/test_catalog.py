"""Backend names and interpreter paths: a bad one stops at once with a message naming it and the choices."""

from __future__ import annotations

import shutil
import sys

import pytest

from oracles.backends.catalog import CATALOG, BackendConfigError, parse_backend, parse_backends
from oracles.backends.process import BackendProcess, BackendUnavailable


def test_known_name_runs_in_this_python() -> None:
    spec = parse_backend("onnxruntime")
    assert (spec.module, spec.python) == ("ort_backend", sys.executable)


def test_other_interpreter() -> None:
    spec = parse_backend(f"onnxruntime@{sys.executable}")
    assert spec.python == sys.executable and spec.kind_name == "onnxruntime"


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(BackendConfigError, match="'tensorrt'") as e:
        parse_backend("tensorrt")
    assert all(name in str(e.value) for name in CATALOG)


@pytest.mark.parametrize("kind", ["missing", "not executable", "folder"])
def test_unusable_interpreter(kind: str, tmp_path) -> None:
    path = {"missing": tmp_path / "python", "not executable": tmp_path / "python.txt", "folder": tmp_path}[kind]
    if kind == "not executable":
        path.write_text("#!/bin/sh\n")
    with pytest.raises(BackendConfigError, match=f"interpreter '{path}'"):
        parse_backend(f"onnxruntime@{path}")


def test_executable_that_is_not_a_python_fails_at_start() -> None:
    """parse_backend cannot tell /bin/false from a Python: starting the worker (before a campaign) does."""
    spec = parse_backend(f"onnxruntime@{shutil.which('false')}")
    with pytest.raises(BackendUnavailable, match="could not start"):
        BackendProcess(spec, timeout_s=10).start()


def test_graph_backends_run_only_here() -> None:
    with pytest.raises(BackendConfigError, match="own Python"):
        parse_backend(f"torch@{sys.executable}")


def test_list_errors() -> None:
    assert [s.name for s in parse_backends("onnxruntime, tvm")] == ["onnxruntime", "tvm"]
    with pytest.raises(BackendConfigError, match="listed twice"):
        parse_backends("tvm,tvm")
    with pytest.raises(BackendConfigError, match="no backend"):
        parse_backends(" , ")


def test_every_module_exists() -> None:
    from pathlib import Path

    folder = Path(__file__).resolve().parents[3] / "oracles" / "backends"
    assert all((folder / f"{kind.module}.py").is_file() for kind in CATALOG.values())
