"""Every registered op, alone in a graph, for many seeds: valid ONNX and the same numbers three ways."""

from __future__ import annotations

import os

import pytest

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate
from fuzzer.graph.onnx_io import to_onnx
from fuzzer.graph.validate import validate
from fuzzer.spec.registry import all_specs
from tests.fuzzer.opcheck import check_three_ways

SEEDS = int(os.environ.get("TENSORSMITH_OP_SEEDS", "6"))
# ops without graph-tensor operands (Range, ConstantOfShape) are inserted only backward: test_source_ops.py
NAMES = sorted(n for n, s in all_specs().items() if s.inputs)


def single_op(name: str, seed: int, opset: int = 21):
    cfg = GenConfig(max_nodes=1, ops=(name,), opset=opset, forward_p=1.0, tries_per_node=40)
    graph, _ = generate(cfg, seed)
    return graph


@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("name", NAMES)
def test_single_op(name: str, seed: int) -> None:
    graph = single_op(name, seed)
    assert [n.op for n in graph.nodes] == [name], f"could not insert {name} for seed {seed}"
    model = to_onnx(graph)
    validate(graph, model)
    check_three_ways(graph, model, seed)


def test_at_least_100_op_types() -> None:
    assert len({s.op_type for s in all_specs().values()}) >= 100
