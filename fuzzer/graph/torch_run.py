"""Run a graph with the specs' PyTorch implementations (the eager semantics of the ONNX model)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import torch

from fuzzer.graph.model import Graph
from fuzzer.spec.registry import get


def to_torch(arr: np.ndarray) -> torch.Tensor:
    arr = np.asarray(arr)
    if arr.dtype == ml_dtypes.bfloat16:
        return torch.from_numpy(arr.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(arr.copy())


def to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.contiguous().numpy()


def run_torch(graph: Graph, feeds: dict[str, np.ndarray], *, keep_all: bool = False) -> dict[str, np.ndarray]:
    """Outputs of `graph` on `feeds` (graph inputs) using each spec's `torch` implementation.

    With keep_all, every intermediate tensor is returned too.
    """
    env: dict[str, torch.Tensor] = {n: to_torch(v) for n, v in feeds.items()}
    env.update({n: to_torch(v) for n, v in graph.values.items()})
    for node in graph.nodes:
        outs = get(node.op).torch([env[i] for i in node.inputs], node.attrs)
        if len(outs) != len(node.outputs):
            raise AssertionError(f"{node.op}: torch returned {len(outs)} outputs, expected {len(node.outputs)}")
        env.update(zip(node.outputs, outs))
    names = list(graph.tensors) if keep_all else graph.outputs
    return {n: to_numpy(env[n]) for n in names if n in env}
