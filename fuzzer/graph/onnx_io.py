"""Write a `Graph` as an ONNX ModelProto (deterministic bytes for a given graph)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

import tensorsmith
from fuzzer.graph.model import Graph, Node
from fuzzer.spec.registry import get


class Emitter:
    """What a spec's `emit` sees: its operand names and ways to add nodes and constants."""

    def __init__(self, model: _Builder, node: Node):
        self._b = model
        self.inputs = list(node.inputs)
        self.outputs = list(node.outputs)
        self.opset = model.graph.opset
        self.in_dtypes = [model.graph.tensors[i].ttype.dtype for i in node.inputs]
        self._node = node

    def const(self, value: Any, dtype=np.int64, hint: str = "c") -> str:
        arr = np.asarray(value, dtype=dtype)
        return self._b.add_const(arr, f"{self._node.outputs[0]}.{hint}")

    def tmp(self, hint: str = "t") -> str:
        return self._b.fresh(f"{self._node.outputs[0]}.{hint}")

    def node(self, op_type: str, inputs: list[str], outputs: list[str], **attrs: Any) -> None:
        self._b.nodes.append(helper.make_node(op_type, inputs, outputs, name=self._b.fresh("n"), **attrs))


class _Builder:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._names: set[str] = set(graph.tensors)
        self._count = 0

    def fresh(self, hint: str) -> str:
        while True:
            self._count += 1
            name = f"{hint}{self._count}"
            if name not in self._names:
                self._names.add(name)
                return name

    def add_const(self, arr: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name


def value_info(name: str, t) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, t.ttype.dtype.onnx, [int(d) for d in t.ttype.shape])


def to_onnx(graph: Graph) -> onnx.ModelProto:
    """The ONNX model of `graph` at its opset, with initializers and graph outputs."""
    b = _Builder(graph)
    for node in graph.nodes:
        get(node.op).emit(Emitter(b, node), node.attrs)
    weights = [
        numpy_helper.from_array(np.asarray(graph.values[n], dtype=graph.tensors[n].ttype.dtype.numpy), n)
        for n in graph.weights
    ]
    g = helper.make_graph(
        b.nodes,
        "tensorsmith",
        [value_info(n, graph.tensors[n]) for n in graph.inputs],
        [value_info(n, graph.tensors[n]) for n in graph.outputs],
        initializer=weights + b.inits,
    )
    model = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", graph.opset)],
        producer_name="tensorsmith",
        producer_version=tensorsmith.__version__,
    )
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", graph.opset)])
    return model
