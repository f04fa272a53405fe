"""Generator benchmark: tensorsmith's Z3 generator side by side with NNSmith 0.1.0, both in-process and single-threaded.

Per max_nodes, seeds 0..N-1: time per model (ours: generate + to_onnx + SerializeToString; NNSmith: model_gen +
make_concrete + from_gir + export to ONNX bytes, see nnsmith_gen.py), validity, ONNX nodes written, Z3 share.
Both tools' rows at one size are measured back to back, so load from other processes hits both alike.
Then the ratio of models/s at equal written nodes, and op-type diversity over larger samples.
Prints Markdown to stdout, progress to stderr, and writes bench/results/gen.json.

    python bench/gen_bench.py [--count 200] [--sizes 5,10,20,30] [--diversity-count 1000] [--skip-nnsmith]

NNSmith needs bench/.venv-nnsmith (bash bench/nnsmith_env.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # run as a script from any directory

from benchlib import Span, Z3Clock, describe, single_thread_env, summarize  # noqa: E402

single_thread_env()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from fuzzer.generate.config import GenConfig  # noqa: E402
from fuzzer.generate.generator import generate, leaf_values  # noqa: E402
from fuzzer.graph.onnx_io import to_onnx  # noqa: E402
from fuzzer.graph.validate import InvalidModel, validate  # noqa: E402
from fuzzer.spec import registry  # noqa: E402

NNSMITH_PY = BENCH / ".venv-nnsmith" / "bin" / "python"
NNSMITH_DRIVER = BENCH / "nnsmith_gen.py"
RESULTS = BENCH / "results" / "gen.json"
WARMUP_SEED = 10**6
NO_IMPL = "RuntimeImplementationError"  # onnx.reference has no implementation of an op: not a fault of the model
METHOD = (
    "Equal written nodes: NNSmith's max_nodes counts its own operators, but torch.onnx.export writes more ONNX "
    "nodes (Constant, Cast, Shape...). For each NNSmith size we take its mean ONNX nodes written per model and "
    "run ours again (same seeds) at the max_nodes whose mean written nodes should match it (scaled by our measured "
    "written-nodes-per-max_nodes), then compare the two measured models/s directly (no interpolation). "
    "A second match uses nodes written other than Constant, since NNSmith writes shape constants as nodes "
    "where ours writes them as initializers."
)


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(f"[gen_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=200, help="models per size, seeds 0..count-1 (default 200)")
    p.add_argument("--sizes", default="5,10,20,30", help="comma-separated max_nodes values (default 5,10,20,30)")
    p.add_argument("--diversity-count", type=int, default=1000, help="models per diversity size (0 skips)")
    p.add_argument("--diversity-sizes", default="10,20", help="max_nodes of the diversity runs (default 10,20)")
    p.add_argument("--skip-nnsmith", action="store_true", help="measure only tensorsmith")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON result file (default {RESULTS})")
    return p.parse_args(argv)


# --- tensorsmith ---------------------------------------------------------------------------------


def reference_check(graph, model: onnx.ModelProto, seed: int) -> str:
    """Why ReferenceEvaluator fails on random inputs or disagrees with the graph's output types; "" if it doesn't."""
    rng = np.random.default_rng(seed)
    feeds = {n: leaf_values(rng, graph.tensors[n]) for n in graph.inputs}
    try:
        outs = ReferenceEvaluator(model).run(None, feeds)
    except Exception as e:  # noqa: BLE001 - any failure of the reference run is counted
        return f"reference [{reference_op(e)}]: {type(e).__name__}: {str(e)[:160]}"
    producer = {o: n.op for n in graph.nodes for o in n.outputs}
    for name, arr in zip(graph.outputs, outs):
        t = graph.tensors[name].ttype
        got = (str(np.asarray(arr).dtype), tuple(np.shape(arr)))
        want = (str(t.dtype.numpy), tuple(int(d) for d in t.shape))
        if got != want:
            return f"reference mismatch [{producer.get(name)}]: output is {got}, spec says {want}"
    return ""


def reference_op(e: BaseException) -> str:
    """The onnx.reference op implementation (op_*.py) that raised, or the innermost file."""
    tb = traceback.extract_tb(e.__traceback__)
    ops = [Path(f.filename).stem for f in tb if Path(f.filename).name.startswith("op_")]
    return ops[-1] if ops else where(e)


def where(e: BaseException) -> str:
    """file:line of the innermost frame of an exception's traceback."""
    tb = traceback.extract_tb(e.__traceback__)
    return f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"


