"""Findings per hour of a fuzz campaign, by backend and kind, with buckets (distinct titles) per hour.

    nice -n 5 python bench/findings_bench.py --minutes 40 --seed 0 --out-dir /tmp/fh-run \
        --json bench/results/findings.json --md bench/results/findings.table.md
    python bench/findings_bench.py --summarise /tmp/fh-run --wall-minutes 41.7    # summarise an existing folder

The campaign is `python -m tensorsmith.cli fuzz -o OUT --backends onnxruntime,onnxruntime-opt,tvm,openvino
--time T --max-nodes 10 --seed S` (every dtype, the default). The summary reads what the campaign writes:
OUT/state.json (stats: tests, no_clean_inputs, gaps), OUT/nondeterministic.jsonl and one folder per finding
in OUT/findings/ whose meta.json holds kind, stage, backend, blame and the title after reduction/signing.
Whether findings are real bugs is judged by reading a sample by hand (bench/results/findings.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

BACKENDS = "onnxruntime,onnxruntime-opt,tvm,openvino"


def run_campaign(out: Path, minutes: float, seed: int, backends: str, max_nodes: int) -> tuple[float, str]:
    """Run the campaign from the current directory's checkout; return its wall seconds and the command."""
    cmd = [sys.executable, "-m", "tensorsmith.cli", "fuzz", "-o", str(out), "--backends", backends]
    cmd += ["--time", f"{int(minutes * 60)}s", "--max-nodes", str(max_nodes), "--seed", str(seed)]
    print(" ".join(cmd), flush=True)
    t0 = time.monotonic()
    with open(out.parent / f"{out.name}.log", "w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True, env=dict(os.environ))
    return time.monotonic() - t0, " ".join(cmd)


def summarise(out: Path, wall_s: float | None = None) -> dict:
    """Figures of one campaign folder; rates use wall_s, else the campaign's own seconds (state.json may hold 0)."""
    stats = json.loads((out / "state.json").read_text())["stats"]
    seconds = wall_s or stats["seconds"]
    if not seconds:
        raise SystemExit("state.json records no duration: pass --wall-minutes with --summarise")
    metas = [json.loads(p.read_text()) for p in sorted((out / "findings").glob("*/meta.json"))]
    nondet = out / "nondeterministic.jsonl"
    titles = Counter(m["title"] for m in metas)
    hours = seconds / 3600
    return {
        "wall_s": round(seconds, 1),
        "tests": stats["tests"],
        "tests_per_min": round(stats["tests"] / (seconds / 60), 2),
        "no_clean_inputs": stats["no_clean_inputs"],
        "reference_errors": stats.get("reference_errors", 0),
        "suspects": stats.get("suspects", 0),  # blamed on our reference: OUT/suspects/, not findings
        "reduced": sum(m.get("reduction", {}).get("status") == "reduced" for m in metas),
        "findings": len(metas),
        "findings_per_hour": round(len(metas) / hours, 1),
        "buckets": len(titles),
        "buckets_per_hour": round(len(titles) / hours, 1),
        "by_backend": dict(Counter(m["backend"] for m in metas).most_common()),
        "by_kind": dict(Counter(f"{m['kind']} ({m['stage']})" for m in metas).most_common()),
        "by_blame": dict(Counter(m.get("blame", "?") for m in metas).most_common()),
        "buckets_by_backend": dict(Counter(b for b, _ in {(m["backend"], m["title"]) for m in metas}).most_common()),
        "nondeterministic": len(nondet.read_text().splitlines()) if nondet.exists() else 0,
        "support_gaps": stats.get("gaps", {}),
        "verdicts_per_backend": stats.get("per_backend", {}),
        "titles": dict(titles.most_common()),
    }


def markdown(s: dict) -> str:
    rows = [
        ("wall time", f"{s['wall_s'] / 60:.1f} min"),
        ("tests", s["tests"]),
        ("tests/min", s["tests_per_min"]),
        ("tests without clean inputs", s["no_clean_inputs"]),
        ("reference errors", s["reference_errors"]),
        ("blamed on our reference (suspects/, not counted)", s.get("suspects", 0)),
        ("findings", s["findings"]),
        ("findings/hour", s["findings_per_hour"]),
        ("findings reduced", s.get("reduced", "-")),
        ("buckets (distinct titles)", s["buckets"]),
        ("buckets/hour", s["buckets_per_hour"]),
        ("nondeterministic (not reported)", s["nondeterministic"]),
        ("support gaps (distinct / occurrences)", f"{len(s['support_gaps'])} / {sum(s['support_gaps'].values())}"),
    ]
    lines = ["| figure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]
    for name in ("by_backend", "by_kind", "by_blame"):
        lines += [f"| {name.replace('_', ' ')} | findings |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in s[name].items()] + [""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backends", default=BACKENDS)
    ap.add_argument("--max-nodes", type=int, default=10)
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/findings-bench"))
    ap.add_argument("--summarise", type=Path, help="only summarise this existing campaign folder")
    ap.add_argument("--wall-minutes", type=float, help="the summarised campaign's wall time")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--md", type=Path)
    a = ap.parse_args()
    if a.summarise:
        s = summarise(a.summarise, a.wall_minutes * 60 if a.wall_minutes else None)
    else:
        a.out_dir.parent.mkdir(parents=True, exist_ok=True)
        wall, cmd = run_campaign(a.out_dir, a.minutes, a.seed, a.backends, a.max_nodes)
        s = summarise(a.out_dir, wall)
        s["command"] = cmd
    table = markdown(s)
    print(table)
    if a.json:
        a.json.write_text(json.dumps(s, indent=2, sort_keys=True) + "\n")
    if a.md:
        a.md.write_text(table + "\n")


if __name__ == "__main__":
    main()
