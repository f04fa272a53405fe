"""Benchmark of `tensorsmith check`: wall time of the default check and how its verdicts split.

Runs run_check with the default configuration (path export-dynamo, backends onnxruntime and
onnxruntime-opt, the default size sweep with every op enabled, the repository's corpus) against the
committed baseline corpus/baselines/PATH.json, then prints the time (target: under 5 minutes on the
2-core machine) and, per target, the split of the sweep's verdicts: ok, export crash, invalid
model, load failure, wrong result, run failure, unsupported, skipped. Writes bench/results/check-PATH.json
and .md. `--update-baseline` re-records the committed baseline (after a generator or spec change).

    python bench/check_bench.py [--path export-dynamo] [--backends onnxruntime,onnxruntime-opt] [--update-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # run as a script from any directory
os.environ.setdefault("OMP_NUM_THREADS", "1")

from tensorsmith.check import DEFAULT_CORPUS, Sweep, run_check  # noqa: E402
from tensorsmith.converter import CATEGORIES  # noqa: E402

TARGET_S = 300.0


def split(cells: list[dict], *, sweep_only: bool) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for c in cells:
        if sweep_only and c["case"].startswith("corpus/"):
            continue
        out.setdefault(c["target"], Counter())[c["category"] or "skipped"] += 1
    return out


def table(counts: dict[str, Counter]) -> list[str]:
    cols = list(CATEGORIES) + ["skipped"]
    lines = ["| target | " + " | ".join(c.replace("_", " ") for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for target, c in counts.items():
        lines.append(f"| {target} | " + " | ".join(str(c.get(k, 0)) for k in cols) + " |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", default="export-dynamo")
    ap.add_argument("--backends", default="onnxruntime,onnxruntime-opt")
    ap.add_argument("--budget", type=float, default=900.0, help="seconds")
    ap.add_argument("--update-baseline", action="store_true")
    args = ap.parse_args()
    baseline = DEFAULT_CORPUS / "baselines" / f"{args.path}.json"
    sweep = Sweep()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        code = run_check(
            args.path, args.backends.split(","), baseline, args.budget, args.update_baseline, out, sweep=sweep
        )
        res = json.loads((out / "results.json").read_text())
        summary = (out / "summary.md").read_text()
    cells = res["cells"]
    status = Counter(c["status"] for c in cells)
    sweep_cases = len({c["case"] for c in cells if not c["case"].startswith("corpus/")})
    corpus_cases = len({c["case"] for c in cells if c["case"].startswith("corpus/")})
    lines = [
        f"## tensorsmith check bench: `{args.path}` on {', '.join(res['targets'])}",
        "",
        f"- wall time {res['seconds']:.0f} s for {sweep_cases} sweep models (sizes {list(sweep.sizes)} x "
        f"{sweep.seeds} seeds, every op) and {corpus_cases} corpus entries; target < {TARGET_S:.0f} s: "
        + ("met" if res["seconds"] < TARGET_S else "NOT met"),
        f"- exit code {code}; statuses {dict(sorted(status.items()))}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(res["versions"].items())),
        "",
        "Verdicts over the sweep (one per model and target):",
        "",
        *table(split(cells, sweep_only=True)),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    print(summary, file=sys.stderr)
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    (results / f"check-{args.path}.md").write_text(text)
    doc = {k: res[k] for k in ("path", "targets", "versions", "seconds", "notes")}
    doc.update(exit_code=code, statuses=status, split={t: dict(c) for t, c in split(cells, sweep_only=True).items()})
    (results / f"check-{args.path}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