def ours_one(cfg: GenConfig, seed: int, clock: Z3Clock, reference: bool) -> dict:
    """Generate, write and check one model of ours."""
    try:
        with Span(clock) as span:
            graph, stats = generate(cfg, seed)
            model = to_onnx(graph)
            model.SerializeToString()
    except Exception as e:  # noqa: BLE001 - a generation failure is a result, not a crash
        return {"seed": seed, "ok": False, "error": f"generate: {where(e)}: {type(e).__name__}: {str(e)[:200]}"}
    rec = {"seed": seed, "ok": True, **span.times}
    rec.update(solve_seconds=stats.solver.seconds, **describe(model))
    try:
        validate(graph, model)
        rec.update(valid=True, error="")
    except Exception as e:  # noqa: BLE001 - InvalidModel, or a crash of the checker: both make it invalid
        kind = "" if isinstance(e, InvalidModel) else f"{type(e).__name__}: "
        rec.update(valid=False, error=f"validate: {kind}{str(e)[:200]}")
    rec["ref_error"] = reference_check(graph, model, seed) if reference else ""
    return rec


def ours_size(max_nodes: int, count: int, clock: Z3Clock, reference: bool, keep_lists: bool = False) -> dict:
    """Summary of our `count` models at one max_nodes."""
    cfg = GenConfig(max_nodes=max_nodes)
    recs = [ours_one(cfg, seed, clock, reference) for seed in range(count)]
    out = summarize(recs, keep_lists)
    done = [r for r in recs if r["ok"]]
    out["solve_share"] = sum(r["solve_seconds"] for r in done) / out["total_seconds"] if done else 0.0
    if reference:
        out["ref_failures"] = sum(bool(r["ref_error"]) for r in done)
        out["ref_unsupported"] = sum(NO_IMPL in r["ref_error"] for r in done)
        out["ref_ok_pct"] = 100.0 * (len(done) - out["ref_failures"]) / count if count else 0.0
        counts = Counter(r["ref_error"][:120] for r in done if r["ref_error"])
        out["ref_errors"] = [f"{n}x {msg}" for msg, n in counts.most_common(12)]
    return out


# --- NNSmith -------------------------------------------------------------------------------------


def nnsmith_available() -> bool:
    """Whether the NNSmith venv exists."""
    return NNSMITH_PY.exists()


def nnsmith_run(sizes: list[int], count: int, extra: list[str]) -> dict:
    """Run the NNSmith driver in its venv and return its JSON result."""
    cmd = [str(NNSMITH_PY), str(NNSMITH_DRIVER), "--sizes", ",".join(map(str, sizes)), "--count", str(count), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=BENCH, env=os.environ.copy())
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- comparison ----------------------------------------------------------------------------------


