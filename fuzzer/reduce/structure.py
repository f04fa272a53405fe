"""Passes that remove nodes: drop the tail, drop an output, cut a subgraph to a leaf, bypass a node.

A pass is a function `case -> iterator of candidates`, best first (the candidate that removes the
most comes first, so the first success is the biggest step). It yields a `Case`, or a `Rejected`
when it knows at once that an edit is invalid (the reducer counts it and moves on).
"""

from __future__ import annotations

from collections.abc import Iterator

from fuzzer.reduce.case import Case, Rejected, cone, make_leaf, prune, rename_uses


def drop_tail(case: Case) -> Iterator[Case | Rejected]:
    """Make one computed tensor the only output, dropping everything downstream of and beside it."""
    g = case.graph
    order = [o for n in g.nodes for o in n.outputs]
    for name in sorted(order, key=lambda o: cone(g, o)):
        if g.outputs != [name]:
            c = case.copy()
            c.graph.outputs = [name]
            yield prune(c)


def drop_output(case: Case) -> Iterator[Case | Rejected]:
    """Remove one graph output (and whatever only it needed)."""
    g = case.graph
    if len(g.outputs) < 2:
        return
    for name in sorted(g.outputs, key=lambda o: -cone(g, o)):
        c = case.copy()
        c.graph.outputs.remove(name)
        yield prune(c)


def _cuts(case: Case) -> list[str]:
    """Computed tensors (not graph outputs) whose producer can go: biggest upstream cone first."""
    g = case.graph
    consumers = g.consumers()
    out = []
    for node in g.nodes:
        for o in node.outputs:
            others = [x for x in node.outputs if x != o]
            if o in g.outputs or any(consumers[x] or x in g.outputs for x in others):
                continue
            out.append(o)
    return sorted(out, key=lambda o: -cone(g, o))


def _cut(case: Case, role: str) -> Iterator[Case | Rejected]:
    for name in _cuts(case):
        c = case.copy()
        make_leaf(c, name, role, case.values[name])
        yield prune(c)


def cut_to_input(case: Case) -> Iterator[Case | Rejected]:
    """Replace the subgraph computing a tensor by a new graph input carrying its concrete value."""
    yield from _cut(case, "input")


def cut_to_constant(case: Case) -> Iterator[Case | Rejected]:
    """Replace the subgraph computing a tensor by an initializer holding its concrete value."""
    yield from _cut(case, "weight")


def bypass(case: Case) -> Iterator[Case | Rejected]:
    """Remove a node, reading one of its inputs of the same type wherever its output was read."""
    g = case.graph
    for idx in reversed(range(len(g.nodes))):
        node = g.nodes[idx]
        if len(node.outputs) != 1:
            continue
        out = node.outputs[0]
        for i in dict.fromkeys(node.inputs):
            if g.tensors[i].ttype != g.tensors[out].ttype:
                continue
            if out in g.outputs and g.tensors[i].role != "node":
                yield Rejected("a graph output would become an input or weight")
                continue
            c = case.copy()
            del c.graph.nodes[idx]
            rename_uses(c.graph, out, i)
            del c.graph.tensors[out]
            yield prune(c)


def drop_unused(case: Case) -> Iterator[Case | Rejected]:
    """Drop nodes no output needs and inputs and initializers nothing reads."""
    c = prune(case.copy())
    if len(c.graph.tensors) < len(case.graph.tensors):
        yield c
