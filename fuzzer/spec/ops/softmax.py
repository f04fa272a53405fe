"""Normalisations along one axis: Softmax, LogSoftmax and Hardmax (opset 13 semantics)."""

from __future__ import annotations

import torch

from fuzzer.spec.base import SpecError
from fuzzer.spec.families import Unary, norm_axis
from fuzzer.spec.ops.unary_math import wide
from fuzzer.spec.registry import register


class AlongAxis(Unary):
    """A shape-preserving op along one `axis` (default -1, negative spellings allowed)."""

    min_rank = 1

    def attrs(self, d, ins):
        r = ins[0].rank
        if r == 0:
            raise SpecError(f"{self.op_type} needs an axis; rank 0 has none")  # backward onto a scalar
        # None leaves the attribute out, exercising the default -1
        return {"axis": None if d.coin(0.15) else d.axis(r)}

    def dim(self, x: torch.Tensor, a) -> int:
        axis = a.get("axis")
        return norm_axis(-1 if axis is None else axis, x.dim())


@register
class Softmax(AlongAxis):
    op_type = "Softmax"

    def torch(self, xs, a):
        dim = self.dim(xs[0], a)
        return [wide(lambda x: torch.softmax(x, dim))(xs[0])]


@register
class LogSoftmax(AlongAxis):
    op_type = "LogSoftmax"

    def torch(self, xs, a):
        dim = self.dim(xs[0], a)
        return [wide(lambda x: torch.log_softmax(x, dim))(xs[0])]


@register
class Hardmax(AlongAxis):
    """One at the first maximum along the axis (ties go to the lowest index, as in ONNX), zero elsewhere."""

    op_type = "Hardmax"

    def torch(self, xs, a):
        x = xs[0]
        dim = self.dim(x, a)
        # torch.argmax documents returning the first maximal index
        idx = torch.argmax(x, dim=dim, keepdim=True)
        return [torch.zeros_like(x).scatter(dim, idx, 1.0)]