def matched_size(target: float, mine: dict, max_nodes: int, key: str) -> int:
    """Our max_nodes whose mean written nodes (by `key`) should be closest to `target`, scaling a measured size."""
    per_node = max(mine[key] / max_nodes, 1e-9)
    return min(500, max(1, round(target / per_node)))


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None."""
    return a / b if a and b else None


def compare(key: str, size: int, theirs: dict, k: int, mine: dict) -> dict:
    """One row of the equal-written-nodes comparison."""
    return {
        "match_by": key,
        "nnsmith_max_nodes": size,
        "nnsmith_nodes": theirs[key],
        "nnsmith_models_per_s_cpu": theirs["models_per_s_cpu"],
        "nnsmith_models_per_s": theirs["models_per_s"],
        "ours_max_nodes": k,
        "ours_nodes": mine[key],
        "ours_models_per_s_cpu": mine["models_per_s_cpu"],
        "ours_models_per_s": mine["models_per_s"],
        "ratio_cpu": ratio(mine["models_per_s_cpu"], theirs["models_per_s_cpu"]),
        "ratio_wall": ratio(mine["models_per_s"], theirs["models_per_s"]),
        "ratio_median_cpu": ratio(theirs["median_cpu_s"], mine["median_cpu_s"]),
    }


def equal_nodes(size: int, theirs: dict, res: dict, count: int, clock: Z3Clock) -> list[dict]:
    """Ours measured again at the max_nodes matched to NNSmith's written nodes at `size`; the ratios."""
    rows = []
    for key in ("mean_nodes", "mean_nodes_no_const"):
        k = matched_size(theirs[key], res["ours"][str(size)], size, key)
        if str(k) not in res["ours_matched"]:
            log(f"ours max_nodes={k} (matched to NNSmith max_nodes={size} by {key}), {count} models")
            res["ours_matched"][str(k)] = res["ours"].get(str(k)) or ours_size(k, count, clock, reference=False)
        rows.append(compare(key, size, theirs, k, res["ours_matched"][str(k)]))
    return rows


# --- output --------------------------------------------------------------------------------------


def fmt(x, spec: str = ".3g") -> str:
    """A number for the table, or a dash."""
    return "-" if x is None else format(x, spec)


def side(s: dict | None) -> list[str]:
    """One tool's cells: models/s (CPU, wall), median CPU s/model, nodes written, valid %, Z3 share."""
    if s is None:
        return ["-"] * 6
    nodes = f"{s['mean_nodes']:.1f} ({s['mean_nodes_no_const']:.1f})"
    rates = [fmt(s["models_per_s_cpu"], ".1f"), fmt(s["models_per_s"], ".1f"), fmt(s["median_cpu_s"], ".4f")]
    return [*rates, nodes, fmt(s["valid_pct"], ".1f"), f"{100 * s['z3_share_cpu']:.0f}%"]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def ref_cell(s: dict) -> str:
    """Our reference-run success %, and the % of models it could not run for want of an op implementation."""
    if "ref_ok_pct" not in s:
        return "-"
    return f"{s['ref_ok_pct']:.1f} ({100 * s['ref_unsupported'] / s['models']:.1f} no impl)"


def main_table(res: dict) -> list[str]:
    """Per max_nodes: both tools side by side."""
    cols = ["models/s", "models/s wall", "median s/model", "nodes written (no Constant)", "valid %", "Z3 share"]
    ref = "ours ref-eval ok % (op not in onnx.reference)"
    header = ["max_nodes"] + [f"ours {c}" for c in cols] + [ref] + [f"NNSmith {c}" for c in cols]
    rows = []
    for size, mine in res["ours"].items():
        theirs = res["nnsmith"]["sizes"].get(size) if res["nnsmith"] else None
        rows.append([size, *side(mine), ref_cell(mine), *side(theirs)])
    return table(header, rows)


def equal_table(rows: list[dict]) -> list[str]:
    """The models/s ratios at equal written nodes."""
    header = ["matched on", "NNSmith max_nodes", "NNSmith nodes", "NNSmith models/s", "ours max_nodes"]
    header += ["ours nodes", "ours models/s", "ratio ours/NNSmith models/s", "same, wall clock", "ratio of medians"]
    body = [
        [
            "all nodes" if r["match_by"] == "mean_nodes" else "non-Constant nodes",
            str(r["nnsmith_max_nodes"]),
            f"{r['nnsmith_nodes']:.1f}",
            f"{r['nnsmith_models_per_s_cpu']:.1f}",
            str(r["ours_max_nodes"]),
            f"{r['ours_nodes']:.1f}",
            f"{r['ours_models_per_s_cpu']:.1f}",
            fmt(r["ratio_cpu"], ".1f") + "x",
            fmt(r["ratio_wall"], ".1f") + "x",
            fmt(r["ratio_median_cpu"], ".1f") + "x",
        ]
        for r in sorted(rows, key=lambda r: (r["match_by"], r["nnsmith_max_nodes"]))
    ]
    return table(header, body)


