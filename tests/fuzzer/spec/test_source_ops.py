"""Ops without graph-tensor operands (Range, ConstantOfShape), each alone in a graph, checked three ways.

test_every_op cannot insert them: it generates with forward_p=1.0, and these ops are only ever
inserted backward (replacing a leaf), which the generator refuses for the model's only input.
Here the graph starts from one weight leaf of a type the op can produce, and the generator's
backward insertion replaces it, so the model is exactly that one node (and has no inputs).
"""

from __future__ import annotations

import os

import pytest

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import Generator
from fuzzer.graph.onnx_io import to_onnx
from fuzzer.graph.validate import validate
from fuzzer.spec.base import TType
from fuzzer.spec.registry import all_specs, get
from tests.fuzzer.opcheck import check_three_ways

SEEDS = int(os.environ.get("TENSORSMITH_OP_SEEDS", "6"))
SOURCES = sorted(n for n, s in all_specs().items() if not s.inputs)
TRIES = 40


def single_source_op(name: str, seed: int, opset: int = 21):
    """A graph whose only node is `name`, producing what was a weight leaf; None if no try inserted it."""
    spec = get(name)
    out_tv = spec.output_tvars(opset)[0]
    for attempt in range(TRIES):
        gen = Generator(GenConfig(max_nodes=1, ops=(name,), opset=opset), seed * TRIES + attempt)
        dtypes = sorted(spec.type_set(out_tv, opset) & gen.cfg.dtypes, key=lambda d: d.name)
        rank = gen.rng.choice(getattr(spec, "out_ranks", range(0, 5)))
        gen._add_leaf(TType(gen.rng.choice(dtypes), gen._concrete_shape(rank)), "weight")
        if gen._backward(spec):
            gen._finish()
            return gen.graph
    return None


def test_there_are_source_ops() -> None:
    assert {"Range", "ConstantOfShape"} <= set(SOURCES)


@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("name", SOURCES)
def test_single_source_op(name: str, seed: int) -> None:
    graph = single_source_op(name, seed)
    assert graph is not None, f"could not insert {name} for seed {seed}"
    assert [n.op for n in graph.nodes] == [name]
    model = to_onnx(graph)
    validate(graph, model)
    check_three_ways(graph, model, seed)


@pytest.mark.parametrize("opset", [13, 18, 28])
@pytest.mark.parametrize("name", SOURCES)
def test_source_op_older_opsets(name: str, opset: int) -> None:
    graph = single_source_op(name, 0, opset)
    assert graph is not None, f"could not insert {name} at opset {opset}"
    model = to_onnx(graph)
    validate(graph, model)
    check_three_ways(graph, model, 0)
