"""Base classes for operator families, so that most operators are a few lines.

- `Unary`: one input, same shape out; set `fn` (a torch function of one tensor).
- `Binary`: two inputs with NumPy broadcasting; set `fn` (a torch function of two tensors).
- `Variadic`: 1..4 broadcasting inputs folded with `fn`.
- `Reduce`: reduction over `axes` with `keepdims`; set `fn(x, dims, keepdim)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from fuzzer.spec.base import Input, OpSpec, TType
from fuzzer.spec.draw import Draw
from fuzzer.spec.sym import broadcast


def norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


class Unary(OpSpec):
    """Elementwise op of one tensor; output has the input's shape."""

    inputs = (Input("X"),)
    backward = True
    fn: ClassVar[Callable]

    def torch(self, xs, a):
        return [type(self).fn(xs[0])]


class Binary(OpSpec):
    """Elementwise op of two tensors with multidirectional broadcasting."""

    inputs = (Input("A"), Input("B"))
    backward = True
    fn: ClassVar[Callable]

    def infer(self, ins, a):
        return [broadcast_all(ins)[0]]

    def requires(self, ins, a):
        return broadcast_all(ins)[1]

    def leaf_rank(self, k: int, ins: list[TType], d: Draw) -> int:
        r = ins[0].rank
        return r if d.coin(0.7) else d.pick(range(0, r + 1))

    def backward_ranks(self, out_rank: int, n_inputs: int, d: Draw) -> list[int]:
        ranks = [out_rank if d.coin(0.7) else d.pick(range(0, out_rank + 1)) for _ in range(n_inputs)]
        ranks[d.pick(range(n_inputs))] = out_rank
        return ranks

    def torch(self, xs, a):
        return [type(self).fn(*xs)]


class Variadic(Binary):
    """Elementwise op of 1..4 tensors with broadcasting, folded left to right with `fn`."""

    inputs = (Input("data_0"),)
    arity = (1, 4)

    def torch(self, xs, a):
        out = xs[0]
        for x in xs[1:]:
            out = type(self).fn(out, x)
        return [out]


def broadcast_all(ins: list[TType]):
    shape, conds = ins[0].shape, []
    for t in ins[1:]:
        shape, c = broadcast(shape, t.shape)
        conds += c
    return shape, conds


class Reduce(OpSpec):
    """Reduction over axes; `keepdims` keeps reduced axes as size 1. Axes never empty here."""

    inputs = (Input("data"),)
    fn: ClassVar[Callable]
    backward = False
    min_rank = 1

    def attrs(self, d: Draw, ins: list[TType]) -> dict[str, Any]:
        r = ins[0].rank
        return {"_axes": d.axes(r) if r else [], "keepdims": int(d.coin(0.5))}

    def infer(self, ins, a):
        r = ins[0].rank
        axes = {norm_axis(x, r) for x in a["_axes"]}
        if a["keepdims"]:
            return [tuple(1 if i in axes else s for i, s in enumerate(ins[0].shape))]
        return [tuple(s for i, s in enumerate(ins[0].shape) if i not in axes)]

    def emit(self, e, a):
        inputs, attrs = list(e.inputs), {"keepdims": a["keepdims"]}
        self.axes_operand(e, inputs, attrs, a["_axes"])
        e.node(self.op_type, inputs, e.outputs, **attrs)

    def torch(self, xs, a):
        r = xs[0].dim()
        dims = sorted(norm_axis(x, r) for x in a["_axes"])
        return [type(self).fn(xs[0], dims, bool(a["keepdims"]))]
