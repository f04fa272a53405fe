"""Test-case reduction: shrink a failing graph and its inputs while a predicate still holds.

    result = reduce(graph, feeds, predicate, deadline_s=60, max_calls=300)
    result.graph, result.feeds, result.stopped, result.stats

Passes (`structure`, `shapes`, `simplify`) are small, named and deterministic; `driver` runs them
to a fixed point; `check` keeps every candidate a valid model; `case` defines the size order.
"""

from fuzzer.reduce.case import Case, Rejected, size
from fuzzer.reduce.driver import PASSES, PassStats, Reducer, ReduceResult, reduce
from fuzzer.reduce.validity import check

__all__ = ["PASSES", "Case", "PassStats", "ReduceResult", "Reducer", "Rejected", "check", "reduce", "size"]
