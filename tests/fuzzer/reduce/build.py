"""Tiny graphs for the reducer tests, built op by op with types taken from the specs' torch code."""

from __future__ import annotations

import numpy as np

from fuzzer.graph.model import Graph, Node, Tensor
from fuzzer.graph.torch_run import run_torch, to_torch
from fuzzer.spec.base import DEFAULT_DOMAIN, Domain, TType
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get

BY_TORCH = {d.torch: d for d in DType}


class Build:
    """`b = Build(); x = b.input((2, 3)); y = b.op("Relu", x); g, feeds = b.done()`."""

    def __init__(self, opset: int = 21, seed: int = 0) -> None:
        self.graph = Graph(opset=opset)
        self.feeds: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng(seed)

    def _leaf(self, role: str, shape, dtype: DType, domain: Domain, values) -> str:
        name = f"t{len(self.graph.tensors) + 1}"
        if values is None:
            values = self.rng.uniform(domain.lo, domain.hi, size=shape)
        arr = np.asarray(values, dtype=dtype.numpy)
        self.graph.tensors[name] = Tensor(name, TType(dtype, arr.shape), role, domain)
        (self.feeds if role == "input" else self.graph.values)[name] = arr
        return name

    def input(self, shape=(2, 3), dtype=DType.float32, domain=DEFAULT_DOMAIN, values=None) -> str:
        return self._leaf("input", shape, dtype, domain, values)

    def weight(self, shape=(2, 3), dtype=DType.float32, domain=DEFAULT_DOMAIN, values=None) -> str:
        return self._leaf("weight", shape, dtype, domain, values)

    def op(self, op: str, *inputs: str, **attrs) -> str:
        env = run_torch(self.graph, self.feeds, keep_all=True)
        ys = get(op).torch([to_torch(env[i]) for i in inputs], attrs)
        names = []
        for y in ys:
            name = f"t{len(self.graph.tensors) + 1}"
            self.graph.tensors[name] = Tensor(name, TType(BY_TORCH[y.dtype], tuple(y.shape)), "node")
            names.append(name)
        self.graph.nodes.append(Node(op, list(inputs), names, attrs))
        return names[0]

    def done(self, *outputs: str) -> tuple[Graph, dict[str, np.ndarray]]:
        consumed = {i for n in self.graph.nodes for i in n.inputs}
        self.graph.outputs = list(outputs) or [o for n in self.graph.nodes for o in n.outputs if o not in consumed]
        return self.graph, self.feeds


def ops(graph: Graph) -> list[str]:
    return [n.op for n in graph.nodes]


def has(*names: str):
    """A predicate: the graph contains every one of these ops."""

    def pred(graph: Graph, feeds) -> bool:
        present = set(ops(graph))
        return all(n in present for n in names)

    return pred
