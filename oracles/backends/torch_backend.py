"""tensorsmith's own PyTorch interpreter of a graph: eager float32, the float64 reference, torch.compile.

Runs only in tensorsmith's interpreter (catalog: needs_graph): `extra[0]` is the pickled `Graph`, and
the specs' `torch` implementations give the semantics. Options:

    {}                  eager, in the graph's own dtypes (fuzzer.graph.torch_run.run_torch)
    {"float64": True}   the float64 reference (fuzzer.graph.torch_module.GraphModule): all float
                        arithmetic in float64; float outputs are float64
    {"compile": True}   torch.compile (Inductor) of a real nn.Module whose forward runs the specs in
                        order; compiled in prepare by one warm-up call, so "compile" is Dynamo/Inductor
                        and "run" is the compiled code

Dynamo's caches are reset before each model: the module class (and so its forward's code object) is
the same for every graph, and without the reset the recompile limit would silently send every model
after the eighth to eager mode. Rejected: `suppress_errors`, which also falls back to eager on an
Inductor failure and would hide exactly the bugs this backend looks for.
"""

from __future__ import annotations

import pickle

import numpy as np
import torch
from stage import stage

from fuzzer.graph.model import Graph
from fuzzer.graph.torch_module import GraphModule
from fuzzer.graph.torch_run import run_torch, to_numpy, to_torch

NAME = "torch"


def version() -> str:
    return torch.__version__


class Prepared:
    def __init__(self, graph: Graph, fn=None):
        self.graph = graph
        self.fn = fn  # None: eager run_torch; else a callable taking the graph inputs in order


def _warmup_inputs(graph: Graph) -> list[torch.Tensor]:
    """Benign inputs of the graph's types (1 clamped into each input's domain) for the first, compiling call."""
    xs = []
    for name in graph.inputs:
        t = graph.tensors[name]
        value = min(max(1.0, t.domain.lo), t.domain.hi)
        xs.append(to_torch(np.full(tuple(int(d) for d in t.ttype.shape), value).astype(t.ttype.dtype.numpy)))
    return xs


def _compile(graph: Graph, options: dict):
    import torch._dynamo
    import torch._inductor.config

    torch._dynamo.reset()
    torch._dynamo.config.automatic_dynamic_shapes = False
    torch._inductor.config.compile_threads = 1  # no compile worker pool on a shared 2-core machine
    module = GraphModule(graph).eval()
    fn = torch.compile(module, backend=options.get("backend", "inductor"), dynamic=False)
    try:
        with torch.no_grad():
            fn(*_warmup_inputs(graph))
    except torch._dynamo.exc.TorchDynamoException:
        raise  # Dynamo or Inductor failed: a compile error
    except Exception:  # the compiled code ran and raised on the warm-up values: the real run will tell
        pass
    return fn


def prepare(model: bytes, options: dict, extra: list[bytes]) -> Prepared:
    torch.set_num_threads(int(options.get("threads", 1)))
    with stage("load"):
        graph = pickle.loads(extra[0])
    if options.get("compile"):
        with stage("compile"):
            return Prepared(graph, _compile(graph, options))
    if options.get("float64"):
        return Prepared(graph, GraphModule(graph, float64=True).eval())
    return Prepared(graph)


def run(handle: Prepared, inputs: dict) -> dict:
    graph = handle.graph
    if handle.fn is None:
        return run_torch(graph, inputs)
    with torch.no_grad():
        outs = handle.fn(*[to_torch(inputs[n]) for n in graph.inputs])
    return {n: to_numpy(t) for n, t in zip(graph.outputs, outs)}
