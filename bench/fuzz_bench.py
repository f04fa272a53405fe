"""Fuzz-loop benchmark: tests per minute side by side with NNSmith, ORT+TVM throughput, peak memory.

    python bench/fuzz_bench.py [--seconds 60] [--skip-nnsmith] [--out bench/results/fuzz.json]

Every figure comes from real runs of both tools' command lines in this one process's lifetime:
`nnsmith.cli.fuzz` in its own venv (bench/nnsmith_env.sh) and `tensorsmith fuzz`. Memory is the
peak total resident set of the campaign's process tree (the CLI and its backend workers), sampled
every 0.1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NNSMITH_PY = ROOT / "bench" / ".venv-nnsmith" / "bin" / "python"


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    total, stack, page = 0, [pid], os.sysconf("SC_PAGE_SIZE")
    while stack:
        p = stack.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Run a command; return wall seconds, peak tree RSS in bytes, and its combined output."""
    out = tempfile.TemporaryFile()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    peak = [0]

    def watch() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.1)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    proc.wait()
    t.join()
    out.seek(0)
    return time.monotonic() - t0, peak[0], out.read().decode(errors="replace")


def ours(name: str, seconds: float | None, tests: int | None, args: list[str], keep: bool = False) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"tsfuzz-{name}-"))
    budget = ["--time", f"{int(seconds)}s"] if seconds else ["--tests", str(tests)]
    cmd = [sys.executable, "-m", "tensorsmith.cli", "fuzz", "-o", str(out), *budget, *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    wall, peak, log = run_measured(cmd, env)
    state = json.loads((out / "state.json").read_text())["stats"]
    executed = state["tests"] - state["no_clean_inputs"] - state["reference_errors"] - state.get("internal_errors", 0)
    findings = sorted(p.name for p in (out / "findings").iterdir())
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "tool": "tensorsmith",
        "out": str(out) if keep else None,
        "run": name,
        "args": args,
        "wall_s": round(wall, 1),
        "tests": state["tests"],
        "tests_per_min": round(60 * state["tests"] / wall, 1),
        "findings": len(findings),
        "no_clean_inputs": state["no_clean_inputs"],
        # run on the backends: a model whose inputs the search could not make clean is not run
        "executed": executed,
        "executed_per_min": round(60 * executed / wall, 1),
        "support_gaps": len(state["gaps"]),
        "nondeterministic": state["nondeterministic"],
        "peak_rss_mib": round(peak / 2**20),
        "tail": log.strip().splitlines()[-1:] if log.strip() else [],
    }


def nnsmith(seconds: float, max_nodes: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="nnsmith-fuzz-"))
    shutil.rmtree(root)
    cmd = [
        str(NNSMITH_PY),
        "-m",
        "nnsmith.cli.fuzz",
        f"fuzz.time={int(seconds)}",
        f"fuzz.root={root}",
        "model.type=onnx",
        "backend.type=onnxruntime",
        f"mgen.max_nodes={max_nodes}",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    crashes = 0
    for _ in range(4):  # NNSmith's generator sometimes dies at start on an internal assertion: retry
        wall, peak, log = run_measured(cmd, env)
        if "testcases generated" in log:
            break
        crashes += 1
        shutil.rmtree(root, ignore_errors=True)
    tests = re.search(r"Total (\d+) testcases generated", log)
    bugs = re.search(r"Total (\d+) bugs found", log)
    shutil.rmtree(root, ignore_errors=True)
    n = int(tests.group(1)) if tests else 0
    return {
        "tool": "nnsmith",
        "run": f"onnxruntime max_nodes={max_nodes}",
        "wall_s": round(wall, 1),
        "tests": n,
        "tests_per_min": round(60 * n / wall, 1),
        "reported_bugs": int(bugs.group(1)) if bugs else None,
        "crashed_starts": crashes,
        "peak_rss_mib": round(peak / 2**20),
        "log_tail": log.strip().splitlines()[-3:],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--memory-tests", type=int, default=150)
    ap.add_argument("--skip-nnsmith", action="store_true")
    ap.add_argument("--only-ort", action="store_true", help="only the side-by-side ONNX Runtime runs")
    ap.add_argument("--keep", action="store_true", help="keep our campaign folders (printed in the JSON)")
    ap.add_argument("--serial", action="store_true", help="also ours with --jobs 0 (no producer processes)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fuzz.json")
    a = ap.parse_args()
    rows = []
    ort10 = ["--backends", "onnxruntime", "--dtypes", "float32", "--max-nodes", "10"]
    if not a.skip_nnsmith and NNSMITH_PY.exists():
        rows.append(nnsmith(a.seconds, 10))
    rows.append(ours("ort-f32-10", a.seconds, None, ort10, a.keep))
    if a.serial:
        rows.append(ours("ort-f32-10-serial", a.seconds, None, [*ort10, "--jobs", "0"], a.keep))
    if not a.only_ort:
        tvm = ["--backends", "onnxruntime,tvm", "--dtypes", "float32", "--max-nodes", "10"]
        rows.append(ours("ort+tvm-f32-10", a.seconds * 2, None, tvm, a.keep))
        mem = ["--backends", "onnxruntime,onnxruntime-opt", "--max-nodes", "30"]
        rows.append(ours("memory-30-all-dtypes", None, a.memory_tests, mem, a.keep))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rows, indent=1) + "\n")
    print("| tool | run | wall s | tests | tests/min | run on backends/min | findings (reported bugs) | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        found = r.get("findings", r.get("reported_bugs"))
        print(
            f"| {r['tool']} | {r['run']} | {r['wall_s']} | {r['tests']} | {r['tests_per_min']} | "
            f"{r.get('executed_per_min', '-')} | {found} | {r['peak_rss_mib']} |"
        )
    base = next((r for r in rows if r["tool"] == "nnsmith"), None)
    if base and base["tests"]:
        print(f"\ntests/min ratio (ours ORT-only / NNSmith): {rows[1]['tests_per_min'] / base['tests_per_min']:.2f}x")


if __name__ == "__main__":
    main()
