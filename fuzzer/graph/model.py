"""The generated graph as plain data: every tensor has a concrete dtype and shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fuzzer.spec.base import DEFAULT_DOMAIN, Domain, TType


@dataclass
class Tensor:
    """A value in the graph. role: "input" (graph input), "weight" (initializer) or "node" (computed)."""

    name: str
    ttype: TType
    role: str
    domain: Domain = DEFAULT_DOMAIN


@dataclass
class Node:
    """One operator application; `op` is the spec's registry name, `attrs` are concrete."""

    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]


@dataclass
class Graph:
    """A generated model. `nodes` is topologically ordered; `values` holds initializer data."""

    opset: int
    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    values: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        return [n for n, t in self.tensors.items() if t.role == "input"]

    @property
    def weights(self) -> list[str]:
        return [n for n, t in self.tensors.items() if t.role == "weight"]

    def producer(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {name: [] for name in self.tensors}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n)
        return out

    def toposort(self) -> None:
        """Order nodes so producers precede consumers; stable on the current order."""
        prod = self.producer()
        done: set[str] = set()
        order: list[Node] = []
        placed: set[int] = set()

        def visit(node: Node, stack: set[int]) -> None:
            if id(node) in placed:
                return
            if id(node) in stack:
                raise ValueError(f"cycle through node {node.op} -> {node.outputs}")
            stack.add(id(node))
            for i in node.inputs:
                if i in prod and i not in done:
                    visit(prod[i], stack)
            stack.discard(id(node))
            placed.add(id(node))
            order.append(node)
            done.update(node.outputs)

        for n in list(self.nodes):
            visit(n, set())
        self.nodes = order

    def path_floats(self) -> dict[str, set[str]]:
        """For each graph output, the names of the float dtypes computed on its way (node outputs
        among its ancestors and itself; leaves are given exactly, so they add no rounding)."""
        seen: dict[str, set[str]] = {}
        for node in self.nodes:  # topological order
            here = set().union(*(seen.get(i, set()) for i in node.inputs)) if node.inputs else set()
            for o in node.outputs:
                dt = self.tensors[o].ttype.dtype
                seen[o] = here | {dt.name} if dt.is_float else set(here)
        return {o: seen.get(o, set()) for o in self.outputs}

    def constant_nodes(self) -> list[Node]:
        """Nodes all of whose inputs are initializers or other constant nodes' outputs."""
        const = set(self.weights)
        out = []
        for n in self.nodes:
            if all(i in const for i in n.inputs):
                const.update(n.outputs)
                out.append(n)
        return out
