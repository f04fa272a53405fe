"""Type conversion: Cast (target from the `to` attribute) and CastLike (target from a second tensor).

ONNX leaves float -> fixed-point casts undefined when the truncated value is out of range, while
fixed -> fixed casts wrap. The only such case within the default [-3, 3] domain is a float cast to
uint8 of a negative value, so those get their own variants with a domain above -1 (where
truncation toward zero still lands in range, e.g. -0.5 -> 0).
"""

from __future__ import annotations

from fuzzer.spec.base import Domain, Input, OpSpec, SpecError
from fuzzer.spec.dtypes import FLOATS, DType
from fuzzer.spec.registry import register

UINT8_SAFE = Domain(-0.9, 3.0)


def cast(x, dt: DType):
    """ONNX Cast in torch: truncation toward zero for float -> int, x != 0 for -> bool, RNE otherwise."""
    return x.to(dt.torch)


@register
class Cast(OpSpec):
    """Cast to any of the generated dtypes except float -> uint8 (see Cast_f2u8)."""

    op_type = "Cast"
    key = "Cast_any"  # not "Cast": selecting an op_type selects all its variants
    inputs = (Input("input"),)
    backward = True

    def targets(self, src: DType, opset: int) -> list[DType]:
        out = self.type_set("T2", opset)
        return sorted((t for t in out if not (src.is_float and t == DType.uint8)), key=lambda t: t.name)

    def attrs(self, d, ins):
        return {"to": d.pick(self.targets(ins[0].dtype, d.opset)).onnx}

    def out_dtypes(self, ins, a, binding, opset):
        if "T2" in binding:
            # backward insertion: the output type is the target leaf's, which attrs() cannot see, so
            # `to` is set here (the alternative, drawing it blind, fails 8 times in 9)
            if binding["T2"] not in self.targets(ins[0].dtype, opset):
                raise SpecError(f"{self.name()} cannot cast {ins[0].dtype.name} to {binding['T2'].name}")
            a["to"] = binding["T2"].onnx
        return [DType.from_onnx(a["to"])]

    def torch(self, xs, a):
        return [cast(xs[0], DType.from_onnx(a["to"]))]


@register
class CastF2U8(Cast):
    """Float -> uint8, on inputs whose truncation is in range."""

    key = "Cast_f2u8"
    inputs = (Input("input", domain=UINT8_SAFE),)
    limit = {"T1": FLOATS}  # the variant exists for float inputs only (ints wrap, defined)

    def targets(self, src, opset):
        return [DType.uint8]


@register
class CastLike(OpSpec):
    """Cast to the type of `target_type`, a new single-element leaf; float -> uint8 is CastLike_f2u8."""

    op_type = "CastLike"
    key = "CastLike_any"
    inputs = (Input("input"), Input("target_type", ranks=(0, 1), role="weight"))
    min_opset = 15

    def requires(self, ins, a):
        x, t = ins
        if self.float_to_uint8(x.dtype, t.dtype) != (self.key == "CastLike_f2u8"):
            return [False]
        return [s == 1 for s in t.shape]

    @staticmethod
    def float_to_uint8(src: DType, dst: DType) -> bool:
        return src.is_float and dst == DType.uint8

    def torch(self, xs, a):
        return [xs[0].to(xs[1].dtype)]


@register
class CastLikeF2U8(CastLike):
    """Float -> uint8 through CastLike, on inputs whose truncation is in range."""

    key = "CastLike_f2u8"
    inputs = (Input("input", domain=UINT8_SAFE), Input("target_type", ranks=(0, 1), role="weight"))
    limit = {"T1": FLOATS, "T2": frozenset({DType.uint8})}  # the variant's whole point; CastLike has the rest
