"""Gradient-guided input search: values for a graph's inputs and weights free of NaN, Inf and knife edges.

    result = search(graph, seed, steps=300)
    result.success, result.inputs, result.weights, result.violations, result.infeasible

`descent` is the loop, `losses` the per-op loss table, `proxy` the straight-through gradients,
`exact` says which values carry no rounding error (and so have no knife edges), `check` is the
final judgement on the real implementations. fuzzer.graph.feasibility proves some graphs hopeless
up front (the generator uses it too, to avoid making them).
"""

from fuzzer.search.check import check
from fuzzer.search.descent import search
from fuzzer.search.result import SearchResult, Violation

__all__ = ["SearchResult", "Violation", "check", "search"]