def diversity_table(div: dict) -> list[str]:
    """Distinct op types and op-type pairs over the diversity samples."""
    header = ["tool", "max_nodes", "models", "valid %", "mean nodes", "op types (no Constant)", "op-type pairs"]
    header.append("pairs without Constant")
    rows = []
    for tool, sizes in div.items():
        for size, s in sizes.items():
            rows.append(
                [
                    tool,
                    size,
                    str(s["models"]),
                    fmt(s["valid_pct"], ".1f"),
                    f"{s['mean_nodes']:.1f}",
                    f"{s['n_op_types']} ({s['n_op_types_no_const']})",
                    str(s["n_op_pairs"]),
                    str(s["n_op_pairs_no_const"]),
                ]
            )
    return table(header, rows)


def tails_table(res: dict) -> list[str]:
    """Per-model CPU time quantiles: models/s (1 / mean) is driven by the slow tail, the median is not."""
    header = ["tool", "max_nodes", "median s", "p90 s", "max s", "slowest seed (its nodes written)"]
    tools = [("ours", res["ours"])] + ([("NNSmith", res["nnsmith"]["sizes"])] if res["nnsmith"] else [])
    rows = []
    for tool, sizes in tools:
        for size, s in sizes.items():
            slow = s["slowest"][0] if s["slowest"] else None
            cells = [fmt(s[k], ".4f") for k in ("median_cpu_s", "p90_cpu_s", "max_cpu_s")]
            rows.append([tool, size, *cells, f"{slow['seed']} ({slow['nodes']})" if slow else "-"])
    return table(header, rows)


def failures(res: dict) -> list[str]:
    """Our invalid models and reference-run failures, most frequent first, at the largest size."""
    size = max(res["ours"], key=int)
    s = res["ours"][size]
    lines = [f"At max_nodes={size}: {s['models'] - s['valid']} invalid, {s.get('ref_failures', 0)} ref-eval failures."]
    return lines + [f"- `{e}`" for e in s["errors"] + s.get("ref_errors", [])]


def notes(res: dict) -> list[str]:
    """The method and setup, in prose."""
    nn = res["nnsmith"]
    out = [
        f"Setup: {res['machine']}; {res['threads']}; ours: {res['n_ops']} operator specs at opset "
        f"{res['opset']}, {res['count']} models per size (seeds 0..{res['count'] - 1}); load average "
        f"{res['load_before']} before, {res['load_after']} after; wall time {res['wall_seconds']:.0f} s.",
        "Timing: ours = generate + to_onnx + SerializeToString; NNSmith = model_gen (symbolic-cinit, Z3) + "
        "make_concrete + ONNXModel.from_gir + torch.onnx.export to bytes. models/s = models generated / summed "
        "per-model process CPU time (robust to other load on the machine; 'wall' uses wall-clock time), median "
        "likewise in CPU seconds. Both tools' runs at one size are back to back. Validity is checked outside the "
        "timed span: ours validate() (onnx.checker full_check + shape inference agreement), NNSmith "
        "onnx.checker full_check; a generation that raises counts as invalid. Ours also runs "
        "onnx.reference.ReferenceEvaluator on random inputs (ref-eval ok %, counted apart). Z3 share = CPU time "
        "in z3.Solver.check/model (patched on both sides) / CPU time of the timed span.",
        METHOD,
    ]
    if nn:
        loop = {k: v["median_loop_s"] for k, v in nn["sizes"].items()}
        out.append(
            f"NNSmith: {nn['n_opset']} ops ({nn['backend']} op set), {nn['versions']}; its whole fuzz-loop "
            "make_testcase (adds input search, re-export with full check, oracle run) takes a median (wall) of "
            + ", ".join(f"{v:.4f} s at {k}" for k, v in loop.items() if v is not None)
            + "."
        )
    else:
        out.append(f"NNSmith was not run ({res['nnsmith_skipped']}).")
    return out


