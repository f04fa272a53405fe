"""Which tensors every correct backend computes bit for bit the same ("exact" tensors).

A knife edge is only a hazard for a value that carries rounding error: Floor of a graph input is
deterministic however close to an integer the input is, and Round(2.5) must give 2 everywhere (a
backend that gives 3 has a real bug). So edge losses apply to inexact values only, and pole
margins shrink to the boundary itself for exact ones (Sqrt(0) is fine, Log(0) is not).

The rules, by ONNX op type:
- leaves, and integer or bool tensors, are exact (integer arithmetic is exact and wraps the same);
- RESOLVING ops give exact outputs whatever their inputs, because their edge losses keep inputs
  away from the points where the result could flip (Floor, comparisons, ArgMax, casts to int);
- PRESERVING ops move, pick or compare values without rounding: exact outputs from exact inputs;
- INTEGRAL ops round in general, but not on small integers (sums of small integers are exact in
  any order, exp(0) = 1 and sqrt(4) = 2 in every libm): exact outputs from exact inputs when all
  float inputs and outputs are integers of small magnitude;
- anything else (Div, means, Softmax, Sigmoid, ...) is inexact. Sigmoid and Tanh saturate to
  integers (sigmoid(40) = 1.0 in float32), which a fast approximation may miss, so they are not
  INTEGRAL.
"""

from __future__ import annotations

import torch

from fuzzer.graph.model import Node
from fuzzer.spec.dtypes import DType
from fuzzer.spec.families import Binary, Unary
from fuzzer.spec.registry import get

RESOLVING = frozenset({"Floor", "Ceil", "Round", "Sign", "Hardmax", "IsNaN", "IsInf"})
PRESERVING = frozenset(
    {
        # layout and indexing
        "Reshape",
        "Flatten",
        "Transpose",
        "Squeeze",
        "Unsqueeze",
        "Expand",
        "DepthToSpace",
        "SpaceToDepth",
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
        # picking and sign games
        "Neg",
        "Abs",
        "Relu",
        "ThresholdedRelu",
        "Clip",
        "Max",
        "Min",
        "ReduceMax",
        "ReduceMin",
        "MaxPool",
        "GlobalMaxPool",
        "TopK",
        # float to float conversion rounds to nearest even, the same everywhere
        "Cast",
        "CastLike",
    }
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
# integers up to half the first one a float type cannot hold, so sums of them stay exact
SMALL = {DType.float16: 2.0**10, DType.bfloat16: 2.0**7, DType.float32: 2.0**23, DType.float64: 2.0**52}
# ops that are the identity on a single input
IDENTITY_ON_ONE = frozenset({"Mean", "Sum", "Max", "Min"})
# along an axis of length 1: Softmax is 1, LogSoftmax 0 and Hardmax 1, whatever the input
CONSTANT_ON_SINGLETON = frozenset({"Softmax", "LogSoftmax", "Hardmax"})
# reductions that, over extents of length 1 only, compute x or |x| (sqrt(x * x) == |x| in IEEE
# binary arithmetic, barring overflow)
EXACT_ON_SINGLETONS = frozenset(
    {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2"}
)


def small_integers(t: torch.Tensor, dt: DType) -> torch.Tensor:
    """Elementwise: an integer of magnitude at most SMALL[dt] (always true for non-float types)."""
    if not dt.is_float:
        return torch.ones((), dtype=torch.bool)
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
    spec = get(op)
    if isinstance(spec, Binary):
        return True
    return (
        isinstance(spec, Unary)
        and spec.op_type not in ("Softmax", "LogSoftmax", "Hardmax")
        or (spec.op_type in ("Cast", "CastLike"))
    )


def exact_outputs(
    node: Node, xs: list[torch.Tensor], ys: list[torch.Tensor], in_exact: list[torch.Tensor], dts: list[list[DType]]
) -> list[torch.Tensor]:
    """Exactness masks of `node`'s outputs (bool tensors broadcastable to each output).

    `in_exact` holds the inputs' masks and `dts` is [input dtypes, output dtypes]. Elementwise ops
    keep masks elementwise (cosh of an exact 0 is exact even where cosh of an exact 1 is not);
    other ops reduce them to one flag for the whole tensor.
    """
    op = get(node.op).op_type
    in_dts, out_dts = dts
    true = torch.ones((), dtype=torch.bool)
    if op in RESOLVING or (op in CONSTANT_ON_SINGLETON and singleton_axis(node, xs[0])):
        return [true for _ in ys]
    preserving = (
        op in PRESERVING
        or (op in IDENTITY_ON_ONE and len(xs) == 1)
        or (op in EXACT_ON_SINGLETONS and singleton_reduction(node, xs[0]))
    )
    if not (preserving or op in INTEGRAL):
        return [true if not dt.is_float else ~true for dt in out_dts]
    masks = list(in_exact)
    if op in INTEGRAL and not preserving:
        masks += [small_integers(x, dt) for x, dt in zip(xs, in_dts)]
    if elementwise(node.op):
        base = torch.ones((), dtype=torch.bool)
        for m in masks:
            base = base & m
        outs = [
            base & small_integers(y, dt) if op in INTEGRAL and not preserving else base for y, dt in zip(ys, out_dts)
        ]
    else:
        whole = all(bool(m.all()) for m in masks)
        if op in INTEGRAL and not preserving:
            whole = whole and all(bool(small_integers(y, dt).all()) for y, dt in zip(ys, out_dts))
        outs = [torch.tensor(whole) for _ in ys]
    return [m if dt.is_float else true for m, dt in zip(outs, out_dts)]
