"""The op types of an ONNX model in canonical topological order (ties broken by op type, then position)."""

from __future__ import annotations

import heapq

import onnx


def op_types(model: bytes | onnx.ModelProto) -> tuple[str, ...]:
    """Op types in a topological order that does not depend on how independent branches were listed."""
    if isinstance(model, bytes):
        model = onnx.load_from_string(model)
    nodes = list(model.graph.node)
    made = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    deps = [{made[x] for x in n.input if x in made and made[x] != i} for i, n in enumerate(nodes)]
    users: list[list[int]] = [[] for _ in nodes]
    for i, ds in enumerate(deps):
        for d in ds:
            users[d].append(i)
    waiting = [len(ds) for ds in deps]
    ready = [(n.op_type, i) for i, n in enumerate(nodes) if not waiting[i]]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        op, i = heapq.heappop(ready)
        out.append(op)
        for u in users[i]:
            waiting[u] -= 1
            if not waiting[u]:
                heapq.heappush(ready, (nodes[u].op_type, u))
    return tuple(out)
