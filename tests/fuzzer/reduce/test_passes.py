"""Each pass on a small graph, with a predicate that names what must survive (one line each)."""

from __future__ import annotations

import numpy as np
import pytest

from fuzzer.reduce import Reducer, Rejected, check, reduce
from fuzzer.reduce.case import Case, size
from fuzzer.reduce.driver import BUDGET, DEADLINE, FIXED_POINT, NOT_REPRODUCIBLE
from fuzzer.reduce.shapes import shrink_dims
from fuzzer.reduce.simplify import simplify_attrs, simplify_values
from fuzzer.reduce.structure import bypass, cut_to_constant, cut_to_input, drop_output, drop_tail
from fuzzer.spec.base import Domain
from tests.fuzzer.reduce.build import Build, has, ops


def chain(*names: str, shape=(2, 3)):
    b = Build()
    t = b.input(shape)
    for n in names:
        t = b.op(n, t)
    return b.done()


def only(*passes):
    return {"passes": passes}


def test_drop_tail_keeps_what_the_predicate_needs() -> None:
    assert ops(reduce(*chain("Neg", "Abs", "Relu", "Sigmoid"), has("Abs"), **only(drop_tail)).graph) == ["Neg", "Abs"]


def test_cut_to_input_replaces_the_upstream_subgraph() -> None:
    r = reduce(*chain("Neg", "Abs", "Relu"), has("Relu"), **only(cut_to_input))
    assert ops(r.graph) == ["Relu"] and r.graph.inputs == r.graph.nodes[0].inputs and not r.graph.weights


def test_cut_to_constant_makes_an_initializer_with_the_computed_value() -> None:
    g, feeds = chain("Neg", "Abs", "Relu")
    r = reduce(g, feeds, has("Relu"), **only(cut_to_constant))
    (w,) = r.graph.weights
    assert ops(r.graph) == ["Relu"] and not r.graph.inputs
    assert np.array_equal(r.graph.values[w], np.abs(-feeds[g.inputs[0]]))


def test_bypass_removes_a_node_in_the_middle() -> None:
    assert ops(reduce(*chain("Neg", "Relu", "Sigmoid"), has("Neg", "Sigmoid"), **only(bypass)).graph) == [
        "Neg",
        "Sigmoid",
    ]


def test_drop_output_keeps_the_one_that_matters() -> None:
    b = Build()
    x = b.input()
    y, z = b.op("Relu", x), b.op("Abs", x)
    r = reduce(*b.done(y, z), has("Abs"), **only(drop_output))
    assert r.graph.outputs == [z] and ops(r.graph) == ["Abs"]


def test_shrink_dims_keeps_broadcast_operands_aligned() -> None:
    b = Build()
    x, w = b.input((4, 6)), b.weight((1, 6))
    r = reduce(*b.done(b.op("Add", x, w)), has("Add"), **only(shrink_dims))
    assert {tuple(t.ttype.shape) for t in r.graph.tensors.values()} == {(1, 1)}


def test_simplify_values_goes_to_zeros_within_the_domain() -> None:
    b = Build()
    x = b.input((3,))
    w = b.weight((3,), domain=Domain(1, 5), values=[1.5, 2.5, 4.0])
    r = reduce(*b.done(b.op("Div", x, w)), has("Div"), **only(simplify_values))
    assert not r.feeds[x].any() and r.graph.values[w].tolist() == [1.0, 1.0, 1.0]


def test_simplify_attrs_moves_toward_the_onnx_default() -> None:
    g, feeds = chain("LeakyRelu")
    g.nodes[0].attrs = {"alpha": 0.37}
    r = reduce(g, feeds, has("LeakyRelu"), **only(simplify_attrs))
    assert r.graph.nodes[0].attrs["alpha"] in (None, pytest.approx(0.01))


def test_values_matter_to_the_predicate_are_kept() -> None:
    def big(graph, feeds) -> bool:
        return any(float(np.max(v)) > 2.5 for v in feeds.values())

    b = Build()
    x = b.input((3,), values=[0.5, 2.9, -1.0])
    r = reduce(*b.done(b.op("Relu", x)), big)
    assert big(r.graph, r.feeds) and size(Case(r.graph, r.feeds)) < r.size_before


def test_all_passes_reach_a_single_node() -> None:
    r = reduce(*chain("Neg", "Abs", "Relu", "Sigmoid", "Exp", shape=(3, 4, 5)), has("Relu"))
    assert r.stopped == FIXED_POINT and ops(r.graph) == ["Relu"]
    assert r.size_after[:2] == (1, 2)  # one node; a scalar-like input and output
    check(Case(r.graph, r.feeds))


def test_input_that_does_not_fail_is_reported_not_reduced() -> None:
    r = reduce(*chain("Relu", "Abs"), has("Sigmoid"))
    assert r.stopped == NOT_REPRODUCIBLE and r.calls == 1 and ops(r.graph) == ["Relu", "Abs"]


def test_budget_keeps_partial_progress() -> None:
    r = reduce(*chain("Neg", "Abs", "Relu", "Sigmoid"), has("Abs"), max_calls=3)  # the input's call counts
    assert r.stopped == BUDGET and r.calls == 3 and ops(r.graph) == ["Neg", "Abs"]


def test_deadline_keeps_partial_progress() -> None:
    ticks = iter(range(1000))
    r = Reducer(has("Abs"), deadline_s=6, clock=lambda: float(next(ticks))).run(*chain("Neg", "Abs", "Relu", "Sigmoid"))
    assert r.stopped == DEADLINE and "Abs" in ops(r.graph) and r.reproduced


def test_no_candidate_is_judged_twice() -> None:
    seen: list[str] = []

    def pred(graph, feeds) -> bool:
        seen.append(Case(graph, feeds).digest())
        return "Abs" in ops(graph)

    reduce(*chain("Neg", "Abs", "Relu", "Sigmoid"), pred)
    assert len(seen) == len(set(seen))


def test_bad_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="max_calls=0"):
        Reducer(has("Abs"), max_calls=0)
    with pytest.raises(ValueError, match="repeat"):
        Reducer(has("Abs"), passes=(drop_tail, drop_tail))


def split_graph(num_outputs: int):
    b = Build()
    x = b.input((5, 1, 1))
    g, feeds = b.done(b.op("Split", x, axis=0, num_outputs=2, _sizes=[3, 2], _how="num_outputs"))
    g.nodes[0].attrs["num_outputs"] = num_outputs
    return g, feeds


def test_a_candidate_that_crashes_onnx_is_rejected_not_fatal() -> None:
    # regression: ONNX's shape inference aborts the process on Split with num_outputs != its outputs
    with pytest.raises(Rejected, match="crashed"):
        check(Case(*split_graph(1), novel=True))
    r = reduce(*split_graph(2), has("Split"), **only(simplify_attrs))
    assert r.graph.nodes[0].attrs["num_outputs"] == 2
