"""Gradient-guided input search: values for a graph's inputs and weights free of NaN, Inf and knife edges.

    result = search(graph, seed, steps=300)
    result.success, result.inputs, result.weights, result.violations

See `search` for the loop, `losses` for the per-op loss table, `proxy` for straight-through gradients.
"""

from fuzzer.search.check import check
from fuzzer.search.descent import search
from fuzzer.search.result import SearchResult, Violation

__all__ = ["SearchResult", "Violation", "check", "search"]
