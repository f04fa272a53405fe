"""Which values every correct backend computes bit for bit the same ("exact" values).

A knife edge is only a hazard for a value that carries rounding error: Floor of a graph input is
deterministic however close to an integer the input is, and Round(2.5) must give 2 everywhere (a
backend that gives 3 has a real bug). So edge losses apply to inexact values only, and pole
margins shrink to the boundary itself for exact ones (Sqrt(0) is fine, Log(0) is not).

Exactness is a bool mask per tensor (broadcastable to it). The rules, by ONNX op type:
- leaves, and integer or bool tensors, are exact (integer arithmetic is exact and wraps the same);
- RESOLVING ops give exact outputs whatever their inputs, because their edge losses keep inputs
  away from the points where the result could flip (Floor, Hardmax), or because they have no
  inputs (constant sources); Softmax and friends along an axis of length 1 are constants too;
- MOVING ops copy, pick or fill values without arithmetic (layout, indexing, max pooling): the
  op itself, run on the inexactness masks, says which outputs carry rounding error (Trilu's and
  Pad's fills are exact, Gather picks the masks of what it picks);
- PRESERVING ops (elementwise: Neg, Relu, Clip, Max, casts, ...) are exact where their inputs are,
  and SELECTING ones also where they robustly pick an exact value (Relu's 0 for a clearly negative
  input, Max of an exact 1 and a clearly smaller inexact value);
- INTEGRAL ops round in general, but not on small integers (sums of small integers are exact in
  any order, exp(0) = 1 and sqrt(4) = 2 in every libm): exact where all float inputs and outputs
  are exact integers of small magnitude (Reciprocal so only of +-1: 1/1 is 1 even where an
  approximate reciprocal is refined; Div is left out, as x * rcp(y) may miss 6/3 = 2 by an ulp);
- anything else (Div, means, Softmax, Sigmoid, ...) is inexact. Sigmoid and Tanh saturate to
  integers (sigmoid(40) = 1.0 in float32), which a fast approximation may miss, so they are not
  INTEGRAL.
Elementwise ops keep masks elementwise (cosh of an exact 0 is exact even where cosh of an exact 1
is not); other non-moving ops reduce them to one flag for the whole tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from fuzzer.graph.functions import maps_each
from fuzzer.graph.model import Node
from fuzzer.graph.ranges import LAYOUT, group_elements
from fuzzer.graph.zeros import KEEPING, on_nan
from fuzzer.search.margins import EDGE_TOL
from fuzzer.spec.dtypes import DType
from fuzzer.spec.families import Binary
from fuzzer.spec.registry import get

RESOLVING = frozenset(
    {"Floor", "Ceil", "Round", "Sign", "Hardmax", "IsNaN", "IsInf", "OneHot", "Range", "ConstantOfShape"}
)
MOVING = LAYOUT | {
    "Trilu",
    "Concat",
    "Split",
    "Slice",
    "Pad",
    "Tile",
    "Gather",
    "GatherElements",
    "GatherND",
    "Identity",
    "Where",
    "ReduceMax",
    "MaxPool",
    "GlobalMaxPool",
}
PRESERVING = frozenset(
    {"Neg", "Abs", "Relu", "ThresholdedRelu", "Clip", "Max", "Min", "ReduceMin", "TopK", "Cast", "CastLike"}
)
INTEGRAL = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Sum",
        "ReduceSum",
        "CumSum",
        "MatMul",
        "Gemm",
        "Einsum",
        "Conv",
        "ConvTranspose",
        "ReduceProd",
        "ReduceL1",
        "ReduceL2",
        "ReduceSumSquare",
        "LpPool",
        "GlobalLpPool",
        "ScatterElements",
        "ScatterND",
        "Mod",
        "Reciprocal",
        "Pow",
        "LeakyRelu",
        "PRelu",
        "HardSigmoid",
        "HardSwish",
        "Shrink",
        "Exp",
        "Log",
        "Sqrt",
        "Sin",
        "Cos",
        "Tan",
        "Sinh",
        "Cosh",
        "Asin",
        "Acos",
        "Atan",
        "Asinh",
        "Acosh",
        "Atanh",
    }
)
# sums of products (with nonnegative attributes): an output with no nonzero term is an exact 0,
# like the taps a strided ConvTranspose never reaches or a MatMul row of zeros
LINEAR = frozenset(
    {
        "MatMul",
        "Gemm",
        "Einsum",
        "Conv",
        "ConvTranspose",
        "ReduceSum",
        "ReduceMean",
        "ReduceProd",
        "ReduceL1",
        "ReduceL2",
        "ReduceSumSquare",
        "CumSum",
        "Mul",
        "Add",
        "Sum",
        "Mean",
        "AveragePool",
        "GlobalAveragePool",
        "LpPool",
        "GlobalLpPool",
    }
)
# integers up to the first one a float type cannot hold (2 ** significand bits)
SMALL = {DType.float16: 2.0**11, DType.bfloat16: 2.0**8, DType.float32: 2.0**24, DType.float64: 2.0**53}
# ops that are the identity on a single input
IDENTITY_ON_ONE = frozenset({"Mean", "Sum", "Max", "Min"})
# along an axis of length 1: Softmax is 1, LogSoftmax 0 and Hardmax 1, whatever the input
CONSTANT_ON_SINGLETON = frozenset({"Softmax", "LogSoftmax", "Hardmax"})
# reductions that, over extents of length 1 only, compute x or |x| (sqrt(x * x) == |x| in IEEE
# binary arithmetic, barring overflow)
EXACT_ON_SINGLETONS = frozenset(
    {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2"}
)
TRUE = torch.ones((), dtype=torch.bool)
# ops whose output is an exact 0 where their input is (elementwise ones, and LRN: x / (...) ** beta)
KEEPING_ZERO = KEEPING | {"LRN"}


def exact_outputs(
    node: Node, xs: list[torch.Tensor], ys: list[torch.Tensor], in_exact: list[torch.Tensor], dts: list[list[DType]]
) -> list[torch.Tensor]:
    """Exactness masks of `node`'s outputs, given its inputs' (see the module docstring).

    `dts` is [input dtypes, output dtypes]. Non-float outputs are always exact.
    """
    spec = get(node.op)
    op, (in_dts, out_dts) = spec.op_type, dts
    if op == "CastLike":  # the target gives only its type (its mask may not broadcast to the output)
        in_exact = [in_exact[0], TRUE]
    if op in RESOLVING or (op in CONSTANT_ON_SINGLETON and singleton_axis(node, xs[0])):
        outs = [TRUE for _ in ys]
    elif op in MOVING or (op == "Resize" and node.attrs.get("_mode") == "nearest"):
        outs = moved(node, xs, ys, in_exact, in_dts)
    elif (
        op in PRESERVING
        or (op in IDENTITY_ON_ONE and len(xs) == 1)
        or (op in EXACT_ON_SINGLETONS and singleton_reduction(node, xs[0]))
    ):
        outs = combined(node, list(in_exact), ys)
    elif op in INTEGRAL:
        masks = list(in_exact) + [small_integers(x, dt) for x, dt in zip(xs, in_dts)]
        outs = [m & small_integers(y, dt) for m, y, dt in zip(combined(node, masks, ys), ys, out_dts)]
    else:
        outs = [~TRUE for _ in ys]
    if op in LINEAR:
        outs = [m | z for m, z in zip(outs, untouched(node, xs, ys, in_dts, in_exact))]
    if op == "LayerNormalization" and group_elements(node, tuple(xs[0].shape)) == 1:
        # x - mean is exactly 0 over one element: the output is the bias, or 0 without one (ONNX
        # Runtime checked; its InstanceNormalization, x * a + (bias - mean * a), is not exact)
        outs = [outs[0] | (in_exact[2] if len(xs) > 2 else TRUE)] + outs[1:]
    if op in KEEPING_ZERO and in_dts[0].is_float:  # f(0) = 0 in every libm: Gelu, Softsign, Tanh of an exact 0
        outs = [outs[0] | (in_exact[0] & (xs[0] == 0))]
    if op in SELECTING and in_dts[0].is_float:
        outs = [outs[0] | SELECTING[op](node, xs, ys[0], in_exact, in_dts[0])]
    crop = node.attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
    if op == "Resize" and crop and in_dts[0].is_float:  # integer outputs are exact anyway
        outs = [outs[0] | extrapolated(node, xs, ys[0])]
    return [m if dt.is_float else TRUE for m, dt in zip(outs, out_dts)]


# --- robust selections -----------------------------------------------------------------------------
# A Relu output of 0 is exact where the input is clearly negative: even a backend that rounds the
# input differently picks the same branch. Near the switch it is not (Sign(Relu(x)) flips there).
def _far(x: torch.Tensor, edge, dt: DType) -> torch.Tensor:
    """x is further than the edge tolerance below `edge` (a float or a tensor)."""
    rtol, atol = EDGE_TOL[dt]
    v = x.detach().double()
    return v < edge - (rtol * v.abs() + atol)


def _relu(node, xs, y, in_exact, dt):
    return _far(xs[0], 0.0, dt)


def _thresholded_relu(node, xs, y, in_exact, dt):
    alpha = node.attrs.get("alpha")
    return _far(xs[0], float(np.float32(1.0 if alpha is None else alpha)), dt)


def _clip(node, xs, y, in_exact, dt):
    out = torch.zeros(xs[0].shape, dtype=torch.bool)
    lo, hi = node.attrs.get("_min"), node.attrs.get("_max")
    if lo is not None:
        out |= _far(xs[0], float(np.float32(lo)), dt)
    if hi is not None:
        out |= _far(-xs[0], -float(np.float32(hi)), dt)
    return out


def _hard_sigmoid(node, xs, y, in_exact, dt):
    """Saturated at 0 or 1 with room to spare: clamp(alpha * x + beta, 0, 1)."""
    a = node.attrs
    alpha, beta = (float(np.float32(d if a.get(k) is None else a[k])) for k, d in (("alpha", 0.2), ("beta", 0.5)))
    z = alpha * xs[0].detach().double() + beta
    return _far(z, 0.0, dt) | _far(-z, -1.0, dt)


def _extreme(node, xs, y, in_exact, dt):
    """Max/Min: where the output is an exact input's value and every other input is clearly apart."""
    out = torch.zeros((), dtype=torch.bool)
    rtol, atol = EDGE_TOL[dt]
    v = y.detach().double()
    for k, (x, ex) in enumerate(zip(xs, in_exact)):
        picked = ex & (x.detach().double() == v)
        for j, other in enumerate(xs):
            if j != k:
                o = other.detach().double()
                picked = picked & (((o - v).abs() > rtol * v.abs() + atol) | (o == v) & in_exact[j])
        out = out | picked
    return out


