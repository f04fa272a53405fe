"""Properties of the reducer on generated graphs: the result still fails the same way and is no larger."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate, leaf_values
from fuzzer.graph.model import Graph
from fuzzer.graph.torch_run import run_torch
from fuzzer.reduce import Case, Rejected, check, reduce, size
from fuzzer.spec.registry import get

CONFIG = GenConfig(max_nodes=6)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def generated(seed: int) -> tuple[Graph, dict]:
    graph, _ = generate(CONFIG, seed)
    rng = np.random.default_rng(seed)
    return graph, {n: leaf_values(rng, graph.tensors[n]) for n in graph.inputs}


def op_types(graph: Graph) -> set[str]:
    return {get(n.op).op_type for n in graph.nodes}


def valid(graph: Graph, feeds: dict) -> bool:
    try:
        check(Case(graph, feeds))
        return True
    except Rejected:
        return False


@SETTINGS
@given(seed=st.integers(0, 10_000), pick=st.integers(0, 100))
def test_reduced_graph_still_has_the_op_and_is_no_larger(seed: int, pick: int) -> None:
    graph, feeds = generated(seed)
    if not valid(graph, feeds):
        return  # the generator's own property, tested in tests/fuzzer/generate
    target = get(graph.nodes[pick % len(graph.nodes)].op).op_type

    def pred(g: Graph, f: dict) -> bool:
        return target in op_types(g)

    r = reduce(graph, feeds, pred, max_calls=200)
    assert pred(r.graph, r.feeds) and valid(r.graph, r.feeds)
    assert size(Case(r.graph, r.feeds)) <= r.size_before and len(r.graph.nodes) <= len(graph.nodes)
    assert len(r.graph.nodes) <= 3, [n.op for n in r.graph.nodes]  # an op, plus at most its source ops


@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_value_predicate_holds_on_the_result(seed: int) -> None:
    graph, feeds = generated(seed)
    if not valid(graph, feeds):
        return

    def pred(g: Graph, f: dict) -> bool:  # "some output has a large value": depends on values, not only ops
        outs = [np.nan_to_num(np.asarray(v, np.float64), nan=0, posinf=0, neginf=0) for v in run_torch(g, f).values()]
        return any(v.size and float(np.abs(v).max()) > 1.5 for v in outs)

    r = reduce(graph, feeds, pred, max_calls=200)
    assert pred(r.graph, r.feeds) == r.reproduced and valid(r.graph, r.feeds)
    assert size(Case(r.graph, r.feeds)) <= r.size_before


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_reduction_is_deterministic(seed: int) -> None:
    graph, feeds = generated(seed)
    if not valid(graph, feeds):
        return
    target = get(graph.nodes[-1].op).op_type

    def pred(g: Graph, f: dict) -> bool:
        return target in op_types(g)

    a, b = (reduce(graph, feeds, pred) for _ in range(2))
    assert Case(a.graph, a.feeds).digest() == Case(b.graph, b.feeds).digest()
