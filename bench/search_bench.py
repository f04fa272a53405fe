"""Input-search benchmark: the share of generated models for which fuzzer.search finds clean values.

Per max_nodes, seeds 0..N-1 with the default GenConfig (every op, every dtype): generate the model,
run `search(graph, seed, steps=S)`, and record
- clean: the search succeeded (no NaN/Inf anywhere, no overflow risk, no knife edge), judged by its
  final check, which runs the specs' real torch implementations in the graph's dtypes;
- nan_free: no NaN/Inf in any tensor when fuzzer.graph.torch_run runs the result (an independent
  run, knife edges aside);
- the same two for the search's starting values (steps=0), for comparison;
- infeasible: interval analysis (fuzzer.graph.feasibility) proves that no values are clean, and the share
  clean among the models not proven infeasible;
- steps, seconds and redraws per model, and the ops left violating in the models that failed.
Single-threaded. Prints Markdown to stdout, progress to stderr, and writes bench/results/search.json.

    python bench/search_bench.py [--count 200] [--sizes 10,20,30] [--steps 300]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # run as a script from any directory

from benchlib import single_thread_env  # noqa: E402

single_thread_env()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from fuzzer.generate.config import GenConfig  # noqa: E402
from fuzzer.generate.generator import generate  # noqa: E402
from fuzzer.graph.torch_run import run_torch  # noqa: E402
from fuzzer.search import search  # noqa: E402

RESULTS = BENCH / "results" / "search.json"
TARGETS = {10: 0.99, 20: 0.98, 30: 0.95}


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(f"[search_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=200, help="models per size, seeds 0..count-1 (default 200)")
    p.add_argument("--sizes", default="10,20,30", help="comma-separated max_nodes values (default 10,20,30)")
    p.add_argument("--steps", type=int, default=300, help="search step budget per model (default 300)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON result file (default {RESULTS})")
    return p.parse_args(argv)


def nan_free(graph, result) -> bool:
    """No NaN/Inf in any float tensor when fuzzer.graph.torch_run runs the result's values."""
    g = dataclasses.replace(graph, values={**graph.values, **result.weights})
    try:
        with np.errstate(all="ignore"):
            env = run_torch(g, result.inputs, keep_all=True)
    except RuntimeError:
        return False  # an integer division by zero
    return all(np.isfinite(v.astype(np.float64)).all() for n, v in env.items() if graph.tensors[n].ttype.dtype.is_float)


def one(size: int, seed: int, steps: int) -> dict:
    """Search one model; its record (an exception is recorded as an error: a bug of ours)."""
    graph, _ = generate(GenConfig(max_nodes=size), seed)
    try:
        start = search(graph, seed, steps=0)
        r = search(graph, seed, steps=steps)
    except Exception as e:  # noqa: BLE001  (report every model, then the errors)
        log(f"max_nodes {size} seed {seed}: {type(e).__name__}: {e}")
        return {"seed": seed, "nodes": len(graph.nodes), "error": f"{type(e).__name__}: {e}", **FAILED}
    return {
        "seed": seed,
        "nodes": len(graph.nodes),
        "clean": r.success,
        "nan_free": nan_free(graph, r),
        "clean_at_start": start.success,
        "nan_free_at_start": nan_free(graph, start),
        "steps": r.steps,
        "seconds": r.seconds,
        "redraws": r.redraws,
        "violations": [[v.op, v.reason, v.count] for v in r.violations],
        "infeasible": r.infeasible,
        "error": "",
    }


FAILED = {
    "clean": False,
    "nan_free": False,
    "clean_at_start": False,
    "nan_free_at_start": False,
    "steps": 0,
    "seconds": 0.0,
    "redraws": 0,
    "violations": [],
    "infeasible": [],
}


def summarize(size: int, recs: list[dict]) -> dict:
    """Aggregate figures of one size."""
    n = len(recs)
    failed = [r for r in recs if not r["clean"]]
    blame = collections.Counter(op for r in failed for op in sorted({v[0] for v in r["violations"]}))
    return {
        "max_nodes": size,
        "models": n,
        "mean_nodes": statistics.mean(r["nodes"] for r in recs),
        "clean": sum(r["clean"] for r in recs) / n,
        "infeasible": sum(bool(r["infeasible"]) for r in recs) / n,
        "clean_of_feasible": sum(r["clean"] for r in recs) / max(1, sum(not r["infeasible"] for r in recs)),
        "nan_free": sum(r["nan_free"] for r in recs) / n,
        "clean_at_start": sum(r["clean_at_start"] for r in recs) / n,
        "nan_free_at_start": sum(r["nan_free_at_start"] for r in recs) / n,
        "target": TARGETS.get(size),
        "median_steps": statistics.median(r["steps"] for r in recs),
        "mean_steps": statistics.mean(r["steps"] for r in recs),
        "median_s": statistics.median(r["seconds"] for r in recs),
        "mean_s": statistics.mean(r["seconds"] for r in recs),
        "max_s": max(r["seconds"] for r in recs),
        "failed_seeds": [r["seed"] for r in failed],
        "errors": sorted({r["error"] for r in recs if r["error"]})[:10],
        "ops_left_violating": dict(blame.most_common()),
    }


def markdown(rows: list[dict], steps: int) -> str:
    """The result table and the ops left violating."""
    out = [
        f"Search budget {steps} steps; default GenConfig (every op, every dtype); single-threaded.",
        "",
        "| max_nodes | models | clean (target) | NaN/Inf-free | proven infeasible | clean of the rest "
        "| clean at start | NaN/Inf-free at start | median steps | mean steps | median s | mean s | max s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        target = f" ({r['target']:.2f})" if r["target"] else ""
        out.append(
            f"| {r['max_nodes']} | {r['models']} | {r['clean']:.3f}{target} | {r['nan_free']:.3f} "
            f"| {r['infeasible']:.3f} | {r['clean_of_feasible']:.3f} | {r['clean_at_start']:.3f} "
            f"| {r['nan_free_at_start']:.3f} | {r['median_steps']:g} "
            f"| {r['mean_steps']:.1f} | {r['median_s']:.3f} | {r['mean_s']:.3f} | {r['max_s']:.2f} |"
        )
    out.append("")
    for r in rows:
        ops = ", ".join(f"{op} {k}" for op, k in r["ops_left_violating"].items()) or "none"
        out.append(f"- max_nodes {r['max_nodes']}: ops left violating (models): {ops}")
        if r["errors"]:
            out.append(f"- max_nodes {r['max_nodes']}: errors: {'; '.join(r['errors'])}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, records = [], {}
    for size in sizes:
        recs = []
        t0 = time.perf_counter()
        for seed in range(args.count):
            recs.append(one(size, seed, args.steps))
            if (seed + 1) % 25 == 0:
                ok = sum(r["clean"] for r in recs)
                log(f"max_nodes {size}: {seed + 1}/{args.count} models, {ok} clean, {time.perf_counter() - t0:.0f} s")
        rows.append(summarize(size, recs))
        records[str(size)] = recs
    text = markdown(rows, args.steps)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "torch": torch.__version__, "steps": args.steps, "count": args.count}
    args.out.write_text(json.dumps({"meta": meta, "summary": rows, "records": records}, indent=1))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