def markdown(res: dict) -> str:
    """The whole report."""
    lines = ["# Generator benchmark: tensorsmith vs NNSmith 0.1.0", "", *main_table(res), ""]
    if res["equal_nodes"]:
        lines += ["## models/s at equal written nodes", "", *equal_table(res["equal_nodes"]), ""]
    lines += ["## Per-model time (CPU seconds)", "", *tails_table(res), ""]
    if res["diversity"]:
        lines += ["## Diversity", "", *diversity_table(res["diversity"]), ""]
    lines += ["## Our failures", "", *failures(res), ""]
    lines += ["## Method", ""] + [f"- {n}" for n in notes(res)]
    return "\n".join(lines) + "\n"


# --- driver --------------------------------------------------------------------------------------


def load() -> str:
    """The 1-minute load average."""
    return f"{os.getloadavg()[0]:.2f}"


def warm_up(clock: Z3Clock) -> None:
    """One untimed model of ours, so imports and caches are not charged to the first size."""
    ours_one(GenConfig(max_nodes=5), WARMUP_SEED, clock, reference=True)


def run_main(args, sizes: list[int], clock: Z3Clock, res: dict) -> None:
    """Per size, back to back: NNSmith, ours, and ours at NNSmith's written node counts."""
    for size in sizes:
        theirs = None
        if res["nnsmith"] is not None:
            log(f"NNSmith max_nodes={size}, {args.count} models")
            got = nnsmith_run([size], args.count, [])
            theirs = got.pop("sizes")[str(size)]
            res["nnsmith"].update(got)
            res["nnsmith"]["sizes"][str(size)] = theirs
        log(f"ours max_nodes={size}, {args.count} models")
        res["ours"][str(size)] = ours_size(size, args.count, clock, reference=True)
        if theirs is not None:
            res["equal_nodes"] += equal_nodes(size, theirs, res, args.count, clock)


def run_diversity(args, clock: Z3Clock, res: dict) -> None:
    """Larger samples for distinct op types and op-type pairs."""
    sizes = [int(s) for s in args.diversity_sizes.split(",")]
    n = args.diversity_count
    res["diversity"]["ours"] = {}
    for size in sizes:
        log(f"diversity: ours max_nodes={size}, {n} models")
        res["diversity"]["ours"][str(size)] = ours_size(size, n, clock, reference=False, keep_lists=True)
    if res["nnsmith"]:
        log(f"diversity: NNSmith max_nodes={args.diversity_sizes}, {n} models")
        res["diversity"]["nnsmith"] = nnsmith_run(sizes, n, ["--no-loop", "--keep-lists"])["sizes"]


def main(argv: list[str] | None = None) -> None:
    """Run everything, print the Markdown report and write the JSON file."""
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(",")]
    use_nn = not args.skip_nnsmith and nnsmith_available()
    skipped = "--skip-nnsmith" if args.skip_nnsmith else f"no {NNSMITH_PY}: create it with bash bench/nnsmith_env.sh"
    clock = Z3Clock()
    res = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, onnx {onnx.__version__}",
        "threads": ", ".join(f"{v}={os.environ.get(v)}" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")),
        "n_ops": len(registry.select(GenConfig().opset)),
        "opset": GenConfig().opset,
        "count": args.count,
        "load_before": load(),
        "nnsmith": {"sizes": {}} if use_nn else None,
        "nnsmith_skipped": "" if use_nn else skipped,
        "ours": {},
        "ours_matched": {},
        "equal_nodes": [],
        "diversity": {},
    }
    if not use_nn:
        log(f"NNSmith skipped ({skipped})")
    warm_up(clock)
    run_main(args, sizes, clock, res)
    if args.diversity_count > 0:
        run_diversity(args, clock, res)
    res["load_after"], res["wall_seconds"] = load(), time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    sys.stdout.write(markdown(res))
    log(f"wrote {args.out} in {res['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
