"""Interval analysis: a range [lo, hi] holding every finite value a tensor can take.

Ranges over-approximate: each tensor gets [lo, hi] containing all its finite values over the leaf
domains (NaN is not a value; an op applied partly outside its domain ranges over the valid part).
Ops without a rule get (-inf, inf). See `feasibility` for what the ranges prove.
"""

from __future__ import annotations

import math

import numpy as np

from fuzzer.graph.functions import VALLEYS, Range, attr32, clamped, log_or_inf, monotone, valley
from fuzzer.graph.model import Graph, Node
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get

ANY: Range = (-math.inf, math.inf)
BOUNDED: dict[str, Range] = {
    "Sin": (-1.0, 1.0),
    "Cos": (-1.0, 1.0),
    "Softmax": (0.0, 1.0),
    "LogSoftmax": (-math.inf, 0.0),
    "Hardmax": (0.0, 1.0),
}
# ops that only rearrange their first input's elements (every element kept, none made)
LAYOUT = frozenset(
    {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Expand", "DepthToSpace", "SpaceToDepth"}
)
# outputs are some of the inputs' values (Where: of X and Y, not the condition)
HULL = LAYOUT | {
    "Concat",
    "Split",
    "Slice",
    "Tile",
    "Gather",
    "GatherElements",
    "GatherND",
    "Mean",
    "ReduceMax",
    "ReduceMin",
    "ReduceMean",
    "MaxPool",
    "GlobalMaxPool",
    "GlobalAveragePool",
    "TopK",
}


def node_range(node: Node, ins: list[Range], graph: Graph) -> list[Range]:
    """Ranges of `node`'s outputs from its inputs' (ANY where no rule applies).

    Integer arithmetic wraps: an integer output whose range leaves its dtype's may take any value.
    """
    outs = op_range(node, ins, graph)
    dts = [graph.tensors[o].ttype.dtype for o in node.outputs]
    return [r if fits_dtype(r, dt) else dtype_range(dt) for r, dt in zip(outs, dts)]


def op_range(node: Node, ins: list[Range], graph: Graph) -> list[Range]:
    """Ranges of `node`'s outputs by the rules of its op, integer wrapping aside."""
    spec = get(node.op)
    op, a, n_out = spec.op_type, node.attrs, len(node.outputs)
    f = monotone(node)
    if f is not None:
        r = ins[0]
        if op in STEPS and graph.tensors[node.inputs[0]].role == "node":
            r = rounded(r, graph.tensors[node.inputs[0]].ttype.dtype)  # 2.9989 may be 3.0 in bfloat16
        lo, hi = sorted((f(r[0]), f(r[1])))
        return [(lo, hi)]
    if op in SUMS:
        return [reduction_range(node, ins[0], graph)]
    if op in PRODUCTS:
        return [product_range(node, ins, graph)]
    if op in ("Softmax", "LogSoftmax", "Hardmax") and along_singleton(node, graph):
        return [(0.0, 0.0) if op == "LogSoftmax" else (1.0, 1.0)]
    if op in BOUNDED:
        return [BOUNDED[op]]
    if op in VALLEYS:
        return [valley(op, ins[0])]
    if op in ("Min", "Max"):  # the elementwise extreme: between the extremes of the ends
        pick = min if op == "Min" else max
        return [(pick(r[0] for r in ins), pick(r[1] for r in ins))]
    if op == "Reciprocal" and (ins[0][0] > 0 or ins[0][1] < 0):
        return [(1 / ins[0][1], 1 / ins[0][0])]
    if op == "Div" and (ins[1][0] > 0 or ins[1][1] < 0):
        lo, hi = product(ins[0], (1 / ins[1][1], 1 / ins[1][0]))
        if graph.tensors[node.outputs[0]].ttype.dtype.is_int:  # truncated towards 0
            lo, hi = clamped(math.trunc)(lo), clamped(math.trunc)(hi)
        return [(lo, hi)]
    if op == "Div" and ins[0] == (0.0, 0.0):  # 0 / y is 0, or NaN (not a value) where y is 0
        return [(0.0, 0.0)]
    if op == "Mod":  # smaller than the divisor, with the sign of the dividend (fmod) or the divisor
        m = max(abs(ins[1][0]), abs(ins[1][1]))
        sign = ins[0] if a.get("fmod") else ins[1]
        return [(0.0 if sign[0] >= 0 else -m, 0.0 if sign[1] <= 0 else m)]
    if op in ("ScatterElements", "ScatterND") and a.get("reduction") != "mul":
        (dl, dh), (ul, uh) = ins
        if a.get("reduction") == "add":  # data plus any number of updates
            return [(dl if ul >= 0 else -math.inf, dh if uh <= 0 else math.inf)]
        return [hull(ins)]  # data, updates, or the larger or smaller of the two
    if op in NON_NEGATIVE:
        return [(0.0, math.inf)]
    if op == "Tan" and -math.pi / 2 < ins[0][0] and ins[0][1] < math.pi / 2:
        return [(math.tan(ins[0][0]), math.tan(ins[0][1]))]
    if op == "Shrink":  # x + bias below -lambd, x - bias above lambd, 0 between
        (lo, hi), lambd, bias = ins[0], attr32(a, "lambd", 0.5), attr32(a, "bias", 0.0)
        parts = [(0.0, 0.0)] if lo <= lambd and -lambd <= hi else []
        parts += [(lo + bias, -lambd + bias)] if lo < -lambd else []
        parts += [(lambd - bias, hi - bias)] if hi > lambd else []
        return [hull(parts)]
    if op == "PRelu":  # x above 0, slope * x below
        neg = (min(ins[0][0], 0.0), min(ins[0][1], 0.0))
        return [hull([(max(ins[0][0], 0.0), max(ins[0][1], 0.0)), product(neg, ins[1])])]
    if op == "LRN":  # x over (bias + a sum of squares)^beta >= bias^beta: x shrunk, sign kept
        bias, beta = attr32(a, "bias", 1.0), attr32(a, "beta", 0.75)
        return [product(ins[0], (0.0, bias**-beta))] if bias > 0 and beta >= 0 else [ANY]
    if op in ("ArgMax", "ArgMin"):
        return [(0.0, float(group_size(node, graph) - 1))]  # an index along the axis
    if op == "CumSum":
        # a running sum of 1..n elements (0 of them where exclusive); n times an end is the far end
        n = float(group_size(node, graph, node.attrs["_axis"]))
        (lo, hi), none = ins[0], (0.0, 0.0) if node.attrs["exclusive"] else ins[0]
        return [hull([ins[0], product((1.0, n), (lo, lo)), product((1.0, n), (hi, hi)), none])]
    if op in NORMALIZATIONS and normalized_count(node, graph) == 1:
        # x - mean(x) over one element is exactly 0: the output is the bias, or 0 without one
        return [ins[2] if len(ins) > 2 else (0.0, 0.0)] + [ANY] * (n_out - 1)
    if op == "TopK":  # the values, and their indices along the axis
        return [hull(ins[:1]), (0.0, float(group_size(node, graph) - 1))]
    if op in HULL or (op == "Resize" and a.get("_mode") in ("nearest", "linear")):
        if op == "Resize" and a.get("coordinate_transformation_mode") == "tf_crop_and_resize":
            fill = attr32(a, "extrapolation_value", 0.0)  # outside the region of interest
            return [hull([ins[0], (fill, fill)])]
        return [hull(ins[:1])] * n_out if op == "Resize" else [hull(ins)] * n_out
    if op == "Pow" and ins[0][0] > 0 and graph.tensors[node.outputs[0]].ttype.dtype.is_float:
        lo, hi = product((math.log(ins[0][0]), log_or_inf(ins[0][1])), ins[1])  # x^y = exp(y log x)
        return [(clamped(math.exp)(lo), clamped(math.exp)(hi))]
    if op == "AveragePool":  # a mean of window elements, and of zero pads where they count
        return [hull([ins[0], (0.0, 0.0)] if a.get("count_include_pad") else ins[:1])]
    if op == "Where":
        return [hull([ins[0], ins[2]])]
    if op in ("Pad", "Trilu"):
        fill = float(a.get("_value") or 0.0) if op == "Pad" else 0.0
        return [hull([ins[0], (fill, fill)])]
    if op == "ThresholdedRelu":  # x above alpha, else 0 (any alpha: below 0 too)
        alpha, (lo, hi) = attr32(a, "alpha", 1.0), ins[0]
        parts = [(0.0, 0.0)] if lo <= alpha else []
        return [hull(parts + ([(max(lo, alpha), hi)] if hi > alpha else []))]
    if op == "Clip":  # the bounds as float32 or as they are (a float64 Clip): both
        ends = [clamp(v, a.get("_min"), a.get("_max"), rounded) for v in ins[0] for rounded in (False, True)]
        return [(min(ends), max(ends))]
    if op == "Abs":
        return [absolute(ins[0])]
    if op == "Cosh":
        m = max(abs(ins[0][0]), abs(ins[0][1]))
        low = 0.0 if ins[0][0] <= 0 <= ins[0][1] else min(abs(ins[0][0]), abs(ins[0][1]))
        return [(clamped(math.cosh)(low), clamped(math.cosh)(m))]
    if op in ("Add", "Sum"):
        return [(sum(r[0] for r in ins), sum(r[1] for r in ins))]
    if op == "Sub":
        return [(ins[0][0] - ins[1][1], ins[0][1] - ins[1][0])]
    if op == "Mul":
        return [product(ins[0], ins[1])]
    if op == "ConstantOfShape":
        v = float(a["_value"])
        return [(v, v)]
    if op == "OneHot" and "_values" in a:
        vals = [float(v) for v in a["_values"]]
        return [(min(vals), max(vals))]
    if op in ("Cast", "CastLike") and graph.tensors[node.outputs[0]].ttype.dtype.is_float:
        return [ins[0]]
    return [ANY] * n_out


NON_NEGATIVE = frozenset({"LpPool", "GlobalLpPool"})
# step functions, which turn a rounding error into a jump
STEPS = frozenset({"Floor", "Ceil", "Round"})
# significand bits per float dtype
EPS_BITS = {DType.float16: 10, DType.bfloat16: 7, DType.float32: 23, DType.float64: 52}
# reductions whose output is a function of the sum of n terms, one per reduced element
SUMS = frozenset(
    {"ReduceSum", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ReduceProd"}
)
# sums of products of one element of each input (plus a bias): n terms at most, see `terms`
PRODUCTS = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum"})


def rounded(r: Range, dt: DType) -> Range:
    """`r` widened by two units in the last place of `dt`: where a computed value may be, rounding
    included, which a step function (Floor) turns into a whole integer more."""
    eps = 2.0 ** -EPS_BITS.get(dt, 52)
    return (r[0] - 2 * eps * abs(r[0]), r[1] + 2 * eps * abs(r[1]))


def reduction_range(node: Node, r: Range, graph: Graph) -> Range:
    """The range of a reduction (SUMS) over n = `reduced_count` elements each in `r`.

    A "noop" reduction reduces one element (its elementwise steps only). A sum of n values in
    [lo, hi] lies in [n lo, n hi]; an integer sum that may wrap gets no range.
    """
    op, (lo, hi) = get(node.op).op_type, r
    if not math.prod(int(d) for d in graph.tensors[node.inputs[0]].ttype.shape):
        return ANY  # an empty reduction: sums are 0, maxima -inf, ...
    n = float(reduced_count(node, graph))
    if op == "ReduceProd":
        if lo >= 0:
            return (clamped(lambda v: v**n)(lo), clamped(lambda v: v**n)(hi))
        m = clamped(lambda v: v**n)(max(-lo, hi))
        return (-m, m) if n > 1 else r
    if op == "ReduceLogSumExp":  # between max and max + log n: between lo + log n and hi + log n
        return (lo + math.log(n), hi + math.log(n))
    term = {"ReduceL1": absolute(r), "ReduceL2": square(r), "ReduceSumSquare": square(r)}.get(op, r)
    total = (n * term[0], n * term[1])
    if op == "ReduceL2":  # an integer norm is the root truncated
        lo, hi = math.sqrt(total[0]), math.sqrt(total[1])
        return (math.floor(lo), hi) if graph.tensors[node.outputs[0]].ttype.dtype.is_int else (lo, hi)
    if op == "ReduceLogSum":
        return (clamped(log_or_inf, 0.0)(total[0]), clamped(log_or_inf, 0.0)(total[1]))
    return total


def product_range(node: Node, ins: list[Range], graph: Graph) -> Range:
    """The range of a sum of at most `terms` products of one element of each input, plus a bias
    (Einsum: of every input; the rest: of the first two).

    Convolutions may sum fewer terms (padding) and so reach 0; an all-zero input makes all zeros.
    """
    op, a = get(node.op).op_type, node.attrs
    n_factors = 2 if op in ("MatMul", "Gemm", "Conv", "ConvTranspose") else len(ins)
    each = ins[0]
    for r in ins[1:n_factors]:
        each = product(each, r)
    if each == (0.0, 0.0):
        out = each
    else:
        n = float(terms(node, graph))
        each = hull([each, (0.0, 0.0)]) if op in ("Conv", "ConvTranspose") or n == 0 else each
        out = (0.0, 0.0) if n == 0 else (n * each[0], n * each[1])
    if op == "Gemm":
        out = product(out, (attr32(a, "alpha", 1.0),) * 2)
    if len(ins) > n_factors:  # a bias (Gemm's C times beta)
        bias = product(ins[2], (attr32(a, "beta", 1.0),) * 2) if op == "Gemm" else ins[2]
        out = (out[0] + bias[0], out[1] + bias[1])
    return out


def terms(node: Node, graph: Graph) -> int:
    """How many products a MatMul, Gemm or convolution output sums at most (the inner dimension)."""
    op, a = get(node.op).op_type, node.attrs
    shape = [[int(d) for d in graph.tensors[i].ttype.shape] for i in node.inputs]
    if op == "MatMul":
        return shape[0][-1] if len(shape[0]) else 1
    if op == "Gemm":
        return shape[0][0 if a.get("transA") else 1]
    if op == "Conv":  # weights (M, C / group, k...)
        return math.prod(shape[1][1:])
    if op == "Einsum":
        return einsum_terms(a["equation"], shape, a.get("_ell") or [0] * len(shape))
    return shape[1][0] // a["group"] * math.prod(shape[1][2:])  # ConvTranspose: (C, M / group, k...)


def einsum_terms(equation: str, shapes: list[list[int]], n_ell: list[int]) -> int:
    """How many products an output of a trace-free Einsum sums: the product of the dims of the
    letters missing from the output (an implicit output keeps the letters used once). An ellipsis
    is always in an explicit output (the spec writes it so), so its dims are never summed."""
    lhs, arrow, out = equation.partition("->")
    dims: dict[str, int] = {}
    for term, shp, ne in zip(lhs.split(","), shapes, n_ell):
        for i, c in enumerate(term.replace("...", "")):
            dims[c] = shp[ne + i]
    letters = lhs.replace(",", "").replace(".", "")
    kept = out if arrow else {c for c in letters if letters.count(c) == 1}
    return math.prod(n for c, n in dims.items() if c not in kept)


def square(r: Range) -> Range:
    a = absolute(r)
    return (a[0] * a[0], a[1] * a[1])


def absolute(r: Range) -> Range:
    lo, hi = r
    return (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))


def fits_dtype(r: Range, dt: DType) -> bool:
    """Integer arithmetic cannot have wrapped: `r` lies within the dtype's values (floats always)."""
    if not dt.is_int:
        return True
    lo, hi = dtype_range(dt)
    return lo <= r[0] and r[1] <= hi


def dtype_range(dt: DType) -> Range:
    """Every value of an integer dtype (bool: 0 and 1; floats: ANY)."""
    if dt.is_int:
        info = np.iinfo(dt.numpy)
        return (float(info.min), float(info.max))
    return (0.0, 1.0) if dt == DType.bool else ANY


NORMALIZATIONS = frozenset({"LayerNormalization", "InstanceNormalization", "GroupNormalization"})


def normalized_count(node: Node, graph: Graph) -> int:
    """How many elements a normalization takes each mean and variance over."""
    return group_elements(node, [int(d) for d in graph.tensors[node.inputs[0]].ttype.shape])


def group_elements(node: Node, shape) -> int:
    """How many elements of an input of `shape` a normalization takes each mean and variance over
    (consecutive in memory: a group is a contiguous block)."""
    op = get(node.op).op_type
    if op == "LayerNormalization":
        return math.prod(shape[node.attrs["_axis"] :])
    if op == "GroupNormalization":
        return shape[1] // node.attrs["num_groups"] * math.prod(shape[2:])
    return math.prod(shape[2:])  # InstanceNormalization


def reduced_count(node: Node, graph: Graph) -> int:
    """How many input elements each output element of a reduction combines."""
    n_in = math.prod(int(d) for d in graph.tensors[node.inputs[0]].ttype.shape)
    n_out = math.prod(int(d) for d in graph.tensors[node.outputs[0]].ttype.shape)
    return max(1, n_in // max(1, n_out))


def hull(rs: list[Range]) -> Range:
    return (min(r[0] for r in rs), max(r[1] for r in rs))


def clamp(v: float, lo, hi, rounded: bool = True) -> float:
    """v clipped to [lo, hi] (None: no bound), the bounds `rounded` to float32 or not."""
    as_is = (lambda b: float(np.float32(b))) if rounded else float
    if lo is not None:
        v = max(v, as_is(lo))
    if hi is not None:
        v = min(v, as_is(hi))
    return v


def product(a: Range, b: Range) -> Range:
    """Interval product; inf * 0 counts as 0 (an unbounded factor times an exact zero)."""
    ends = [0.0 if x == 0 or y == 0 else x * y for x in a for y in b]
    return (min(ends), max(ends))


def group_size(node: Node, graph: Graph, axis: int | None = None) -> int:
    """The length of the axis an op works along (its `axis` attribute, else the last)."""
    shape = graph.tensors[node.inputs[0]].ttype.shape
    axis = node.attrs.get("axis") if axis is None else axis
    return int(shape[-1 if axis is None else axis]) if len(shape) else 1


def along_singleton(node: Node, graph: Graph) -> bool:
    shape = graph.tensors[node.inputs[0]].ttype.shape
    axis = node.attrs.get("axis")
    return len(shape) > 0 and shape[-1 if axis is None else axis] == 1


def leaf_range(graph: Graph, name: str) -> Range:
    """The leaf's domain box (which the search keeps float leaves in, before rounding them to their
    dtype: widened to the rounded ends), widened to integers for integer leaves and to the values
    a weight already holds."""
    t = graph.tensors[name]
    if not t.ttype.dtype.is_int and not t.ttype.dtype.is_float:
        return (0.0, 1.0)
    lo, hi = t.domain.lo, t.domain.hi
    if t.ttype.dtype.is_float:
        rlo, rhi = (float(v) for v in np.asarray([lo, hi]).astype(t.ttype.dtype.numpy).astype(np.float64))
        lo, hi = min(lo, rlo), max(hi, rhi)
    if t.ttype.dtype.is_int:
        lo, hi = math.floor(lo), math.ceil(hi)
    if name in graph.values and graph.values[name].size and not t.ttype.dtype.is_float:
        v = np.asarray(graph.values[name], dtype=np.float64)
        lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    return (float(lo), float(hi))


def ranges(graph: Graph) -> dict[str, Range]:
    """A range for every tensor of `graph`."""
    out = {n: leaf_range(graph, n) for n in graph.inputs + graph.weights}
    for node in graph.nodes:
        outs = node_range(node, [out[i] for i in node.inputs], graph)
        out.update(zip(node.outputs, outs))
    return out
