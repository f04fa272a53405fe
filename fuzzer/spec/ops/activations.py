"""Activation functions: Relu and its variants, sigmoids, Gelu, Mish, Clip, Shrink."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fuzzer.spec.base import Input
from fuzzer.spec.draw import Draw
from fuzzer.spec.dtypes import ALL, DType
from fuzzer.spec.families import Unary
from fuzzer.spec.ops.unary_math import f32, wide
from fuzzer.spec.registry import register
from fuzzer.spec.sym import any_of


def float_attr(d: Draw, lo: float, hi: float, *, edges: tuple[float, ...] = ()) -> float | None:
    """A float attribute: omitted (ONNX default) or an edge value 1 time in 5 each, else uniform."""
    if d.coin(0.2):
        return None
    if edges and d.coin(0.2):
        return d.pick(edges)
    return d.uniform(lo, hi)


def attr(a: dict, name: str, default: float) -> float:
    """A float attribute's value as the ONNX node carries it (its default when it was left out)."""
    v = a.get(name)
    return f32(default if v is None else v)


@register
class Relu(Unary):
    op_type = "Relu"
    fn = staticmethod(torch.relu)


@register
class LeakyRelu(Unary):
    op_type = "LeakyRelu"

    def attrs(self, d, ins):
        # negative and > 1 slopes are legal; a model rarely has them but kernels must handle them
        return {"alpha": float_attr(d, -0.5, 1.5, edges=(0.0, 1.0, 0.01))}

    def torch(self, xs, a):
        alpha = attr(a, "alpha", 0.01)
        return [wide(lambda x: torch.where(x >= 0, x, x * alpha))(xs[0])]


@register
class PRelu(Unary):
    """Leaky relu with a learned slope that broadcasts unidirectionally to X (output has X's shape)."""

    op_type = "PRelu"
    inputs = (Input("X"), Input("slope", role="weight"))

    def leaf_rank(self, k, ins, d):
        r = ins[0].rank
        return r if d.coin(0.5) else d.pick(range(0, r + 1))

    def backward_ranks(self, out_rank, n_inputs, d):
        return [out_rank, out_rank if d.coin(0.5) else d.pick(range(0, out_rank + 1))]

    def requires(self, ins, a):
        x, s = ins[0].shape, ins[1].shape
        if len(s) > len(x):
            return [False]
        off = len(x) - len(s)
        return [any_of(sd == 1, sd == x[off + i]) for i, sd in enumerate(s)]

    def torch(self, xs, a):
        x, s = xs
        return [torch.where(x < 0, x * s, x)]


@register
class Elu(Unary):
    op_type = "Elu"

    def attrs(self, d, ins):
        return {"alpha": float_attr(d, 0.0, 3.0, edges=(0.0, 1.0))}

    def torch(self, xs, a):
        alpha = attr(a, "alpha", 1.0)
        return [wide(lambda x: torch.where(x >= 0, x, alpha * torch.expm1(x)))(xs[0])]


@register
class Selu(Unary):
    op_type = "Selu"

    def attrs(self, d, ins):
        return {"alpha": float_attr(d, 0.1, 3.0), "gamma": float_attr(d, 0.1, 3.0, edges=(1.0,))}

    def torch(self, xs, a):
        alpha, gamma = attr(a, "alpha", 1.67326319217681884765625), attr(a, "gamma", 1.05070102214813232421875)
        return [wide(lambda x: gamma * torch.where(x > 0, x, alpha * torch.expm1(x)))(xs[0])]


@register
class Celu(Unary):
    op_type = "Celu"

    def attrs(self, d, ins):
        # alpha divides x, so it must not be 0
        return {"alpha": float_attr(d, 0.1, 3.0, edges=(1.0,))}

    def torch(self, xs, a):
        alpha = attr(a, "alpha", 1.0)
        return [wide(lambda x: F.celu(x, alpha=alpha))(xs[0])]


@register
class Gelu(Unary):
    """Exact (erf) or tanh-approximated Gelu, the latter with the float32 constants of ONNX's function body."""

    op_type = "Gelu"

    def attrs(self, d, ins):
        modes = ["none", "tanh", None]
        if ins[0].dtype == DType.float64:
            # onnx.reference evaluates erf in float32 (np.vectorize(math.erf, otypes=["f"])), off by ~1e-8
            # for float64; narrowed to the tanh form until that is fixed upstream
            modes = ["tanh"]
        return {"approximate": d.pick(modes)}

    def torch(self, xs, a):
        if (a.get("approximate") or "none") == "none":
            return [wide(F.gelu)(xs[0])]
        # the schema's function body: sqrt of float32(2/pi), and float32(0.044715), in the input's precision
        c0 = f32(0.044715)

        def tanh_gelu(x):
            c = torch.sqrt(torch.tensor(f32(2 / math.pi), dtype=x.dtype))
            return 0.5 * x * (1 + torch.tanh(c * (x + c0 * x**3)))

        return [wide(tanh_gelu)(xs[0])]


