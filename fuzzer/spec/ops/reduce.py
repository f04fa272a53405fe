"""Reductions over axes: ReduceSum, ReduceMax, ..., ReduceLogSumExp, with every way to spell the axes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from fuzzer.spec.base import Domain, Input, SpecError
from fuzzer.spec.dtypes import FLOATS, DType
from fuzzer.spec.families import Reduce, norm_axis
from fuzzer.spec.registry import register

HALF = (torch.float16, torch.bfloat16)

# onnx.reference (1.23) sums bfloat16 in bfloat16, one rounding per element, so its sums stall past
# ~512 elements, and ORT has no bfloat16 reduction kernel to compare with instead. To keep the oracle
# meaningful, bfloat16 reductions combine at most this many elements into one output (a narrowing).
BF16_MAX_REDUCED = 256


class Reduction(Reduce):
    """A reduction whose axes are drawn in one of the modes ONNX allows.

    `_mode` is "axes" (explicit, maybe negative), "all" (axes omitted, or an empty axes tensor where
    axes is an input: reduce everything) or "noop" (noop_with_empty_axes=1 without axes: no reduction,
    but composite ops still apply their elementwise steps, e.g. ReduceSumSquare squares).
    `fn(x)` reduces the last dim of x, already widened to float32 for float16/bfloat16.
    """

    min_rank = 0  # rank-0 inputs are valid: only "all" or "noop" apply
    fn: ClassVar[Callable[[torch.Tensor], torch.Tensor]]

    def attrs(self, d, ins) -> dict[str, Any]:
        for _ in range(8):
            a = self._draw(d, ins)
            if ins[0].dtype != DType.bfloat16 or self._n_reduced(ins[0].shape, a) <= BF16_MAX_REDUCED:
                return a
        raise SpecError("no bfloat16 reduction small enough for the reference")

    def _n_reduced(self, shape, a) -> int:
        n = 1
        for i in self._reduced(len(shape), a):
            n *= shape[i] if isinstance(shape[i], int) else BF16_MAX_REDUCED + 1
        return n

    def _draw(self, d, ins) -> dict[str, Any]:
        r = ins[0].rank
        sch = self.schema(d.opset)
        modes = (
            (["axes"] * 6 if r else []) + ["all"] * 2 + (["noop"] if "noop_with_empty_axes" in sch.attributes else [])
        )
        mode = d.pick(modes)
        axes_input = any(f.name == "axes" for f in sch.inputs)
        return {
            "_mode": mode,
            "_axes": d.axes(r) if mode == "axes" else [],
            # where axes is an input, "all" may also be spelt as an empty axes tensor
            "_empty_tensor": mode == "all" and axes_input and d.coin(0.3),
            "keepdims": int(d.coin(0.5)),
        }

    def _reduced(self, rank: int, a) -> set[int]:
        if a["_mode"] == "noop":
            return set()
        if a["_mode"] == "all":
            return set(range(rank))
        return {norm_axis(x, rank) for x in a["_axes"]}

    def infer(self, ins, a):
        axes = self._reduced(ins[0].rank, a)
        if a["keepdims"]:
            return [tuple(1 if i in axes else s for i, s in enumerate(ins[0].shape))]
        return [tuple(s for i, s in enumerate(ins[0].shape) if i not in axes)]

    def emit(self, e, a):
        inputs, attrs = list(e.inputs), {"keepdims": a["keepdims"]}
        if a["_mode"] == "axes":
            self.axes_operand(e, inputs, attrs, a["_axes"])
        elif a["_empty_tensor"]:
            inputs.append(e.const([], hint="axes"))
        if a["_mode"] == "noop":
            attrs["noop_with_empty_axes"] = 1
        e.node(self.op_type, inputs, e.outputs, **attrs)

    def torch(self, xs, a):
        x = xs[0]
        w = x.float() if x.dtype in HALF else x
        if a["_mode"] == "noop":
            # a reduction over one element applies exactly the composite op's elementwise steps
            return [type(self).fn(w.unsqueeze(-1)).to(x.dtype)]
        r = x.dim()
        axes = sorted(self._reduced(r, a))
        kept = [i for i in range(r) if i not in axes]
        flat = w.permute(kept + axes).reshape([x.shape[i] for i in kept] + [-1])
        y = type(self).fn(flat).to(x.dtype)
        if a["keepdims"]:
            y = y.reshape([1 if i in axes else s for i, s in enumerate(x.shape)])
        return [y]


def _sum(t: torch.Tensor) -> torch.Tensor:
    # keep integer sums in their own type (wrapping like the backends), not torch's int64 promotion
    return torch.sum(t, -1, dtype=t.dtype)


def _mean(t: torch.Tensor) -> torch.Tensor:
    # an integer mean truncates the exact sum's quotient toward zero, as ORT and NumPy do
    return torch.mean(t, -1) if t.dtype.is_floating_point else torch.div(_sum(t), t.shape[-1], rounding_mode="trunc")


def _l2(t: torch.Tensor) -> torch.Tensor:
    # an integer norm is the float square root truncated by the cast back, as backends compute it
    s = _sum(t * t)
    return torch.sqrt(s if s.dtype.is_floating_point else s.double())


@register
class ReduceSum(Reduction):
    op_type = "ReduceSum"
    fn = staticmethod(_sum)


@register
class ReduceMax(Reduction):
    op_type = "ReduceMax"
    fn = staticmethod(lambda t: torch.amax(t, -1))


@register
class ReduceMin(Reduction):
    op_type = "ReduceMin"
    fn = staticmethod(lambda t: torch.amin(t, -1))


@register
class ReduceMean(Reduction):
    op_type = "ReduceMean"
    fn = staticmethod(_mean)


@register
class ReduceProd(Reduction):
    op_type = "ReduceProd"
    # near 1 in magnitude so long products neither overflow at once nor all vanish; integers get
    # {-1, 0, 1, 2}, where 31 twos without a zero (an int32 overflow, undefined) is vanishingly rare
    inputs = (Input("data", domain=Domain(-1, 1.5)),)
    fn = staticmethod(lambda t: torch.prod(t, -1, dtype=t.dtype))


@register
class ReduceL1(Reduction):
    op_type = "ReduceL1"
    fn = staticmethod(lambda t: _sum(torch.abs(t)))


@register
class ReduceL2(Reduction):
    op_type = "ReduceL2"
    fn = staticmethod(_l2)


@register
class ReduceSumSquare(Reduction):
    op_type = "ReduceSumSquare"
    fn = staticmethod(lambda t: _sum(t * t))


@register
class ReduceLogSum(Reduction):
    """log(sum(x)) over the axes, for floats only.

    A narrowing: the schema allows integers before opset 28 and ORT computes them, but onnx.reference
    refuses them, so the op test could not judge them.
    """

    op_type = "ReduceLogSum"
    inputs = (Input("data", domain=Domain(0.25, 4)),)  # positive sums, including logs below zero
    limit = {"T": FLOATS}
    fn = staticmethod(lambda t: torch.log(_sum(t)))


@register
class ReduceLogSumExp(Reduction):
    """log(sum(exp(x))) over the axes, for floats only (a narrowing, as for ReduceLogSum)."""

    op_type = "ReduceLogSumExp"
    limit = {"T": FLOATS}
    min_rank = 1  # onnx.reference returns a NumPy scalar, not an array, for a rank-0 input
    fn = staticmethod(lambda t: torch.logsumexp(t if t.dtype.is_floating_point else t.double(), -1))
