"""Property: the value analysis holds on real runs of generated graphs with random leaves.

Every finite value of a tensor whose inputs were all finite lies in its range, its witnesses are
there (all up to the dtype's rounding), and a finite tensor holds each of its points exactly (an
exact 0 among them). `SOUNDNESS_SEEDS=400` runs more graphs while developing rules.
"""

from __future__ import annotations

import math
import os

import pytest
import torch

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate
from fuzzer.graph.feasibility import facts
from fuzzer.graph.model import Graph
from fuzzer.graph.torch_run import to_torch
from fuzzer.search.leaves import draw
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get

# relative rounding slack per dtype: a few ulps of a sum of many terms (accumulation order differs)
SLACK = {DType.float16: 2e-2, DType.bfloat16: 6e-2, DType.float32: 1e-4, DType.float64: 1e-9}


def run(graph: Graph, gen: torch.Generator) -> tuple[dict[str, torch.Tensor], dict[str, bool]]:
    """All tensors of `graph` on random leaves, and whether each was computed from finite values only."""
    env, clean = {}, {}
    for name in graph.inputs + graph.weights:
        t = graph.tensors[name]
        v = to_torch(graph.values[name]) if name in graph.values and not t.ttype.dtype.is_float else draw(t, gen)
        env[name], clean[name] = v.to(t.ttype.dtype.torch), True
    for node in graph.nodes:
        ins = [env[i] for i in node.inputs]
        ok = all(clean[i] and _finite(env[i]) for i in node.inputs)
        try:
            with torch.no_grad():
                outs = get(node.op).torch(ins, node.attrs)
        except RuntimeError:  # an integer division by 0
            outs = [
                torch.zeros(graph.tensors[o].ttype.shape, dtype=graph.tensors[o].ttype.dtype.torch)
                for o in node.outputs
            ]
            ok = False
        env.update(zip(node.outputs, outs))
        clean.update((o, ok) for o in node.outputs)
    return env, clean


def _finite(t: torch.Tensor) -> bool:
    return not t.is_floating_point() or bool(torch.isfinite(t).all())


def _slack(graph: Graph, name: str, bound: float) -> float:
    """Rounding slack at `bound`: the coarsest float type's (a float32 leaf cast to float64 keeps
    its float32 rounding of the domain's ends)."""
    coarsest = max((SLACK.get(t.ttype.dtype, 0.0) for t in graph.tensors.values()), default=0.0)
    return coarsest * max(1.0, abs(bound)) if math.isfinite(bound) else 0.0


def check(graph: Graph, env: dict[str, torch.Tensor], clean: dict[str, bool]) -> list[str]:
    """What the run contradicts in the facts of `graph`."""
    bad = []
    for name, f in facts(graph).items():
        v = env[name]
        if not clean[name] or not v.numel() or graph.tensors[name].ttype.dtype == DType.bool:
            continue
        d = v.double()
        fin = d[torch.isfinite(d)]
        (lo, hi), (wlo, whi) = f.range, f.witnesses
        if fin.numel() and (fin.min() < lo - _slack(graph, name, lo) or fin.max() > hi + _slack(graph, name, hi)):
            bad.append(f"{name}: values in [{fin.min():.6g}, {fin.max():.6g}], range [{lo:.6g}, {hi:.6g}]")
        if _finite(v) and (d.min() > wlo + _slack(graph, name, wlo) or d.max() < whi - _slack(graph, name, whi)):
            bad.append(f"{name}: values in [{d.min():.6g}, {d.max():.6g}], witnesses {wlo:.6g}, {whi:.6g}")
        if f.zero and _finite(v) and not bool((d == 0).any()):
            bad.append(f"{name}: said to hold an exact 0, smallest magnitude {d.abs().min():.6g}")
        missing = [p for p in sorted(f.points) if _finite(v) and not bool((d == p).any())]
        if missing:  # exact: a point is a value of the dtype, rounding included
            bad.append(f"{name}: said to hold exactly {missing}, values in [{d.min():.6g}, {d.max():.6g}]")
    return bad


@pytest.mark.parametrize("max_nodes", [10, 20, 30])
def test_facts_hold_on_random_leaves(max_nodes: int) -> None:
    gen = torch.Generator().manual_seed(max_nodes)
    for seed in range(int(os.environ.get("SOUNDNESS_SEEDS", "40"))):
        graph, _ = generate(GenConfig(max_nodes=max_nodes), seed)
        for _ in range(2):
            env, clean = run(graph, gen)
            bad = check(graph, env, clean)
            assert not bad, (seed, bad[:3])
