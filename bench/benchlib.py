"""Helpers shared by both sides of the generator benchmark (gen_bench.py and nnsmith_gen.py).

Imports only the standard library and z3, so it loads both in the project's Python and in bench/.venv-nnsmith.
"""

from __future__ import annotations

import os
import statistics
import time

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def single_thread_env() -> None:
    """Ask every math library for one thread (call before importing numpy, torch or onnxruntime)."""
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")


class Z3Clock:
    """Wall and CPU time spent in z3.Solver.check and z3.Solver.model, by patching both at class level."""

    def __init__(self) -> None:
        import z3

        self.seconds = 0.0
        self.cpu_seconds = 0.0
        for name in ("check", "model"):
            fn = getattr(z3.Solver, name)
            if not getattr(fn, "_z3clock", False):
                setattr(z3.Solver, name, self._timed(fn))

    def _timed(self, fn):
        """Wrap one Solver method so that its time is added to `seconds`."""

        def wrapper(*args, **kwargs):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.cpu_seconds += time.process_time() - c0

        wrapper._z3clock = True
        return wrapper


class Span:
    """Wall and CPU seconds of a timed span, and the part of each spent in Z3 (`with Span(clock) as span:`)."""

    def __init__(self, clock: Z3Clock) -> None:
        self.clock = clock
        self.times: dict[str, float] = {}

    def __enter__(self) -> Span:
        self._start = (time.perf_counter(), time.process_time(), self.clock.seconds, self.clock.cpu_seconds)
        return self

    def elapsed(self) -> float:
        """Wall seconds since the span began."""
        return time.perf_counter() - self._start[0]

    def __exit__(self, *exc) -> None:
        now = (time.perf_counter(), time.process_time(), self.clock.seconds, self.clock.cpu_seconds)
        keys = ("seconds", "cpu_seconds", "z3_seconds", "z3_cpu_seconds")
        self.times = {k: b - a for k, a, b in zip(keys, self._start, now)}


def describe(model) -> dict:
    """Node counts, op types and op-type pairs (producer -> consumer edges) of an ONNX ModelProto."""
    nodes = list(model.graph.node)
    producer = {o: n.op_type for n in nodes for o in n.output}
    pairs = {f"{producer[i]}->{n.op_type}" for n in nodes for i in n.input if i in producer}
    return {
        "nodes": len(nodes),
        "nodes_no_const": sum(n.op_type != "Constant" for n in nodes),
        "ops": sorted({n.op_type for n in nodes}),
        "pairs": sorted(pairs),
    }


def _median(xs: list[float]) -> float | None:
    """Median, or None for no data."""
    return statistics.median(xs) if xs else None


def _mean(xs: list[float]) -> float:
    """Mean, or 0 for no data."""
    return statistics.mean(xs) if xs else 0.0


def distinct(recs: list[dict], key: str, no_const: bool = False) -> list[str]:
    """Sorted union of a list field ("ops" or "pairs") over records, optionally without Constant."""
    out = {x for r in recs if r["ok"] for x in r[key]}
    if no_const:
        out = {x for x in out if "Constant" not in x.split("->")}
    return sorted(out)


def _timing(done: list[dict]) -> dict:
    """Throughput, quantiles and Z3 share, by wall clock and by process CPU time."""
    out = {}
    for tag, key in (("", "seconds"), ("_cpu", "cpu_seconds")):
        secs = sorted(r[key] for r in done)
        total = sum(secs)
        out[f"total{tag}_seconds"] = total
        out[f"models_per_s{tag}"] = len(done) / total if total else 0.0
        out[f"median{tag}_s"] = _median(secs)
        out[f"p90{tag}_s"] = secs[int(0.9 * (len(secs) - 1))] if secs else None
        out[f"max{tag}_s"] = secs[-1] if secs else None
        out[f"z3_share{tag}"] = sum(r[f"z3{tag}_seconds"] for r in done) / total if total else 0.0
    slow = sorted(done, key=lambda r: -r["cpu_seconds"])[:3]
    out["slowest"] = [{k: r[k] for k in ("seed", "seconds", "cpu_seconds", "z3_seconds", "nodes")} for r in slow]
    return out


def summarize(recs: list[dict], keep_lists: bool = False) -> dict:
    """Aggregate figures of one size's per-model records (the same fields for both tools)."""
    done = [r for r in recs if r["ok"]]
    out = {
        "models": len(recs),
        "generated": len(done),
        "valid": sum(r["valid"] for r in done),
        "valid_pct": 100.0 * sum(r["valid"] for r in done) / len(recs) if recs else 0.0,
        **_timing(done),
        "mean_nodes": _mean([r["nodes"] for r in done]),
        "mean_nodes_no_const": _mean([r["nodes_no_const"] for r in done]),
        "n_op_types": len(distinct(recs, "ops")),
        "n_op_pairs": len(distinct(recs, "pairs")),
        "n_op_types_no_const": len(distinct(recs, "ops", True)),
        "n_op_pairs_no_const": len(distinct(recs, "pairs", True)),
        "errors": sorted({r["error"] for r in recs if r["error"]})[:10],
    }
    if keep_lists:
        out["op_types"] = distinct(recs, "ops")
        out["op_pairs"] = distinct(recs, "pairs")
    return out