def _identity_above_zero(node, xs, y, in_exact, dt):
    """Elu, Celu, LeakyRelu and PRelu are x for x >= 0 (by a select, or max(0, x) + min(0, ...)):
    exact where an exact input lies there, as it picks that branch in every backend. Not HardSwish
    at x >= 3: torch computes x * 6 / 6 there, which may round."""
    return in_exact[0] & (xs[0].detach().double() >= 0)


SELECTING: dict[str, Callable] = {
    **dict.fromkeys(("Elu", "Celu", "LeakyRelu", "PRelu"), _identity_above_zero),
    "Relu": _relu,
    "ThresholdedRelu": _thresholded_relu,
    "Clip": _clip,
    "HardSigmoid": _hard_sigmoid,
    "Max": _extreme,
    "Min": _extreme,
}


def combined(node: Node, masks: list[torch.Tensor], ys: list[torch.Tensor]) -> list[torch.Tensor]:
    """All `masks` at once: elementwise for elementwise ops, else one flag for the whole output."""
    base = TRUE
    if elementwise(node.op):
        for m in masks:
            base = base & m
        return [base for _ in ys]
    whole = all(bool(m.all()) for m in masks)
    return [torch.tensor(whole) for _ in ys]


def moved(
    node: Node, xs: list[torch.Tensor], ys: list[torch.Tensor], in_exact: list[torch.Tensor], in_dts: list[DType]
) -> list[torch.Tensor]:
    """Run a MOVING op on its float inputs' inexactness (1.0 where inexact) instead of their values.

    A fill (Pad's constant, Trilu's zeros) then comes out as its own value: zero, so exact; a
    nonzero pad constant counts as inexact, which is merely cautious. Integer and bool inputs
    (Where's condition) keep their real values.
    """
    args = [(~m).broadcast_to(x.shape) for x, m in zip(xs, in_exact)]
    outs = run_on(node, xs, args, in_dts, ys)
    return combined(node, list(in_exact), ys) if outs is None else [o == 0 for o in outs]


