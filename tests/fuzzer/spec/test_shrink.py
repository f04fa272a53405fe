"""Shrink on integer inputs: ONNX leaves a fractional bias undefined (how x -+ bias returns to T)."""

from __future__ import annotations

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate
from fuzzer.spec.dtypes import DType


def test_integer_shrink_gets_a_whole_bias() -> None:
    """Regression (bench/results/findings.md): ORT truncates x - 0.7 in floating point, TVM and
    OpenVINO cast 0.7 to 0 first; 42 findings of one campaign were that disagreement."""
    cfg = GenConfig(max_nodes=3, ops=("Shrink",), dtypes=frozenset({DType.int8, DType.int32, DType.uint8}))
    biases, lambds = [], []
    for seed in range(40):
        graph, _ = generate(cfg, seed)
        for node in graph.nodes:
            if node.op == "Shrink" and not graph.tensors[node.inputs[0]].ttype.dtype.is_float:
                biases.append(node.attrs["bias"])
                lambds.append(node.attrs["lambd"])
    assert len(biases) >= 20
    assert all(float(b).is_integer() and b >= 0 for b in biases), biases
    assert any(not float(v).is_integer() for v in lambds)  # a fractional lambd is still drawn (it is well defined)
