"""The final check: the real implementations, in the graph's real dtypes, judged at the check margins."""

from __future__ import annotations

import numpy as np
import torch

from fuzzer.graph.model import Graph
from fuzzer.graph.torch_run import to_torch
from fuzzer.search.result import Violation
from fuzzer.search.trace import Trace, forward, run

# float dtypes -> the integer dtype of their width, to compare values bit for bit (-0.0 is not 0.0)
_BITS = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


def violations(graph: Graph, trace: Trace) -> list[Violation]:
    """The violated Needs of a judged pass, as reportable values."""
    return [Violation(graph.nodes[i].op, need.tensor, need.reason, count) for i, need, count in trace.violations()]


def check(graph: Graph, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray]) -> list[Violation]:
    """Run `graph` with `weights` as its initializers on `inputs` and judge it.

    The run is fuzzer.graph.torch_run's: each spec's real torch implementation, no proxies, no
    gradients, in the graph's dtypes (an op that raises is reported rather than propagated).
    """
    leaves = {n: to_torch(v) for n, v in {**graph.values, **weights, **inputs}.items()}
    with torch.no_grad():
        return violations(graph, run(graph, leaves, proxy=False))


def confirms(graph: Graph, trace: Trace, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray]) -> bool:
    """Whether the real implementations, run on `inputs` and `weights` as `check` runs them, compute
    every tensor of `trace` bit for bit and raise in the same nodes: then `trace`'s judgement is
    theirs, and a clean trace passes `check` (which this spares a judged pass). False says nothing.
    """
    leaves = {n: to_torch(v) for n, v in {**graph.values, **weights, **inputs}.items()}
    with torch.no_grad():
        env, raised = forward(graph, leaves, proxy=False)
    same = raised == trace.raised and env.keys() == trace.env.keys()
    return same and all(identical(env[n], trace.env[n]) for n in env)


def identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, shape and bits (NaN payloads and signed zeros included)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    a, b = a.detach(), b.detach()
    if a.dtype in _BITS:
        a, b = a.contiguous().view(_BITS[a.dtype]), b.contiguous().view(_BITS[b.dtype])
    return torch.equal(a, b)
