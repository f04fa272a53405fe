"""Gradient-guided input search: values for a graph's inputs and weights free of NaN, Inf and knife edges.

    result = search(graph, seed, steps=300)
    result.success, result.inputs, result.weights, result.violations, result.infeasible

`descent` is the loop, `losses` the per-op loss table, `proxy` the straight-through gradients,
`exact` says which values carry no rounding error (and so have no knife edges), `feasibility`
proves some graphs hopeless up front, `check` is the final judgement on the real implementations.
"""

from fuzzer.search.check import check
from fuzzer.search.descent import search
from fuzzer.search.result import SearchResult, Violation

__all__ = ["SearchResult", "Violation", "check", "search"]
