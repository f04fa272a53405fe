"""A backend in its own persistent worker process, with a per-call timeout and a memory cap.

Importing TVM takes seconds, so a worker lives across many models. If it dies (signal, abort), hangs
or grows past its memory cap, the call returns a Failure and the next call starts a new worker: a
crash of a backend is data, never the end of a campaign.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import select
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from oracles.backends import wire
from oracles.backends.catalog import BackendSpec
from oracles.result import CRASH, EXCEPTION, OOM, TIMEOUT, Failure, Outcome

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


class WorkerDied(Exception):
    """The worker process ended or was killed during a call."""

    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


class BackendUnavailable(Exception):
    """The backend cannot start at all (not installed, broken interpreter): a configuration error."""


def _bf16():
    try:
        import ml_dtypes

        return ml_dtypes.bfloat16
    except ImportError:
        return None


class BackendProcess:
    """One configured backend served by a worker process (see module docstring)."""

    def __init__(
        self,
        spec: BackendSpec,
        *,
        timeout_s: float = 60.0,
        mem_mb: int = 4096,
        threads: int = 1,
        extra_path: tuple[str, ...] = (),
    ):
        self.spec = spec
        self.extra_path = tuple(str(p) for p in extra_path)  # more folders on the worker's PYTHONPATH (tests)
        self.timeout_s = timeout_s
        self.mem_mb = mem_mb
        self.threads = threads
        self.version = ""
        self.restarts = 0
        self._proc: subprocess.Popen | None = None
        self._stderr: tempfile.TemporaryFile | None = None
        self._oom = False
        self._monitor: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> str:
        """Start the worker (if needed) and return the backend's version; BackendUnavailable if it can't run."""
        if self._proc is not None and self._proc.poll() is None:
            return self.version
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), TVM_NUM_THREADS=str(self.threads))
        path = [*self.extra_path, str(HERE)] + ([str(ROOT)] if self.spec.kind.needs_graph else [])
        env["PYTHONPATH"] = os.pathsep.join(path)
        env["PYTHONNOUSERSITE"] = "1"
        self._stderr = tempfile.TemporaryFile()
        cmd = [self.spec.python, str(HERE / "worker.py"), self.spec.module, json.dumps(self.spec.kind.options)]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env, start_new_session=True
        )
        self._oom = False
        self._monitor = threading.Thread(target=self._watch_memory, args=(self._proc,), daemon=True)
        self._monitor.start()
        try:
            reply, _ = self._call({"cmd": "hello"}, [], timeout_s=max(self.timeout_s, 120.0))
        except WorkerDied as e:
            raise BackendUnavailable(f"backend {self.spec.name!r} could not start: {e.failure.message}") from None
        if not reply.get("ok"):
            self.close()
            raise BackendUnavailable(f"backend {self.spec.name!r} could not start: {reply.get('error')}")
        self.version = reply["version"]
        return self.version

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except BrokenPipeError:  # a request still buffered for a worker that died: nobody to read it
                pass

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # --- calls --------------------------------------------------------------------------
    def run(self, model: bytes, feeds: dict[str, np.ndarray], *, graph=None, rerun: bool = False) -> Outcome:
        """Prepare (load + compile) `model` and run it on `feeds`; never raises for a backend failure."""
        t0 = time.perf_counter()
        try:
            if self._proc is None or self._proc.poll() is not None:
                if self._proc is not None:
                    self.restarts += 1
                self.start()
            extra = [pickle.dumps(graph)] if self.spec.kind.needs_graph else []
            reply, _ = self._call({"cmd": "prepare"}, [model] + extra)
            if not reply["ok"]:
                return self._outcome(t0, failure=self._exception(reply))
            metas, blobs = wire.pack_arrays(feeds)
            reply, out_blobs = self._call({"cmd": "run", "inputs": metas}, blobs)
            if not reply["ok"]:
                return self._outcome(t0, failure=self._exception(reply))
            outputs = wire.unpack_arrays(reply["outputs"], out_blobs, _bf16())
            return self._outcome(t0, outputs=outputs)
        except WorkerDied as e:
            self.close()  # sets _proc to None, so the branch above cannot count this one: count it here
            self.restarts += 1
            return self._outcome(t0, failure=e.failure)

    def _outcome(self, t0: float, **kw) -> Outcome:
        return Outcome(self.spec.name, self.version, seconds=time.perf_counter() - t0, **kw)

    @staticmethod
    def _exception(reply: dict) -> Failure:
        return Failure(EXCEPTION, reply.get("stage", "run"), reply.get("error", "?"), reply.get("trace", ""))

    def _call(self, header: dict, blobs: list[bytes], *, timeout_s: float | None = None):
        proc = self._proc
        stage = {"prepare": "compile", "run": "run"}.get(header.get("cmd"), "load")
        try:
            wire.write_msg(proc.stdin, header, blobs)
        except (BrokenPipeError, OSError):
            raise WorkerDied(self._death(stage)) from None
        reader = _DeadlineReader(proc.stdout, time.monotonic() + (timeout_s or self.timeout_s))
        try:
            return wire.read_msg(reader)
        except TimeoutError:
            self._kill()
            raise WorkerDied(
                Failure(TIMEOUT, stage, f"no answer within {timeout_s or self.timeout_s:g} s", self._stderr_tail())
            ) from None
        except EOFError:
            raise WorkerDied(self._death(stage)) from None

    def _kill(self) -> None:
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait()

    def _death(self, stage: str) -> Failure:
        self._proc.wait()
        rc = self._proc.returncode
        log = self._stderr_tail()
        if self._oom:
            return Failure(OOM, stage, f"worker exceeded its memory cap of {self.mem_mb} MiB", log)
        if rc < 0:
            name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
            return Failure(CRASH, stage, f"worker killed by signal {name}", log, signal=-rc)
        return Failure(CRASH, stage, f"worker exited with code {rc}", log)

    def _stderr_tail(self, limit: int = 8000) -> str:
        f = self._stderr
        if f is None:
            return ""
        f.flush()
        size = f.seek(0, io.SEEK_END)
        f.seek(max(0, size - limit))
        return f.read().decode(errors="replace")

    def _watch_memory(self, proc: subprocess.Popen) -> None:
        """Kill the worker when its resident memory passes the cap (RLIMIT_AS would break LLVM's reservations)."""
        statm = Path(f"/proc/{proc.pid}/statm")
        page = os.sysconf("SC_PAGE_SIZE")
        while proc.poll() is None:
            try:
                rss = int(statm.read_text().split()[1]) * page
            except (OSError, IndexError, ValueError):
                return
            if rss > self.mem_mb * (1 << 20):
                self._oom = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return
            time.sleep(0.05)


class _DeadlineReader:
    """File-like read(n) on a pipe that raises TimeoutError at a deadline."""

    def __init__(self, f, deadline: float):
        self.fd = f.fileno()
        self.deadline = deadline

    def read(self, n: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([self.fd], [], [], left)
        if not ready:
            raise TimeoutError
        return os.read(self.fd, n)
