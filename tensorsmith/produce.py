"""Tests made ahead of the backends, in parallel: generate, search inputs, compute the references.

A campaign's test i is fully determined by (seed + i, configuration, version), so it can be made in
any process at any time. `Producer` hands tests out strictly in index order while `jobs` worker
processes make the next ones: with 2 cores, generation and input search of later tests overlap the
backends' work on the current one. The float32 and float64 references (the specs' torch
implementations) are computed here too, next to the search that already ran them, instead of in two
more worker processes that would each unpickle the graph again.

A failure of ours is data as well: an exception while making a test becomes `Made.error` (the
campaign logs it and goes on), and a producer process that dies (a segfault in torch) is replaced;
the test it was making is retried once, then recorded as our crash.

Rejected: threads (generation and search are Python-bound and would hold the GIL); Pool.imap (it
reads an unbounded index stream eagerly); fork (torch's threads do not survive it safely).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np

from fuzzer.generate.config import GenConfig
from fuzzer.graph.model import Graph
from oracles.result import EXCEPTION, Failure, Outcome


@dataclass
class Made:
    """One test, ready for the backends (or the reason it is not)."""

    index: int
    seed: int
    graph: Graph | None = None
    success: bool = False  # the search found clean values
    model: bytes = b""
    feeds: dict[str, np.ndarray] = field(default_factory=dict)
    r32: Outcome | None = None  # the specs in float32 (torch eager)
    r64: Outcome | None = None  # the float64 reference
    op_types: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    error: str = ""  # a crash of ours while making it (traceback)


def make(gen: GenConfig, seed: int, index: int, steps: int) -> Made:
    """Generate test `index` (seed `seed`), search its inputs and run both references."""
    t0 = time.process_time()
    try:
        made = _make(gen, seed, index, steps)
    except Exception:  # our bug: keep it as data, the campaign logs it and goes on
        made = Made(index, seed, error=traceback.format_exc())
    made.cpu_s = time.process_time() - t0
    return made


def _make(gen: GenConfig, seed: int, index: int, steps: int) -> Made:
    from fuzzer.generate.generator import generate
    from fuzzer.graph.onnx_io import to_onnx
    from fuzzer.search import search
    from fuzzer.spec import registry

    graph, _ = generate(gen, seed)
    made = Made(index, seed, graph, op_types=sorted({registry.get(n.op).op_type for n in graph.nodes}))
    found = search(graph, seed, steps=steps)
    if not found.success:
        return made
    graph.values = dict(found.weights)
    made.success, made.feeds = True, found.inputs
    made.model = to_onnx(graph).SerializeToString()
    if found.outputs is not None:  # the search's final check ran the specs on these very values
        import torch

        made.r32 = Outcome("torch", torch.__version__, outputs=found.outputs)
    else:
        made.r32 = _reference("torch", graph, found.inputs, float64=False)
    made.r64 = _reference("torch-f64", graph, found.inputs, float64=True)
    return made


def _reference(name: str, graph: Graph, feeds: dict, *, float64: bool) -> Outcome:
    import torch

    from fuzzer.graph.torch_module import run_float64
    from fuzzer.graph.torch_run import run_torch

    t0 = time.perf_counter()
    try:
        with torch.no_grad():
            outputs = run_float64(graph, feeds) if float64 else run_torch(graph, feeds)
    except Exception as e:
        failure = Failure(EXCEPTION, "run", f"{type(e).__name__}: {e}", traceback.format_exc())
        return Outcome(name, torch.__version__, failure=failure, seconds=time.perf_counter() - t0)
    return Outcome(name, torch.__version__, outputs=outputs, seconds=time.perf_counter() - t0)


def _init_worker() -> None:
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the campaign's to handle
    torch.set_num_threads(1)


class Producer:
    """Iterates the made tests from `start` on, in order; `jobs` = 0 makes them inline (no processes).

    `fn` makes one test (`make`, or a picklable stand-in with its signature in tests).
    """

    def __init__(self, gen: GenConfig, seed: int, start: int, steps: int, jobs: int, *, ahead=None, fn=make):
        self.gen, self.seed, self.steps, self.jobs, self.fn = gen, seed, steps, jobs, fn
        self.next_index = start  # the next index to hand out
        # tests in flight: a slow test (a failing search takes ~10x the median) must not stall the other
        # producers while the campaign waits for it in order, so keep several tests per producer queued
        self.ahead = ahead or 8 * jobs
        self._queue: deque[tuple[int, Future]] = deque()
        self._pool: ProcessPoolExecutor | None = None
        self._broke: set[int] = set()  # indices whose producer died once already

    def __iter__(self):
        return self

    def __next__(self) -> Made:
        index = self.next_index
        if self.jobs <= 0:
            self.next_index += 1
            return self.fn(self.gen, self.seed + index, index, self.steps)
        self._fill()
        i, fut = self._queue.popleft()
        assert i == index
        try:
            made = fut.result()
        except BrokenProcessPool:
            made = self._after_break(index)
        self.next_index += 1
        self._fill()
        return made

    def start(self) -> None:
        """Spawn the producer processes and hand them their first tests now (else at the first
        `next`): they import torch and Z3 for seconds while the caller starts its backends."""
        if self.jobs > 0:
            self._fill()

    def _fill(self) -> None:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker)
        following = self._queue[-1][0] + 1 if self._queue else self.next_index
        while len(self._queue) < self.ahead:
            fut = self._pool.submit(self.fn, self.gen, self.seed + following, following, self.steps)
            self._queue.append((following, fut))
            following += 1

    def _after_break(self, index: int) -> Made:
        """A producer process died: start a new pool, retry this test once, then call it our crash."""
        self._kill_pool()
        self._queue.clear()
        if index not in self._broke:
            self._broke.add(index)
            self._fill()
            _, fut = self._queue.popleft()
            try:
                return fut.result()
            except BrokenProcessPool:
                self._kill_pool()
                self._queue.clear()
        return Made(index, self.seed + index, error="a producer process died twice making this test (a crash)")

    def _kill_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((pool._processes or {}).values())  # the executor has no public way to stop busy workers
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in procs:
            p.join(timeout=5)

    def close(self) -> None:
        self._queue.clear()
        self._kill_pool()
