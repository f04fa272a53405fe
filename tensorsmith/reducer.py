"""Findings reduced beside the campaign, not in its way.

A campaign writes and signs each new finding at once and hands it to a `BackgroundReducer`: one
thread with its own backend workers that reduces findings one at a time (tensorsmith.reduction)
while the campaign goes on testing. Reduced folders come back through `done()`, and only then are
they uploaded, so the server buckets the reduced model by its final signature. The backlog is
bounded: `wait_below` holds the campaign while too many findings wait, so reduction never falls
behind without limit.

A folder says where it stands, so a restarted campaign picks up what was left: no `reduction` in
meta.json means still to reduce (`needs_reduction`); an `.uploaded` file, handed to the uploader.
"""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

from fuzzer.graph.model import Graph
from oracles.backends.catalog import parse_backend
from oracles.backends.process import BackendProcess

# a timeout or out-of-memory finding would cost the full timeout on every reduction step: signed only
NOT_REDUCED = ("timeout", "oom")
UPLOADED = ".uploaded"


def needs_reduction(folder: Path) -> bool:
    """The finding in `folder` was not reduced yet (nor given up on), and its kind can be."""
    meta = json.loads((folder / "meta.json").read_text())
    return "reduction" not in meta and meta.get("kind") not in NOT_REDUCED and not (folder / "original").exists()


def uploaded(folder: Path) -> bool:
    return (folder / UPLOADED).exists()


def mark_uploaded(folder: Path) -> None:
    (folder / UPLOADED).touch()


class BackgroundReducer:
    """A thread that reduces submitted finding folders in order, each for at most `reduce_s` seconds."""

    def __init__(self, reduce_s: float, *, timeout_s: float, mem_mb: int) -> None:
        self.reduce_s, self.timeout_s, self.mem_mb = reduce_s, timeout_s, mem_mb
        self._queue: queue.Queue[tuple[Path, Graph | None] | None] = queue.Queue()
        self._done: list[Path] = []
        self._lock = threading.Condition()
        self._pending = 0  # submitted and not yet done
        self._abort = threading.Event()
        self._procs: dict[str, BackendProcess] = {}  # its own workers, started as findings need them
        self._errors: list[str] = []  # see take_errors
        self._thread = threading.Thread(target=self._loop, name="reducer", daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        with self._lock:
            return self._pending

    def submit(self, folder: Path, graph: Graph | None = None) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put((folder, graph))

    def done(self) -> list[Path]:
        """The folders reduced since the last call, in order."""
        with self._lock:
            out, self._done = self._done, []
        return out

    def take_errors(self) -> list[str]:
        """Our own exceptions while reducing since the last call (the folders stay as written)."""
        with self._lock:
            out, self._errors = self._errors, []
        return out

    def wait_below(self, n: int) -> None:
        """Block while `n` or more findings wait."""
        with self._lock:
            self._lock.wait_for(lambda: self._pending < n)

    def drain(self) -> None:
        self.wait_below(1)

    def close(self, *, abort: bool = False) -> None:
        """Stop the thread (after the queue is empty, or at once with `abort`: the reduction in
        progress stops before its next run and its folder stays unreduced), then the workers."""
        if abort:
            self._abort.set()
        self._queue.put(None)
        self._thread.join()
        for p in self._procs.values():
            p.close()
        self._procs.clear()

    def _loop(self) -> None:
        from tensorsmith.reduction import ReductionAborted, reduce_finding

        while (item := self._queue.get()) is not None:
            folder, graph = item
            try:
                if not self._abort.is_set():
                    reduce_finding(
                        folder,
                        graph=graph,
                        procs=self._workers(folder),
                        deadline_s=self.reduce_s,
                        abort=self._abort,
                    )
            except ReductionAborted:
                pass
            except Exception as e:  # noqa: BLE001  (ours: recorded, the campaign goes on)
                with self._lock:
                    self._errors.append(f"{folder.name}: {type(e).__name__}: {e}")
            with self._lock:
                self._pending -= 1
                if not self._abort.is_set():
                    self._done.append(folder)
                self._lock.notify_all()

    def _workers(self, folder: Path) -> dict[str, BackendProcess]:
        meta = json.loads((folder / "meta.json").read_text())
        for name in (meta["backend"], "torch", "torch-f64"):
            if name not in self._procs:
                self._procs[name] = BackendProcess(parse_backend(name), timeout_s=self.timeout_s, mem_mb=self.mem_mb)
        return self._procs