def extrapolated(node: Node, xs: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """The outputs of a tf_crop_and_resize Resize that sample outside the input: its
    extrapolation_value, a constant (all of them where the roi lies outside the image); see
    fuzzer.graph.zeros.on_nan."""
    out = on_nan(node, tuple(xs[0].shape), xs[0].dtype)
    return torch.isfinite(out) if out is not None and out.shape == y.shape else ~TRUE


def untouched(
    node: Node, xs: list[torch.Tensor], ys: list[torch.Tensor], in_dts: list[DType], in_exact: list[torch.Tensor]
) -> list[torch.Tensor]:
    """Outputs of a LINEAR op that no nonzero term reaches: exact zeros, or the bias alone for a
    convolution with bias (exact if the bias is); none if the op refuses the flags."""
    flags = [x != 0 for x in xs]
    biased = get(node.op).op_type in ("Conv", "ConvTranspose") and len(xs) == 3
    if biased:
        flags[2] = torch.zeros_like(flags[2])
    outs = run_on(node, xs, flags, in_dts, ys, nonnegative(node))
    if outs is None or (biased and not bool(in_exact[2].all())):
        return [~TRUE for _ in ys]
    return [o == 0 for o in outs]


def run_on(
    node: Node,
    xs: list[torch.Tensor],
    flags: list[torch.Tensor],
    in_dts: list[DType],
    ys: list[torch.Tensor],
    attrs: dict | None = None,
) -> list[torch.Tensor] | None:
    """The op run on 0/1 float32 `flags` in place of its float inputs (others keep their values),
    with `attrs` in place of the node's if given.

    None when the op refuses them or gives other shapes.
    """
    args = [f.to(torch.float32) if dt.is_float else x for x, f, dt in zip(xs, flags, in_dts)]
    try:
        with torch.no_grad():
            outs = get(node.op).torch(args, node.attrs if attrs is None else attrs)
    except (RuntimeError, TypeError, ValueError):
        return None  # an op that insists on its real dtypes
    if any(o.shape != y.shape for o, y in zip(outs, ys)):
        return None
    return outs


def nonnegative(node: Node) -> dict:
    """The node's attributes with no negative coefficient, so that flags cannot cancel (Gemm's
    alpha * 1 + beta * 1 is 0 for beta = -alpha): a term that is 0 stays 0 either way."""
    a = node.attrs
    if get(node.op).op_type != "Gemm":
        return a
    return {**a, "alpha": abs(_coef(a, "alpha")), "beta": abs(_coef(a, "beta"))}


def small_integers(t: torch.Tensor, dt: DType) -> torch.Tensor:
    """Elementwise: an integer of magnitude at most SMALL[dt] (always true for non-float types)."""
    if not dt.is_float:
        return TRUE
    with torch.no_grad():
        v = t.double()
        return (v == torch.round(v)) & (v.abs() <= SMALL[dt])


def singleton_axis(node: Node, x: torch.Tensor) -> bool:
    """The op's `axis` (default -1) has length 1."""
    axis = node.attrs.get("axis")
    return x.dim() > 0 and x.shape[-1 if axis is None else axis] == 1


def singleton_reduction(node: Node, x: torch.Tensor) -> bool:
    """A reduction (fuzzer.spec.ops.reduce attrs) over extents of length 1 only, or over none."""
    mode, r = node.attrs.get("_mode"), x.dim()
    if mode == "noop":
        return True
    axes = range(r) if mode == "all" else node.attrs.get("_axes", [])
    return all(x.shape[a] == 1 for a in axes)


def elementwise(op: str) -> bool:
    """Output element i depends only on input elements i (after broadcasting)."""
    return isinstance(get(op), Binary) or maps_each(op)


def _coef(a: dict, name: str) -> float:
    return 1.0 if a.get(name) is None else float(a[name])
