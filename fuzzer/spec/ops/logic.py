"""Comparisons, boolean and bitwise logic, and Where: broadcasting ops of two or three tensors."""

from __future__ import annotations

import torch

from fuzzer.spec.base import Domain, Input
from fuzzer.spec.dtypes import DType
from fuzzer.spec.families import Binary
from fuzzer.spec.registry import register

# Bit patterns over the whole byte (leaf values are clipped to each dtype's range): uint8 gets
# 0..255, int8 its negatives too, so sign bits and high bits are exercised, not just 0..3.
BITS = Domain(-128, 255)


# a few shared float values so that float operands are sometimes exactly equal
TIES = Domain(-3, 3, specials=(-1.0, 0.0, 1.0, 2.0))


class Predicate(Binary):
    """A broadcasting op whose output is bool (the schema's T1), whatever the operands' type T."""

    inputs = (Input("A", domain=TIES), Input("B", domain=TIES))

    def out_dtypes(self, ins, a, binding, opset):
        return [DType.bool]


@register
class Equal(Predicate):
    op_type = "Equal"
    fn = staticmethod(torch.eq)


@register
class Greater(Predicate):
    op_type = "Greater"
    fn = staticmethod(torch.gt)


@register
class Less(Predicate):
    op_type = "Less"
    fn = staticmethod(torch.lt)


@register
class GreaterOrEqual(Predicate):
    op_type = "GreaterOrEqual"
    fn = staticmethod(torch.ge)


@register
class LessOrEqual(Predicate):
    op_type = "LessOrEqual"
    fn = staticmethod(torch.le)


@register
class And(Predicate):
    op_type = "And"
    fn = staticmethod(torch.logical_and)


@register
class Or(Predicate):
    op_type = "Or"
    fn = staticmethod(torch.logical_or)


@register
class Xor(Predicate):
    op_type = "Xor"
    fn = staticmethod(torch.logical_xor)


@register
class BitwiseAnd(Binary):
    op_type = "BitwiseAnd"
    inputs = (Input("A", domain=BITS), Input("B", domain=BITS))
    fn = staticmethod(torch.bitwise_and)


@register
class BitwiseOr(Binary):
    op_type = "BitwiseOr"
    inputs = (Input("A", domain=BITS), Input("B", domain=BITS))
    fn = staticmethod(torch.bitwise_or)


@register
class BitwiseXor(Binary):
    op_type = "BitwiseXor"
    inputs = (Input("A", domain=BITS), Input("B", domain=BITS))
    fn = staticmethod(torch.bitwise_xor)


@register
class BitShift(Binary):
    """Shift X by Y bits; uint8 only until opset 28, which adds signed types (arithmetic right shift).

    Shift amounts stay below 8, the width of the narrowest type: wider shifts are defined only from
    opset 28 on, and before that C++ backends shift by the amount modulo the width.
    """

    op_type = "BitShift"
    inputs = (Input("X", domain=BITS), Input("Y", domain=Domain(0, 7)))

    def attrs(self, d, ins):
        return {"direction": d.pick(["LEFT", "RIGHT"])}

    def torch(self, xs, a):
        x, y = xs
        shift = torch.bitwise_left_shift if a["direction"] == "LEFT" else torch.bitwise_right_shift
        return [shift(x, y)]


@register
class Where(Binary):
    """Elementwise select of X where `condition`, else Y; all three broadcast.

    The spec lists X first (unlike the ONNX signature) so forward insertion can grow from a tensor of
    any type, with the bool condition as a new leaf or an existing bool tensor; `emit` and `torch`
    put the operands back in ONNX order.
    """

    op_type = "Where"
    inputs = (Input("X"), Input("condition"), Input("Y"))

    def emit(self, e, a):
        x, cond, y = e.inputs
        e.node(self.op_type, [cond, x, y], e.outputs)

    def torch(self, xs, a):
        x, cond, y = xs
        return [torch.where(cond, x, y)]
