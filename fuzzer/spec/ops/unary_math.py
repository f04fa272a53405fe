"""Unary math: Abs, Neg, Exp, Log, Sqrt, trigonometric, hyperbolic, rounding and predicates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from fuzzer.spec.base import Domain, Input
from fuzzer.spec.dtypes import ALL, DType
from fuzzer.spec.families import Unary
from fuzzer.spec.registry import register

HALF = (torch.float16, torch.bfloat16)


def wide(fn: Callable) -> Callable:
    """`fn` computed in float32 for float16/bfloat16 inputs, then cast back.

    ORT and NumPy upcast half types for transcendental functions; computing in half directly
    (where torch even has a CPU kernel) would round every intermediate and drift from both.
    """

    def run(x: torch.Tensor) -> torch.Tensor:
        if x.dtype in HALF:
            return fn(x.float()).to(x.dtype)
        return fn(x)

    return run


def f32(v: float) -> float:
    """The value a float attribute has after the float32 round trip through the ONNX proto."""
    return float(np.float32(v))


class Predicate(Unary):
    """A unary op whose output is bool whatever the input type (its schema names it T2)."""

    def out_dtypes(self, ins, a, binding, opset):
        return [DType.bool]


@register
class Abs(Unary):
    op_type = "Abs"
    fn = staticmethod(torch.abs)


@register
class Neg(Unary):
    op_type = "Neg"
    fn = staticmethod(torch.neg)


@register
class Exp(Unary):
    op_type = "Exp"
    inputs = (Input("input", domain=Domain(-3, 3)),)
    fn = staticmethod(wide(torch.exp))


@register
class Log(Unary):
    op_type = "Log"
    inputs = (Input("input", domain=Domain(0.1, 4)),)
    fn = staticmethod(wide(torch.log))


@register
class Sqrt(Unary):
    op_type = "Sqrt"
    # away from 0, where the derivative is unbounded
    inputs = (Input("X", domain=Domain(0.01, 9)),)
    fn = staticmethod(wide(torch.sqrt))


@register
class Reciprocal(Unary):
    op_type = "Reciprocal"
    inputs = (Input("X", domain=Domain(0.5, 3)),)
    fn = staticmethod(wide(torch.reciprocal))


# --- trigonometric and hyperbolic ------------------------------------------------------------


@register
class Sin(Unary):
    op_type = "Sin"
    fn = staticmethod(wide(torch.sin))


@register
class Cos(Unary):
    op_type = "Cos"
    fn = staticmethod(wide(torch.cos))


@register
class Tan(Unary):
    op_type = "Tan"
    # inside (-pi/2, pi/2): no poles, so half-precision rounding of the input stays harmless
    inputs = (Input("input", domain=Domain(-1.3, 1.3)),)
    fn = staticmethod(wide(torch.tan))


@register
class Asin(Unary):
    op_type = "Asin"
    inputs = (Input("input", domain=Domain(-0.99, 0.99)),)
    fn = staticmethod(wide(torch.asin))


@register
class Acos(Unary):
    op_type = "Acos"
    inputs = (Input("input", domain=Domain(-0.99, 0.99)),)
    fn = staticmethod(wide(torch.acos))


@register
class Atan(Unary):
    op_type = "Atan"
    fn = staticmethod(wide(torch.atan))


@register
class Sinh(Unary):
    op_type = "Sinh"
    fn = staticmethod(wide(torch.sinh))


@register
class Cosh(Unary):
    op_type = "Cosh"
    fn = staticmethod(wide(torch.cosh))


@register
class Tanh(Unary):
    op_type = "Tanh"
    fn = staticmethod(wide(torch.tanh))


@register
class Asinh(Unary):
    op_type = "Asinh"
    fn = staticmethod(wide(torch.asinh))


@register
class Acosh(Unary):
    op_type = "Acosh"
    inputs = (Input("input", domain=Domain(1.01, 5)),)
    fn = staticmethod(wide(torch.acosh))


@register
class Atanh(Unary):
    op_type = "Atanh"
    inputs = (Input("input", domain=Domain(-0.95, 0.95)),)
    fn = staticmethod(wide(torch.atanh))


@register
class Erf(Unary):
    op_type = "Erf"
    # onnx.reference evaluates erf in float32 (np.vectorize(math.erf, otypes=["f"])), off by ~1e-8 for
    # float64 (and ORT has no float64 kernel); float64 is left out until the reference is fixed
    limit = {"T": ALL - {DType.float64}}
    fn = staticmethod(wide(torch.erf))


# --- rounding and sign -----------------------------------------------------------------------


@register
class Floor(Unary):
    op_type = "Floor"
    fn = staticmethod(torch.floor)


@register
class Ceil(Unary):
    op_type = "Ceil"
    fn = staticmethod(torch.ceil)


@register
class Round(Unary):
    """Rounds half to even, as torch.round does (not half away from zero like C's round)."""

    op_type = "Round"
    # exact halves are where half-to-even and half-away-from-zero differ
    inputs = (Input("X", domain=Domain(-3, 3, specials=(0.5, 1.5, 2.5, -0.5, -1.5, -2.5))),)
    fn = staticmethod(torch.round)


@register
class Sign(Unary):
    op_type = "Sign"
    fn = staticmethod(torch.sign)


# --- logic, predicates, identity -------------------------------------------------------------


@register
class Not(Unary):
    op_type = "Not"
    fn = staticmethod(torch.logical_not)


@register
class BitwiseNot(Unary):
    op_type = "BitwiseNot"
    fn = staticmethod(torch.bitwise_not)


@register
class Identity(Unary):
    op_type = "Identity"
    fn = staticmethod(lambda x: x.clone())


@register
class IsNaN(Predicate):
    op_type = "IsNaN"
    inputs = (Input("X", domain=Domain(-3, 3, specials=(float("nan"), float("inf"), float("-inf")))),)
    fn = staticmethod(torch.isnan)


@register
class IsInf(Predicate):
    """Detects +inf and/or -inf; both flags off is legal and yields all false."""

    op_type = "IsInf"
    inputs = (Input("X", domain=Domain(-3, 3, specials=(float("nan"), float("inf"), float("-inf")))),)

    def attrs(self, d, ins):
        # None leaves the attribute out, so the ONNX default (1) is exercised too
        return {"detect_negative": d.pick([0, 1, None]), "detect_positive": d.pick([0, 1, None])}

    def torch(self, xs, a):
        x = xs[0]
        neg = a.get("detect_negative", 1) in (1, None)
        pos = a.get("detect_positive", 1) in (1, None)
        out = torch.zeros_like(x, dtype=torch.bool)
        if neg:
            out = out | torch.isneginf(x)
        if pos:
            out = out | torch.isposinf(x)
        return [out]