@register
class HardSigmoid(Unary):
    op_type = "HardSigmoid"

    def attrs(self, d, ins):
        return {"alpha": float_attr(d, -1.0, 2.0, edges=(0.0, 1.0 / 6)), "beta": float_attr(d, -1.0, 2.0)}

    def torch(self, xs, a):
        alpha, beta = attr(a, "alpha", 0.2), attr(a, "beta", 0.5)
        return [wide(lambda x: torch.clamp(alpha * x + beta, 0.0, 1.0))(xs[0])]


@register
class HardSwish(Unary):
    op_type = "HardSwish"
    fn = staticmethod(wide(lambda x: x * torch.clamp(x * f32(1 / 6) + 0.5, 0.0, 1.0)))


@register
class Sigmoid(Unary):
    op_type = "Sigmoid"
    fn = staticmethod(wide(torch.sigmoid))


@register
class Softplus(Unary):
    op_type = "Softplus"
    fn = staticmethod(wide(F.softplus))


@register
class Softsign(Unary):
    op_type = "Softsign"
    # onnx.reference's Softsign writes into np.abs(x), a NumPy scalar for rank 0, and raises TypeError
    # there; narrowed until that is fixed upstream (rank 0 is still reached by backward insertion)
    min_rank = 1
    fn = staticmethod(wide(F.softsign))


@register
class Mish(Unary):
    op_type = "Mish"
    fn = staticmethod(wide(F.mish))


@register
class ThresholdedRelu(Unary):
    op_type = "ThresholdedRelu"

    def attrs(self, d, ins):
        return {"alpha": float_attr(d, -1.0, 2.5, edges=(0.0,))}

    def torch(self, xs, a):
        alpha = attr(a, "alpha", 1.0)
        return [wide(lambda x: torch.where(x > alpha, x, torch.zeros_like(x)))(xs[0])]


@register
class Clip(Unary):
    """Clamps to [min, max]; each bound is an optional scalar input, written here as a constant."""

    op_type = "Clip"

    def attrs(self, d, ins):
        dt = ins[0].dtype
        mode = d.pick(["none", "min", "max", "both"])
        if dt.is_float:
            lo = d.uniform(-3.0, 2.0)
            hi = lo if d.coin(0.1) else d.uniform(lo, 3.0)
        else:
            floor = 0 if dt == DType.uint8 else -4
            lo = d.randint(floor, 3)
            hi = lo if d.coin(0.1) else d.randint(lo, 4)
        return {
            "_min": lo if mode in ("min", "both") else None,
            "_max": hi if mode in ("max", "both") else None,
            "_dtype": dt.name,
        }

    def emit(self, e, a):
        np_dtype = DType[a["_dtype"]].numpy
        bounds = [
            e.const(v, dtype=np_dtype, hint=k[1:]) if v is not None else ""
            for k, v in (("_min", a["_min"]), ("_max", a["_max"]))
        ]
        while bounds and bounds[-1] == "":
            bounds.pop()  # trailing optional inputs are left out rather than named ""
        e.node(self.op_type, e.inputs + bounds, e.outputs)

    def torch(self, xs, a):
        x = xs[0]
        lo, hi = (None if a[k] is None else torch.tensor(a[k], dtype=x.dtype) for k in ("_min", "_max"))
        if lo is None and hi is None:
            return [x.clone()]
        return [torch.clamp(x, min=lo, max=hi)]


@register
class Shrink(Unary):
    """Zero inside [-lambd, lambd]; outside, moved towards zero by bias."""

    op_type = "Shrink"
    # ORT's float64 Shrink returns float32-rounded values even with bias=0 (x=2.123456789012345,
    # lambd=0.5 gives 2.12345672); float64 is left out until that is fixed upstream
    limit = {"T": ALL - {DType.float64}}

    def attrs(self, d, ins):
        if ins[0].dtype.is_float:
            return {"lambd": float_attr(d, 0.0, 2.0, edges=(0.0,)), "bias": float_attr(d, -1.0, 1.5, edges=(0.0,))}
        # integer inputs: ONNX does not say how x -+ bias returns to T. ORT and onnx.reference
        # compute in floating point and truncate, TVM and OpenVINO cast bias to T first, so a
        # fractional bias is undefined: bias is a whole number (regression, bench/results/findings.md:
        # 42 findings of one campaign). A negative bias moves values away from zero and could leave
        # T's range, so bias >= 0; for uint8 also bias <= lambd, since x > lambd then keeps
        # x - bias >= 0. A fractional lambd is fine: x > 1.5 and x > trunc(1.5) agree on integers.
        lambd = float(d.randint(0, 3)) if d.coin(0.3) else d.uniform(0.0, 3.0)
        hi = lambd if ins[0].dtype == DType.uint8 else 3.0
        bias = float(d.randint(0, int(hi))) if d.coin(0.3) else float(math.floor(d.uniform(0.0, hi)))
        return {"lambd": lambd, "bias": bias}

    def torch(self, xs, a):
        lambd, bias = attr(a, "lambd", 0.5), attr(a, "bias", 0.0)
        x = xs[0]
        if not x.dtype.is_floating_point:
            w = x.double()
            y = torch.where(w < -lambd, w + bias, torch.where(w > lambd, w - bias, torch.zeros_like(w)))
            return [y.to(x.dtype)]
        return [wide(lambda w: torch.where(w < -lambd, w + bias, torch.where(w > lambd, w - bias, 0 * w)))(x)]
