"""Ops that scan along one axis: ArgMax, ArgMin, CumSum and TopK."""

from __future__ import annotations

import numpy as np
import torch

from fuzzer.spec.base import Domain, Input, OpSpec, SpecError
from fuzzer.spec.dtypes import DType
from fuzzer.spec.families import norm_axis
from fuzzer.spec.registry import register

# repeated float values, so ties (first or last index, TopK's lower-index-first) are exercised for floats too
TIES = Domain(-3, 3, specials=(-1.0, 0.0, 1.0))


def _drop_or_keep(shape: tuple, axis: int, keep: int) -> tuple:
    return shape[:axis] + ((1,) if keep else ()) + shape[axis + 1 :]


class _Arg(OpSpec):
    """Index of the extreme along `axis`; ties go to the first index, or the last with select_last_index."""

    inputs = (Input("data", domain=TIES),)
    min_rank = 1
    pick_max = True

    def attrs(self, d, ins):
        return {
            "axis": d.axis(ins[0].rank),
            "keepdims": int(d.coin(0.5)),
            "select_last_index": int(d.coin(0.5)),
        }

    def infer(self, ins, a):
        r = ins[0].rank
        return [_drop_or_keep(ins[0].shape, norm_axis(a["axis"], r), a["keepdims"])]

    def torch(self, xs, a):
        x = xs[0]
        axis = norm_axis(a["axis"], x.dim())
        f = torch.argmax if self.pick_max else torch.argmin
        if a["select_last_index"]:
            # torch returns the first extreme; on the flipped axis the first is the original last
            idx = x.shape[axis] - 1 - f(torch.flip(x, [axis]), dim=axis, keepdim=True)
        else:
            idx = f(x, dim=axis, keepdim=True)
        return [idx if a["keepdims"] else idx.squeeze(axis)]


@register
class ArgMax(_Arg):
    op_type = "ArgMax"


@register
class ArgMin(_Arg):
    op_type = "ArgMin"
    pick_max = False


@register
class CumSum(OpSpec):
    """Running sum along `axis` (a 0-d int32 or int64 constant input); exclusive and reverse variants."""

    op_type = "CumSum"
    inputs = (Input("x"),)
    min_rank = 1

    def attrs(self, d, ins):
        return {
            "_axis": d.axis(ins[0].rank),
            "_axis_dtype": d.pick(["int32", "int64"]),
            "exclusive": int(d.coin(0.5)),
            "reverse": int(d.coin(0.5)),
        }

    def emit(self, e, a):
        axis = e.const(a["_axis"], dtype=np.dtype(a["_axis_dtype"]), hint="axis")
        e.node(self.op_type, [e.inputs[0], axis], e.outputs, **self.onnx_attrs(a))

    def torch(self, xs, a):
        x = xs[0]
        axis = norm_axis(a["_axis"], x.dim())
        w = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        if a["reverse"]:
            w = torch.flip(w, [axis])
        if a["exclusive"]:
            # shift by one along the axis (a zero first) rather than subtract x, which would round
            n = w.shape[axis]
            w = torch.cat([torch.zeros_like(w.narrow(axis, 0, 1)), w.narrow(axis, 0, n - 1)], dim=axis)
        y = torch.cumsum(w, dim=axis, dtype=w.dtype)
        if a["reverse"]:
            y = torch.flip(y, [axis])
        return [y.to(x.dtype)]


@register
class TopK(OpSpec):
    """The K largest (or smallest) along `axis`, sorted, ties by lower index; K is an int64 [1] constant."""

    op_type = "TopK"
    inputs = (Input("X", domain=TIES),)
    n_outputs = 2
    min_rank = 1

    def attrs(self, d, ins):
        r = ins[0].rank
        axis = d.axis(r)
        n = ins[0].shape[norm_axis(axis, r)]
        if not isinstance(n, int):
            raise SpecError("TopK draws K from a concrete axis length")  # forward only: ins[0] is concrete
        return {"axis": axis, "_k": d.randint(1, n), "largest": int(d.coin(0.5)), "sorted": 1}

    def infer(self, ins, a):
        r = ins[0].rank
        ax = norm_axis(a["axis"], r)
        shape = ins[0].shape[:ax] + (a["_k"],) + ins[0].shape[ax + 1 :]
        return [shape, shape]

    def out_dtypes(self, ins, a, binding, opset):
        return [ins[0].dtype, DType.int64]

    def emit(self, e, a):
        k = e.const([a["_k"]], hint="k")
        e.node(self.op_type, [e.inputs[0], k], e.outputs, **self.onnx_attrs(a))

    def torch(self, xs, a):
        x = xs[0]
        axis = norm_axis(a["axis"], x.dim())
        # a stable sort keeps equal values in index order, the tie rule of TopK
        values, idx = torch.sort(x, dim=axis, descending=bool(a["largest"]), stable=True)
        return [values.narrow(axis, 0, a["_k"]), idx.narrow(axis, 0, a["_k"])]
