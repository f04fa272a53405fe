"""The final check: the real implementations, in the graph's real dtypes, judged at the check margins."""

from __future__ import annotations

import numpy as np
import torch

from fuzzer.graph.model import Graph
from fuzzer.graph.torch_run import to_torch
from fuzzer.search.result import Violation
from fuzzer.search.trace import Trace, run


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
