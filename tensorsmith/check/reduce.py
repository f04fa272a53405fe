"""Shrink a new failure of a check before it becomes an artifact (fuzzer.reduce with the path as predicate).

The predicate reruns the one failing target through the same ConverterPath (so an export failure is
reduced by exporting each candidate) and holds while the verdict keeps its kind and stage; the
output name is left out because reduction renames and drops tensors. Candidates must keep inputs as
clean as the input search demands. Work is bounded by a deadline and a number of predicate calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from fuzzer.graph.model import Graph
from oracles.judge import Verdict
from tensorsmith.check.cases import Case
from tensorsmith.converter import ConverterPath, PathResult


@dataclass
class Reduced:
    case: Case
    verdict: Verdict  # the target's verdict on the reduced case
    result: PathResult  # the run that gave it (exported model, references, outputs)
    info: dict  # the reducer's statistics (ReduceResult.to_json())


def target_verdict(path: ConverterPath, graph: Graph, feeds: dict, target: str) -> tuple[Verdict | None, PathResult]:
    """The target's verdict on (graph, feeds) with its run; the verdict is None if the references fail."""
    r = path.run_test(graph, {n: feeds[n] for n in graph.inputs}, dict(graph.values))
    if r.reference_error is not None:
        return None, r
    v = r.by_target.get(target) or next((x for x in r.verdicts if x.backend == target), Verdict(target, "ok"))
    return v, r


def reduce_failure(
    path: ConverterPath, case: Case, target: str, v: Verdict, *, deadline_s: float, max_calls: int = 200
) -> Reduced | None:
    """The smallest case that still fails `target` the way `v` does; None if no smaller one was found."""
    try:
        from fuzzer.reduce import reduce
        from fuzzer.search import check as search_check
    except ImportError:  # a tensorsmith without the reducer: artifacts keep the original model
        return None

    def still_fails(graph: Graph, feeds: dict) -> bool:
        got, _ = target_verdict(path, graph, feeds, target)
        return got is not None and (got.kind, got.stage) == (v.kind, v.stage)

    def admissible(graph: Graph, feeds: dict) -> bool:
        return not search_check(graph, {n: feeds[n] for n in graph.inputs}, dict(graph.values))

    graph = Graph(case.graph.opset, case.graph.tensors, case.graph.nodes, case.graph.outputs, dict(case.weights))
    result = reduce(graph, case.inputs, still_fails, deadline_s=deadline_s, max_calls=max_calls, admissible=admissible)
    if not result.reproduced or tuple(result.size_after) >= tuple(result.size_before):
        return None
    g = result.graph
    verdict, run = target_verdict(path, g, result.feeds, target)
    if verdict is None or verdict.ok:
        return None
    small = Case(case.id, case.source, g, {n: result.feeds[n] for n in g.inputs}, dict(g.values))
    return Reduced(small, verdict, run, result.to_json())
