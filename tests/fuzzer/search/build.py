"""Small hand-built graphs for the search tests: a chain of ops over given leaves."""

from __future__ import annotations

import numpy as np
import torch

from fuzzer.graph.model import Graph, Node, Tensor
from fuzzer.graph.torch_run import to_torch
from fuzzer.spec.base import DEFAULT_DOMAIN, Domain, TType
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get

BY_TORCH = {d.torch: d for d in DType}


class Chain:
    """Builds a Graph op by op; leaves are inputs (random) or weights (given values)."""

    def __init__(self, opset: int = 21) -> None:
        self.graph = Graph(opset=opset)
        self.env: dict[str, torch.Tensor] = {}

    def input(self, name: str, dtype: DType, shape: tuple[int, ...], domain: Domain = DEFAULT_DOMAIN) -> str:
        self.graph.tensors[name] = Tensor(name, TType(dtype, shape), "input", domain)
        self.env[name] = torch.ones(shape, dtype=dtype.torch)  # stand-in, only for output types
        return name

    def weight(self, name: str, values, dtype: DType = DType.float32, domain: Domain = DEFAULT_DOMAIN) -> str:
        arr = np.asarray(values, dtype=dtype.numpy)
        self.graph.tensors[name] = Tensor(name, TType(dtype, arr.shape), "weight", domain)
        self.graph.values[name] = arr
        self.env[name] = to_torch(arr)
        return name

    def op(self, op: str, *inputs: str, n_out: int = 1, **attrs) -> str | list[str]:
        """Append `op` on `inputs`; output types come from running the spec on stand-in values."""
        ys = get(op).torch([self.env[i] for i in inputs], attrs)
        names = []
        for y in ys[:n_out]:
            name = f"y{len(self.graph.tensors)}"
            self.graph.tensors[name] = Tensor(name, TType(BY_TORCH[y.dtype], tuple(y.shape)), "node")
            self.env[name] = y
            names.append(name)
        self.graph.nodes.append(Node(op, list(inputs), names, attrs))
        return names[0] if n_out == 1 else names

    def done(self, *outputs: str) -> Graph:
        consumed = {i for n in self.graph.nodes for i in n.inputs}
        last = [o for n in self.graph.nodes for o in n.outputs if o not in consumed]
        self.graph.outputs = list(outputs) or last
        return self.graph
