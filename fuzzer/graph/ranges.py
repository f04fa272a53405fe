"""Interval analysis: a range [lo, hi] holding every finite value a tensor can take.

Ranges over-approximate: each tensor gets [lo, hi] containing all its finite values over the leaf
domains (NaN is not a value; an op applied partly outside its domain ranges over the valid part).
Ops without a rule get (-inf, inf). See `feasibility` for what the ranges prove.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fuzzer.graph.model import Graph, Node
from fuzzer.spec.registry import get

Range = tuple[float, float]
ANY: Range = (-math.inf, math.inf)


def _f(fn: Callable[[float], float], lo: float = -math.inf, hi: float = math.inf) -> Callable[[float], float]:
    """fn clamped to its domain [lo, hi], with overflow going to +-inf."""

    def run(v: float) -> float:
        v = min(max(v, lo), hi)
        try:
            return fn(v)
        except OverflowError:
            return math.inf if v > 0 else -math.inf
        except ValueError:
            return -math.inf  # log(0), atanh(-1): the open end of the range

    return run


def _log(v: float) -> float:
    return -math.inf if v <= 0 else math.log(v)


def _atanh(v: float) -> float:
    return math.copysign(math.inf, v) if abs(v) >= 1 else math.atanh(v)


# monotone increasing elementwise functions (applied to both ends); decreasing ones swap them
INCREASING: dict[str, Callable[[float], float]] = {
    "Exp": _f(math.exp),
    "Log": _f(_log, 0.0),
    "Sqrt": _f(math.sqrt, 0.0),
    "Tanh": _f(math.tanh),
    "Sigmoid": _f(lambda v: 0.5 * (1 + math.tanh(v / 2))),
    "Asinh": _f(math.asinh),
    "Atan": _f(math.atan),
    "Erf": _f(math.erf),
    "Softplus": _f(lambda v: max(v, 0.0) + math.log1p(math.exp(-abs(v)))),
    "Softsign": _f(lambda v: v / (1 + abs(v)) if math.isfinite(v) else math.copysign(1.0, v)),
    "Acosh": _f(math.acosh, 1.0),
    "Asin": _f(math.asin, -1.0, 1.0),
    "Atanh": _f(_atanh, -1.0, 1.0),
    "Sinh": _f(math.sinh),
    "Ceil": _f(math.ceil),
    "Floor": _f(math.floor),
    "Round": _f(round),
    "Relu": _f(lambda v: max(v, 0.0)),
    "Sign": _f(lambda v: float((v > 0) - (v < 0))),
    "Identity": _f(lambda v: v),
}
DECREASING: dict[str, Callable[[float], float]] = {"Neg": _f(lambda v: -v), "Acos": _f(math.acos, -1.0, 1.0)}
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


def _attr(a: dict, name: str, default: float) -> float:
    return float(np.float32(default if a.get(name) is None else a[name]))


def monotone(node: Node) -> Callable[[float], float] | None:
    """The elementwise function of `node` if it is monotone (either way) for its attributes."""
    op, a = get(node.op).op_type, node.attrs
    if op in INCREASING or op in DECREASING:
        return INCREASING.get(op) or DECREASING[op]
    if op == "LeakyRelu" and _attr(a, "alpha", 0.01) >= 0:
        alpha = _attr(a, "alpha", 0.01)
        return _f(lambda v: v if v >= 0 else alpha * v)
    if op == "HardSigmoid":
        alpha, beta = _attr(a, "alpha", 0.2), _attr(a, "beta", 0.5)
        return _f(lambda v: min(max(alpha * v + beta if math.isfinite(v) else math.copysign(1, v * alpha), 0), 1))
    if op in ("Elu", "Selu", "Celu"):  # x above 0, a scaled expm1 below: increasing for scales >= 0
        alpha = _attr(a, "alpha", 1.67326319217681884765625 if op == "Selu" else 1.0)
        gamma = _attr(a, "gamma", 1.05070102214813232421875) if op == "Selu" else 1.0
        if alpha < 0 or gamma < 0:
            return None
        scale = alpha if op == "Celu" else 1.0  # Celu: alpha * expm1(x / alpha)
        return _f(lambda v: gamma * (v if v >= 0 else alpha * math.expm1(v / scale)))
    return None


def _gelu(v: float) -> float:
    return 0.5 * v * (1 + math.erf(v / math.sqrt(2)))


def _mish(v: float) -> float:
    return v * math.tanh(max(v, 0.0) + math.log1p(math.exp(-abs(v))))


# elementwise functions that fall from 0 (at -inf) to a minimum, then rise: (function, where the
# minimum is, the minimum less a little for rounding and for Gelu's tanh approximation)
VALLEYS: dict[str, tuple[Callable[[float], float], float, float]] = {
    "Gelu": (_f(_gelu), -0.7518, -0.171),
    "Mish": (_f(_mish), -1.1924, -0.310),
    "HardSwish": (_f(lambda v: v * min(max(v / 6 + 0.5, 0.0), 1.0)), -1.5, -0.376),
}


def valley(op: str, r: Range) -> Range:
    f, at, low = VALLEYS[op]
    lo, hi = r
    if lo >= at:  # increasing here; a little slack for rounding
        return (f(lo) - 1e-3 * abs(f(lo)), f(hi) + 1e-3 * abs(f(hi)))
    if hi <= at:
        return (low, 0.0)
    return (low, max(f(hi), 0.0))


def preimage(f: Callable[[float], float], want: Range, over: Range) -> Range | None:
    """The x in `over` (finite) with f(x) in `want`, for a monotone f (an interval; None if empty).

    Found by bisection, so flat stretches (Relu, Floor, HardSigmoid) need no inverse.
    """
    lo, hi = over
    up = f(lo) <= f(hi)
    inside = (lambda v: want[0] <= f(v)) if up else (lambda v: f(v) <= want[1])  # true from some x on
    below = (lambda v: f(v) <= want[1]) if up else (lambda v: want[0] <= f(v))  # true up to some x
    if not (inside(hi) and below(lo)):
        return None
    a, b = _edge(inside, lo, hi, rising=True), _edge(below, lo, hi, rising=False)
    return (a, b) if a <= b else None


def _edge(test: Callable[[float], bool], lo: float, hi: float, *, rising: bool) -> float:
    """Where a monotone `test` flips on [lo, hi]: the first true x (rising) or the last true x."""
    if rising and test(lo):
        return lo
    if not rising and test(hi):
        return hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if test(mid) == rising:
            hi = mid
        else:
            lo = mid
    return hi if rising else lo


def node_range(node: Node, ins: list[Range], graph: Graph) -> list[Range]:
    """Ranges of `node`'s outputs from its inputs' (ANY where no rule applies)."""
    spec = get(node.op)
    op, a, n_out = spec.op_type, node.attrs, len(node.outputs)
    f = monotone(node)
    if f is not None:
        lo, hi = sorted((f(ins[0][0]), f(ins[0][1])))
        return [(lo, hi)]
    if op == "ReduceProd" and ins[0][0] >= 0:
        n = reduced_count(node, graph)
        return [(_f(lambda v: v**n)(ins[0][0]), _f(lambda v: v**n)(ins[0][1]))]
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
        return [product(ins[0], (1 / ins[1][1], 1 / ins[1][0]))]
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
    if op == "Shrink":
        bias = _attr(a, "bias", 0.0)
        return [(min(0.0, ins[0][0] + bias), max(0.0, ins[0][1] - bias))]
    if op == "PRelu":  # x above 0, slope * x below
        neg = (min(ins[0][0], 0.0), min(ins[0][1], 0.0))
        return [hull([(max(ins[0][0], 0.0), max(ins[0][1], 0.0)), product(neg, ins[1])])]
    if op == "LRN":  # x over (bias + a sum of squares)^beta >= bias^beta: x shrunk, sign kept
        bias, beta = _attr(a, "bias", 1.0), _attr(a, "beta", 0.75)
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
    if op in HULL or (op == "Resize" and a.get("_mode") in ("nearest", "linear")):
        return [hull(ins[:1])] * n_out if op == "Resize" else [hull(ins)] * n_out
    if op == "Pow" and ins[0][0] > 0 and graph.tensors[node.outputs[0]].ttype.dtype.is_float:
        lo, hi = product((math.log(ins[0][0]), _log(ins[0][1])), ins[1])  # x^y = exp(y log x)
        return [(_f(math.exp)(lo), _f(math.exp)(hi))]
    if op == "AveragePool":  # a mean of window elements, and of zero pads where they count
        return [hull([ins[0], (0.0, 0.0)] if a.get("count_include_pad") else ins[:1])]
    if op == "Where":
        return [hull([ins[0], ins[2]])]
    if op in ("Pad", "Trilu"):
        fill = float(a.get("_value") or 0.0) if op == "Pad" else 0.0
        return [hull([ins[0], (fill, fill)])]
    if op == "ThresholdedRelu" and _attr(a, "alpha", 1.0) >= 0:
        alpha, (lo, hi) = _attr(a, "alpha", 1.0), ins[0]
        return [hull([(0.0, 0.0), (max(lo, alpha), hi)]) if hi > alpha else (0.0, 0.0)]
    if op == "Clip":
        lo, hi = a.get("_min"), a.get("_max")
        return [(clamp(ins[0][0], lo, hi), clamp(ins[0][1], lo, hi))]
    if op == "Abs":
        (lo, hi) = ins[0]
        return [(0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))]
    if op == "Cosh":
        m = max(abs(ins[0][0]), abs(ins[0][1]))
        low = 0.0 if ins[0][0] <= 0 <= ins[0][1] else min(abs(ins[0][0]), abs(ins[0][1]))
        return [(_f(math.cosh)(low), _f(math.cosh)(m))]
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


NON_NEGATIVE = frozenset({"ReduceL1", "ReduceL2", "ReduceSumSquare", "LpPool", "GlobalLpPool"})
NORMALIZATIONS = frozenset({"LayerNormalization", "InstanceNormalization", "GroupNormalization"})


def normalized_count(node: Node, graph: Graph) -> int:
    """How many elements a normalization takes each mean and variance over."""
    shape = [int(d) for d in graph.tensors[node.inputs[0]].ttype.shape]
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


def clamp(v: float, lo, hi) -> float:
    if lo is not None:
        v = max(v, float(np.float32(lo)))
    if hi is not None:
        v = min(v, float(np.float32(hi)))
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
    """The leaf's domain box (which the search keeps float leaves in), widened to integers for
    integer leaves and to the values a weight already holds."""
    t = graph.tensors[name]
    if not t.ttype.dtype.is_int and not t.ttype.dtype.is_float:
        return (0.0, 1.0)
    lo, hi = t.domain.lo, t.domain.hi
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
