"""A graph as a torch.nn.Module (the specs' torch semantics), optionally as the float64 reference.

Used by the torch backends (eager float64, torch.compile), the exporters (the module they export) and
the campaign's producers, which compute the float32 and float64 references next to the input search.
"""

from __future__ import annotations

import numpy as np
import torch

from fuzzer.graph.model import Graph
from fuzzer.graph.torch_run import to_numpy, to_torch
from fuzzer.spec.registry import get

FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def widen(t: torch.Tensor) -> torch.Tensor:
    """A float tensor as float64 (the float64 reference's arithmetic); others unchanged."""
    return t.to(torch.float64) if t.dtype in FLOATS else t


class GraphModule(torch.nn.Module):
    """forward(*graph inputs) -> tuple of graph outputs; weights are buffers.

    With float64, float inputs and weights are cast to float64 and so is every float node output
    after its node, so all float arithmetic is float64 (integer and bool tensors are unchanged).
    """

    def __init__(self, graph: Graph, *, float64: bool = False):
        super().__init__()
        self.float64 = float64
        self.input_names = list(graph.inputs)
        self.output_names = list(graph.outputs)
        self.steps = [(get(n.op), list(n.inputs), list(n.outputs), dict(n.attrs)) for n in graph.nodes]
        self.buffer_of: dict[str, str] = {}
        for k, (name, value) in enumerate(graph.values.items()):
            self.register_buffer(f"w{k}", self._widen(to_torch(value)))
            self.buffer_of[name] = f"w{k}"

    def _widen(self, t: torch.Tensor) -> torch.Tensor:
        return widen(t) if self.float64 else t

    def forward(self, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        env = {n: self._widen(x) for n, x in zip(self.input_names, xs)}
        env.update({n: getattr(self, b) for n, b in self.buffer_of.items()})
        for spec, ins, outs, attrs in self.steps:
            results = spec.torch([env[i] for i in ins], attrs)
            if len(results) != len(outs):
                raise AssertionError(f"{spec.op_type}: torch returned {len(results)} outputs, expected {len(outs)}")
            env.update(zip(outs, (self._widen(r) for r in results)))
        return tuple(env[n] for n in self.output_names)


def run_float64(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The float64 reference outputs of `graph` on `feeds` (float outputs come back as float64)."""
    module = GraphModule(graph, float64=True).eval()
    with torch.no_grad():
        outs = module(*[to_torch(feeds[n]) for n in graph.inputs])
    return {n: to_numpy(t) for n, t in zip(graph.outputs, outs)}
