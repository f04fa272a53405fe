"""Broadcasting arithmetic: Add, Sub, Mul, Div, Pow, Mod, and the variadic Max, Min, Mean, Sum."""

from __future__ import annotations

import torch

from fuzzer.spec.base import Domain, Input
from fuzzer.spec.families import Binary, Variadic, broadcast_all
from fuzzer.spec.registry import register

# Divisors stay away from zero: an integer division by zero traps (SIGFPE) in most backends. The
# specials make float quotients and remainders sometimes exact (a zero remainder, an integral quotient).
DIVISOR = Domain(1, 5, specials=(1.0, 2.0))
# no 0.0: Domain.meet unions specials unclipped, so Mod(x, x) would get a zero divisor
DIVIDEND = Domain(-3, 3, specials=(-2.0, 2.0))


def _like(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """`y` in `x`'s dtype: torch promotes mixed or integer operands where ONNX keeps T."""
    return y if y.dtype == x.dtype else y.to(x.dtype)


def _widen(x: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 computed in float32, as ORT's kernels do, so rounding matches the backends."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


@register
class Add(Binary):
    op_type = "Add"
    fn = staticmethod(torch.add)


@register
class Sub(Binary):
    op_type = "Sub"
    fn = staticmethod(torch.sub)


@register
class Mul(Binary):
    op_type = "Mul"
    fn = staticmethod(torch.mul)


@register
class Div(Binary):
    """Integer division truncates toward zero (ONNX Div-14 text), unlike torch's default true division."""

    op_type = "Div"
    inputs = (Input("A"), Input("B", domain=DIVISOR))

    def torch(self, xs, a):
        x, y = xs
        if x.dtype.is_floating_point:
            return [torch.div(x, y)]
        return [torch.div(x, y, rounding_mode="trunc")]


@register
class Pow(Binary):
    """Base and exponent have separate type variables (T, T1); the result has the base's type T.

    The base is positive so non-integer exponents stay real; the exponent is non-negative so integer
    bases never meet 0 ** -k (infinite, then an undefined integer cast).
    """

    op_type = "Pow"
    # special exponents take the exact integer-power and square-root paths some kernels special-case
    inputs = (
        Input("X", domain=Domain(0.5, 3, specials=(1.0, 2.0))),
        Input("Y", domain=Domain(0, 3, specials=(0.0, 0.5, 1.0, 2.0))),
    )

    def torch(self, xs, a):
        x, y = xs
        # float64 so an integer base with a float exponent truncates the exact power (as std::pow does),
        # not one rounded to the exponent's float16
        return [torch.pow(x.double(), y.double()).to(x.dtype)]


@register
class Mod(Binary):
    """fmod=0: sign of the divisor (Python %); fmod=1: sign of the dividend (C fmod).

    Before opset 28 floats require fmod=1; from 28 on both modes are defined for every type.
    Integer fmod=1 is drawn at every opset: Mod-13's text reserves it for floats, but Mod-28 defines it
    and runtimes implement it, so it is worth fuzzing.
    """

    op_type = "Mod"
    inputs = (Input("A", domain=DIVIDEND), Input("B", domain=DIVISOR))

    def attrs(self, d, ins):
        if ins[0].dtype.is_float and d.opset < 28:
            return {"fmod": 1}
        return {"fmod": int(d.coin(0.5))}

    def torch(self, xs, a):
        x, y = xs
        if a["fmod"]:
            return [_like(torch.fmod(_widen(x), _widen(y)), x)]
        return [_like(torch.remainder(_widen(x), _widen(y)), x)]


@register
class Max(Variadic):
    op_type = "Max"
    fn = staticmethod(torch.maximum)


@register
class Min(Variadic):
    op_type = "Min"
    fn = staticmethod(torch.minimum)


@register
class Sum(Variadic):
    op_type = "Sum"

    def torch(self, xs, a):
        out = _widen(xs[0])
        for x in xs[1:]:
            out = out + _widen(x)
        return [_like(out, xs[0])]


@register
class Mean(Variadic):
    """The average of 1..4 broadcasting tensors.

    Narrowed for the test oracle: the first operand has the full broadcast shape, because onnx.reference
    (1.23) adds the others into a copy of the first in place and fails when the first would broadcast.
    """

    op_type = "Mean"

    def requires(self, ins, a):
        shape, conds = broadcast_all(ins)
        if len(ins[0].shape) != len(shape):
            return [False]
        return conds + [x == y for x, y in zip(ins[0].shape, shape)]

    def backward_ranks(self, out_rank, n_inputs, d):
        ranks = super().backward_ranks(out_rank, n_inputs, d)
        ranks[0] = out_rank
        return ranks

    def torch(self, xs, a):
        out = _widen(xs[0])
        for x in xs[1:]:
            out = out + _widen(x)
        return [_like(out / len(xs), xs[0])]
