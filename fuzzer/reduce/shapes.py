"""The pass that shrinks dims of inputs and weights, re-deriving every shape through the specs."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from fuzzer.reduce.case import Case, Rejected
from fuzzer.reduce.validity import retype
from fuzzer.spec.base import TType


def shrink_dims(case: Case) -> Iterator[Case | Rejected]:
    """Shrink a dim size everywhere it occurs among the leaves (to 1, halved, minus one), then one dim at a time.

    Changing a size in every leaf at once keeps broadcasting operands aligned; the single-dim
    candidates then reach dims that only one leaf has.
    """
    g = case.graph
    leaves = [n for n, t in g.tensors.items() if t.role != "node"]
    sizes = sorted({d for n in leaves for d in g.tensors[n].ttype.shape if d > 1}, reverse=True)
    for v in sizes:
        for new in dict.fromkeys((1, v // 2, v - 1)):
            if 1 <= new < v:
                plan = {n: tuple(new if d == v else d for d in g.tensors[n].ttype.shape) for n in leaves}
                yield resize(case, plan)
    for n in sorted(leaves, key=lambda n: -np.prod(g.tensors[n].ttype.shape)):
        shape = g.tensors[n].ttype.shape
        for axis, d in enumerate(shape):
            if d > 1:
                yield resize(case, {n: shape[:axis] + (1,) + shape[axis + 1 :]})


def resize(case: Case, shapes: dict[str, tuple[int, ...]]) -> Case | Rejected:
    """A copy whose leaves have the given shapes (values cut to their leading corner), retyped."""
    c = case.copy()
    c.novel = True
    changed = set()
    for name, shape in shapes.items():
        t = c.graph.tensors[name]
        if tuple(t.ttype.shape) == shape:
            continue
        t.ttype = TType(t.ttype.dtype, shape)
        c.set_leaf(name, np.ascontiguousarray(case.leaf(name)[tuple(slice(0, d) for d in shape)]))
        changed.add(name)
    try:
        return retype(c, changed)
    except Rejected as e:
        return e
