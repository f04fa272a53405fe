"""Reduction benchmark: how small findings get, how fast, and how well their titles bucket them.

    python bench/reduce_bench.py campaign -o /tmp/rb --backends tvm,openvino,onnxruntime --tests 500
    python bench/reduce_bench.py reduce /tmp/rb --work /tmp/rb-reduced [--deadline 60]
    python bench/reduce_bench.py report /tmp/rb-reduced [--json bench/results/reduce.json] [--sample 12] [--retitle]

`campaign` runs an ordinary campaign that also stores each finding's graph (graph.pkl), so the
findings can be reduced even after the generator changes. `reduce` copies every finding to the
work folder and reduces the copy, reusing one worker per backend; one JSON line per finding goes
to work/results.jsonl (resumable). `report` prints median/worst nodes and seconds, the share that
keeps its signature, buckets per 100 findings before (titles of the unreduced findings) and after
reduction, and a sample of buckets with their members for reading by hand.
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_campaign(args) -> None:
    from fuzzer.generate.config import GenConfig
    from tensorsmith.campaign import Campaign, CampaignConfig

    class KeepGraphs(Campaign):
        """A campaign that writes graph.pkl next to each finding (what the reducer rebuilds from)."""

        def _finding(self, seed, index, spec, v, blame, graph, *rest) -> None:
            before = set(p.name for p in (self.out / "findings").iterdir())
            super()._finding(seed, index, spec, v, blame, graph, *rest)
            for p in (self.out / "findings").iterdir():
                if p.name not in before and not p.name.startswith("."):
                    (p / "graph.pkl").write_bytes(pickle.dumps(graph))

    cfg = CampaignConfig(
        backends=tuple(args.backends.split(",")),
        out=Path(args.out),
        seed=args.seed,
        tests=args.tests,
        gen=GenConfig(max_nodes=args.max_nodes),
        timeout_s=args.timeout,
        reduce_s=0,  # signed only: reduce_all below reduces and measures
    )
    stats = KeepGraphs(cfg).run()
    print(f"{stats.tests} tests, {stats.findings} findings in {args.out}")


def reduce_all(args) -> None:
    from oracles.backends.catalog import parse_backend
    from oracles.backends.process import BackendProcess
    from tensorsmith.reduction import reduce_finding

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "results.jsonl"
    done = {json.loads(x)["finding"] for x in log.read_text().splitlines()} if log.exists() else set()
    procs: dict[str, BackendProcess] = {}
    folders = sorted(p for p in (Path(args.campaign) / "findings").iterdir() if (p / "meta.json").exists())
    if args.limit:
        folders = folders[: args.limit]
    try:
        for src in folders:
            if src.name in done:
                continue
            dst = work / "findings" / src.name
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)
            meta = json.loads((dst / "meta.json").read_text())
            for name in (meta["backend"], "torch", "torch-f64"):
                if name not in procs:
                    procs[name] = BackendProcess(parse_backend(name), timeout_s=args.timeout)
            t0 = time.perf_counter()
            r = reduce_finding(dst, deadline_s=args.deadline, max_calls=args.max_calls, procs=procs)
            row = dict(r.to_json(), finding=src.name, title=r.title, wall=time.perf_counter() - t0)
            row.update(kind=meta["kind"], backend=meta["backend"])
            with open(log, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(
                f"{src.name}: {r.status} {r.nodes_before}->{r.nodes_after} in {r.seconds:.1f}s  {r.title}", flush=True
            )
    finally:
        for p in procs.values():
            p.close()


def _key(title: str) -> str:
    return title.rsplit(" [", 1)[0]


def report(args) -> dict:
    rows = [json.loads(x) for x in (Path(args.work) / "results.jsonl").read_text().splitlines()]
    if args.retitle:  # titles from the folders with today's signature rules (no new reduction)
        from tensorsmith.reduction import sign_finding

        for r in rows:
            folder = Path(args.work) / "findings" / r["finding"]
            r["title"] = sign_finding(folder).title
            original = folder / "original"
            r["title_before"] = sign_finding(original if original.exists() else folder).title
    reduced = [r for r in rows if r["status"] in ("reduced", "unchanged")]
    n = len(rows)
    out = {
        "findings": n,
        "status": _count(r["status"] for r in rows),
        "nodes_before": _spread([r["nodes_before"] for r in rows]),
        "nodes_after": _spread([r["nodes_after"] for r in rows]),
        "nodes_after_reduced": _spread([r["nodes_after"] for r in reduced]),
        "seconds": _spread([r["seconds"] for r in rows]),
        "keeps_signature": round(len(reduced) / n, 3) if n else 0.0,
        "buckets_per_100": {
            "before": _per100({r["title_before"] for r in rows}, n),
            "after": _per100({r["title"] for r in rows}, n),
            "before_without_ops": _per100({_key(r["title_before"]) for r in rows}, n),
            "after_without_ops": _per100({_key(r["title"]) for r in rows}, n),
        },
        "buckets": {"before": len({r["title_before"] for r in rows}), "after": len({r["title"] for r in rows})},
    }
    print(json.dumps(out, indent=1))
    _print_buckets(rows, args.sample)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return out


def _count(items) -> dict:
    c: dict = defaultdict(int)
    for x in items:
        c[x] += 1
    return dict(c)


def _spread(xs: list[float]) -> dict:
    if not xs:
        return {}
    return {
        "median": round(statistics.median(xs), 2),
        "worst": round(max(xs), 2),
        "mean": round(statistics.mean(xs), 2),
    }


def _per100(titles: set, n: int) -> float:
    return round(100 * len(titles) / n, 1) if n else 0.0


def _print_buckets(rows: list[dict], sample: int) -> None:
    """Buckets after reduction, biggest first, with their members' titles before (for reading by hand)."""
    buckets: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        buckets[r["title"]].append(r)
    print(f"\n{len(buckets)} buckets after reduction:")
    for title, members in sorted(buckets.items(), key=lambda kv: (-len(kv[1]), kv[0]))[: sample or None]:
        print(f"\n[{len(members)}] {title}")
        for r in members[:4]:
            print(f"      {r['finding']}  {r['nodes_before']}->{r['nodes_after']}  {r['status']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("campaign")
    c.add_argument("-o", "--out", required=True)
    c.add_argument("--backends", default="tvm,openvino,onnxruntime")
    c.add_argument("--tests", type=int, default=500)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--max-nodes", type=int, default=10)
    c.add_argument("--timeout", type=float, default=60.0)
    r = sub.add_parser("reduce")
    r.add_argument("campaign")
    r.add_argument("--work", required=True)
    r.add_argument("--deadline", type=float, default=60.0)
    r.add_argument("--max-calls", type=int, default=300)
    r.add_argument("--timeout", type=float, default=30.0)
    r.add_argument("--limit", type=int, default=0)
    p = sub.add_parser("report")
    p.add_argument("work")
    p.add_argument("--json")
    p.add_argument("--sample", type=int, default=0)
    p.add_argument("--retitle", action="store_true", help="recompute titles with the current signature rules")
    args = ap.parse_args()
    {"campaign": run_campaign, "reduce": reduce_all, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
