"""A backend's worker process: crashes, hangs and memory blow-ups are values, and the next model runs."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from oracles.backends.catalog import BackendKind, BackendSpec
from oracles.backends.process import BackendProcess, BackendUnavailable
from oracles.result import CRASH, EXCEPTION, OOM, TIMEOUT

FAKE_DIR = Path(__file__).resolve().parent / "fake"
FEEDS = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}


def fake(module: str = "fake_backend", **kw) -> BackendProcess:
    spec = BackendSpec("fake", "fake", BackendKind(module), sys.executable)
    return BackendProcess(spec, extra_path=(str(FAKE_DIR),), **{"timeout_s": 10.0, **kw})


@pytest.fixture(scope="module")
def worker():
    with fake() as bp:
        yield bp


def test_ok_model_runs(worker) -> None:
    out = worker.run(b"fine", FEEDS)
    assert out.ok, out.failure
    np.testing.assert_array_equal(out.outputs["x.out"], FEEDS["x"] * 2)


@pytest.mark.parametrize(
    ("model", "kind", "stage", "sig"),
    [
        (b"run:segfault", CRASH, "run", signal.SIGSEGV),
        (b"prepare:abort", CRASH, "compile", signal.SIGABRT),
        (b"run:exit", CRASH, "run", None),
        (b"run:raise", EXCEPTION, "run", None),
        (b"prepare:raise", EXCEPTION, "compile", None),
        (b"prepare:load", EXCEPTION, "load", None),
    ],
)
def test_failure_is_a_value_and_the_next_model_works(worker, model, kind, stage, sig) -> None:
    out = worker.run(model, FEEDS)
    assert not out.ok
    assert (out.failure.kind, out.failure.stage, out.failure.signal) == (kind, stage, sig), out.failure
    assert worker.run(b"fine", FEEDS).ok


def test_crash_restarts_the_worker(worker) -> None:
    before = int(worker.run(b"fine", FEEDS).outputs["pid"])
    restarts = worker.restarts
    assert worker.run(b"run:segfault", FEEDS).failure.kind == CRASH
    after = worker.run(b"fine", FEEDS)
    assert after.ok and int(after.outputs["pid"]) != before
    assert worker.restarts == restarts + 1


def test_hang_times_out() -> None:
    with fake(timeout_s=1.0) as bp:
        out = bp.run(b"run:hang", FEEDS)
        assert (out.failure.kind, out.failure.stage) == (TIMEOUT, "run")
        assert bp.run(b"fine", FEEDS).ok


def test_memory_cap() -> None:
    with fake(mem_mb=300) as bp:
        out = bp.run(b"prepare:oom", FEEDS)
        assert (out.failure.kind, out.failure.stage) == (OOM, "compile"), out.failure
        assert bp.run(b"fine", FEEDS).ok


def test_missing_backend_module_is_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="no_such_backend"):
        fake("no_such_backend").start()


def test_an_interpreter_that_exits_at_once_is_unavailable_and_closes_quietly(tmp_path: Path) -> None:
    """Regression: closing a worker that died before reading its first request raised BrokenPipeError
    (the request was still buffered), and `tensorsmith fuzz` exited 1 with no message."""
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    bp = BackendProcess(BackendSpec("dead", "dead", BackendKind("fake_backend"), str(python)), timeout_s=10.0)
    with pytest.raises(BackendUnavailable, match="exited with code 1"):
        bp.start()
    bp.close()


def test_scalar_arrays_keep_their_shape(worker) -> None:
    """Regression: the wire turned 0-d arrays into shape (1,) (np.ascontiguousarray is at least 1-d)."""
    out = worker.run(b"fine", {"s": np.asarray(2.5, dtype=np.float64)})
    assert out.outputs["s.out"].shape == ()
    assert out.outputs["pid"].shape == ()
