"""The generator feeds no op values outside its domain where interval analysis can tell."""

from __future__ import annotations

import math

import pytest

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate
from fuzzer.generate.values import ValueFacts
from fuzzer.graph.feasibility import infeasible, input_requirement, node_requirements
from fuzzer.graph.functions import DECREASING, INCREASING, preimage
from fuzzer.spec.base import DEFAULT_DOMAIN, Domain
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get
from tests.fuzzer.search.build import Chain

# ops with restricted domains and ops whose outputs miss them (always <= 0, exact zeros, >= 1, ...)
RISKY = ("LogSoftmax", "Hardmax", "Cosh", "Exp", "Neg", "Log", "Atanh", "Acosh", "Asin", "Reciprocal", "Div", "Sqrt")


def facts_of(c: Chain) -> ValueFacts:
    v = ValueFacts(c.graph)
    for node in c.graph.nodes:
        v.added(node)
    return v


@pytest.mark.parametrize(
    "op, reader, fits",
    [("LogSoftmax", "Log", False), ("Exp", "Log", True), ("Hardmax", "Reciprocal", False), ("Cosh", "Atanh", False)],
)
def test_facts_tell_which_tensor_an_input_can_take(op: str, reader: str, fits: bool) -> None:
    c = Chain()
    y = c.op(op, c.input("x", DType.float32, (2, 3), Domain(-3.0, 3.0)), **({"axis": 1} if "max" in op else {}))
    assert facts_of(c).fits(y, input_requirement(reader, 0)) == fits


def test_facts_combine_the_requirements_of_every_reader() -> None:
    # Exp's output can feed Acosh (>= 1) or Asin (<= 1) alone, not both at once but at exactly 1
    c = Chain()
    y = c.op("Exp", c.input("x", DType.float32, (4,), Domain(0.5, 3.0)))
    c.op("Acosh", y)
    v = facts_of(c)
    assert v.fits(y) and not v.fits(y, input_requirement("Asin", 0))


@pytest.mark.parametrize("max_nodes", [10, 30])
def test_generated_models_are_never_proven_infeasible(max_nodes: int) -> None:
    # regression: seeds 8, 27, 44, 59 (LogSoftmax into Log, a leaf narrowed for Acosh then Asin, ...)
    for seed in range(60):
        graph, _ = generate(GenConfig(max_nodes=max_nodes), seed)
        assert infeasible(graph) == {}, seed


def test_risky_ops_are_still_generated_and_never_infeasible() -> None:
    seen = set()
    for seed in range(40):
        graph, stats = generate(GenConfig(max_nodes=15, ops=RISKY), seed)
        assert infeasible(graph) == {}, seed
        seen.update(get(n.op).op_type for n in graph.nodes)
    assert seen == set(RISKY)


def test_leaf_domains_fit_every_reader() -> None:
    # regression: a leaf read by Acosh (>= 1.01) and then by Asin (<= 0.99) was narrowed to Asin's
    # domain alone (Domain.meet falls back to the newer domain when the two do not meet)
    for seed in range(60):
        graph, _ = generate(GenConfig(max_nodes=20), seed)
        for node in graph.nodes:
            for k, name in enumerate(node.inputs):
                t, want = graph.tensors[name], get(node.op).input_at(k).domain
                if t.role != "node" and want != DEFAULT_DOMAIN:
                    assert want.lo <= t.domain.lo and t.domain.hi <= want.hi, (seed, node.op, name, t.domain)


def test_restricted_inputs_mostly_read_values_inside_their_domain() -> None:
    # SAFE_P: mostly a tensor whose every value meets the requirement, sometimes one the search steers
    inside = outside = 0
    for seed in range(40):
        graph, _ = generate(GenConfig(max_nodes=15, ops=RISKY), seed)
        v = ValueFacts(graph)
        for node in graph.nodes:
            v.added(node)
        for node in graph.nodes:
            for k, req in node_requirements(node, graph).items():
                if graph.tensors[node.inputs[k]].role == "node":
                    ok = v.within(node.inputs[k], req)
                    inside, outside = inside + ok, outside + (not ok)
    assert outside > 0 and inside > 2 * outside, (inside, outside)


def test_preimage_through_monotone_functions() -> None:
    lo, hi = preimage(INCREASING["Exp"], (0.1, 4.0), (-3.0, 3.0))
    assert lo == pytest.approx(math.log(0.1)) and hi == pytest.approx(math.log(4.0))
    assert preimage(INCREASING["Relu"], (0.1, 4.0), (-3.0, 3.0)) == pytest.approx((0.1, 3.0))
    assert preimage(DECREASING["Neg"], (0.1, 4.0), (-3.0, 3.0)) == pytest.approx((-3.0, -0.1))
    assert preimage(INCREASING["Tanh"], (2.0, 4.0), (-3.0, 3.0)) is None


def test_pullback_finds_the_leaf_and_its_values() -> None:
    # regression (search_bench, 10 nodes, seed 33): Acosh(Asin(Squeeze(x))) needs x in [sin(1.01), 1],
    # but only Asin's input was narrowed, and only for a leaf read directly
    c = Chain()
    x = c.input("x", DType.float32, (2, 3, 1), Domain(-3.0, 3.0))
    y = c.op("Asin", c.op("Neg", c.op("Squeeze", x, _axes=[2])))
    leaf, (lo, hi) = facts_of(c).pullback(y, (1.01, 5.0))
    assert leaf == x and lo == -3.0 and hi == pytest.approx(-math.sin(1.01))
    z = c.op("Add", y, y)  # not through a single-input op
    assert facts_of(c).pullback(z, (1.01, 5.0)) is None


def test_a_narrow_band_is_not_a_plausible_risk() -> None:
    # regression (search_bench, 30 nodes, seeds 77, 130): Acosh (> 1) of an Asin of a sum, whose
    # values the search had to push into the top fifth of (-pi/2, pi/2); an Exp is plausible, and
    # so is an Asin of a leaf, which the generator narrows
    c = Chain()
    x = c.input("x", DType.float32, (4,), Domain(-3.0, 3.0))
    s = c.op("Asin", c.op("Add", x, x))
    e, a = c.op("Exp", x), c.op("Asin", c.input("z", DType.float32, (4,), Domain(-1.0, 1.0)))
    v, req = facts_of(c), input_requirement("Acosh", 0)
    assert v.fits(s, req) and not v.plausible(s, req)
    assert v.plausible(e, req) and v.plausible(a, req) and v.plausible(x, req)


def test_pow_bases_are_mostly_positive() -> None:
    # Pow's float base must be > 0 when the exponent is a float: preferred already when picked
    positive = total = 0
    for seed in range(60):
        graph, _ = generate(GenConfig(max_nodes=20, ops=("Pow", "Neg", "Exp", "Sin", "Add")), seed)
        v = ValueFacts(graph)
        for node in graph.nodes:
            v.added(node)
        for node in graph.nodes:
            if node.op.startswith("Pow") and graph.tensors[node.inputs[0]].ttype.dtype.is_float:
                total += 1
                positive += v.fact(node.inputs[0]).range[0] > 0
    assert total > 20 and positive >= 0.7 * total, (positive, total)
