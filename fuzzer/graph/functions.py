"""Elementwise functions of the ops: monotone ones, valleys, preimages through them, exact images.

Each maps a float to a float over the reals, clamped to the op's domain (an op applied partly
outside its domain ranges over the valid part), with overflow going to +-inf. `fuzzer.graph.ranges`
applies them to the ends of intervals; `fuzzer.generate.values` pulls requirements back through them.
`mapped` instead runs an op's own implementation on exact values of its dtype (the points of
fuzzer.graph.feasibility).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from fuzzer.graph.model import Graph, Node
from fuzzer.spec.families import Unary
from fuzzer.spec.ops.softmax import AlongAxis
from fuzzer.spec.registry import get

Range = tuple[float, float]


def clamped(fn: Callable[[float], float], lo: float = -math.inf, hi: float = math.inf) -> Callable[[float], float]:
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


def log_or_inf(v: float) -> float:
    """log v, and -inf at 0 and below."""
    return -math.inf if v <= 0 else math.log(v)


def _atanh(v: float) -> float:
    return math.copysign(math.inf, v) if abs(v) >= 1 else math.atanh(v)


# monotone increasing elementwise functions (applied to both ends); decreasing ones swap them
INCREASING: dict[str, Callable[[float], float]] = {
    "Exp": clamped(math.exp),
    "Log": clamped(log_or_inf, 0.0),
    "Sqrt": clamped(math.sqrt, 0.0),
    "Tanh": clamped(math.tanh),
    "Sigmoid": clamped(lambda v: 0.5 * (1 + math.tanh(v / 2))),
    "Asinh": clamped(math.asinh),
    "Atan": clamped(math.atan),
    "Erf": clamped(math.erf),
    "Softplus": clamped(lambda v: max(v, 0.0) + math.log1p(math.exp(-abs(v)))),
    "Softsign": clamped(lambda v: v / (1 + abs(v)) if math.isfinite(v) else math.copysign(1.0, v)),
    "Acosh": clamped(math.acosh, 1.0),
    "Asin": clamped(math.asin, -1.0, 1.0),
    "Atanh": clamped(_atanh, -1.0, 1.0),
    "Sinh": clamped(math.sinh),
    "Ceil": clamped(math.ceil),
    "Floor": clamped(math.floor),
    "Round": clamped(round),
    "Relu": clamped(lambda v: max(v, 0.0)),
    "Sign": clamped(lambda v: float((v > 0) - (v < 0))),
    "Identity": clamped(lambda v: v),
}
DECREASING: dict[str, Callable[[float], float]] = {"Neg": clamped(lambda v: -v), "Acos": clamped(math.acos, -1.0, 1.0)}


def attr32(a: dict, name: str, default: float) -> float:
    """Float attribute `name` of an op (`default` if unset), as the float32 ONNX stores."""
    return float(np.float32(default if a.get(name) is None else a[name]))


def monotone(node: Node) -> Callable[[float], float] | None:
    """The elementwise function of `node` if it is monotone (either way) for its attributes."""
    op, a = get(node.op).op_type, node.attrs
    if op in INCREASING or op in DECREASING:
        return INCREASING.get(op) or DECREASING[op]
    if op == "LeakyRelu" and attr32(a, "alpha", 0.01) >= 0:
        alpha = attr32(a, "alpha", 0.01)
        return clamped(lambda v: v if v >= 0 else alpha * v if alpha else 0.0)  # 0 * -inf is 0 here
    if op == "HardSigmoid":
        alpha, beta = attr32(a, "alpha", 0.2), attr32(a, "beta", 0.5)

        def hard_sigmoid(v: float) -> float:
            if not alpha:  # a constant (0 * inf is no NaN here)
                z = beta
            else:
                z = alpha * v + beta if math.isfinite(v) else math.copysign(1, v * alpha)
            return min(max(z, 0), 1)

        return clamped(hard_sigmoid)
    if op in ("Elu", "Selu", "Celu"):  # x above 0, a scaled expm1 below: increasing for scales >= 0
        alpha = attr32(a, "alpha", 1.67326319217681884765625 if op == "Selu" else 1.0)
        gamma = attr32(a, "gamma", 1.05070102214813232421875) if op == "Selu" else 1.0
        if alpha < 0 or gamma < 0:
            return None
        scale = alpha if op == "Celu" else 1.0  # Celu: alpha * expm1(x / alpha)
        return clamped(lambda v: gamma * (v if v >= 0 else alpha * math.expm1(v / scale)))
    return None


def _gelu(v: float) -> float:
    return 0.5 * v * (1 + math.erf(v / math.sqrt(2)))


def _mish(v: float) -> float:
    return v * math.tanh(max(v, 0.0) + math.log1p(math.exp(-abs(v))))


# elementwise functions that fall from 0 (at -inf) to a minimum, then rise: (function, where the
# minimum is, the minimum less a little for rounding and for Gelu's tanh approximation)
VALLEYS: dict[str, tuple[Callable[[float], float], float, float]] = {
    "Gelu": (clamped(_gelu), -0.7518, -0.171),
    "Mish": (clamped(_mish), -1.1924, -0.310),
    "HardSwish": (clamped(lambda v: v * min(max(v / 6 + 0.5, 0.0), 1.0)), -1.5, -0.376),
}


def valley(op: str, r: Range) -> Range:
    f, at, low = VALLEYS[op]
    lo, hi = r
    # a little slack for rounding and approximations (Gelu's tanh one is 5e-4 above gelu(2.7))
    top = max(f(hi) + 1e-3 * abs(f(hi)), 0.0)
    if lo >= at:  # increasing here
        return (f(lo) - 1e-3 * abs(f(lo)), top)
    if hi <= at:
        return (low, 0.0)
    return (low, top)


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


# a point mapped through an elementwise op is run this many times: long enough for torch's
# vectorised loop and its scalar tail, which may round differently (a point must be exact)
RUN_LENGTH = 67


def maps_each(op: str) -> bool:
    """Spec `op` maps each element of its first operand by itself: casts, and unary functions but
    those along an axis (Softmax, LogSoftmax, Hardmax)."""
    spec = get(op)
    return spec.op_type in ("Cast", "CastLike") or (isinstance(spec, Unary) and not isinstance(spec, AlongAxis))


def elementwise(node: Node) -> bool:
    """`node` maps each element of its one operand by itself (CastLike's second input gives only the type)."""
    return maps_each(node.op) and (len(node.inputs) == 1 or get(node.op).op_type in ("Cast", "CastLike"))


def mapped(node: Node, points: frozenset[float], graph: Graph) -> frozenset[float]:
    """The images of `points` through elementwise `node`, by the spec's own torch implementation in
    the input's dtype (so rounded as the graph rounds them); non-finite images are dropped
    (fuzzer.graph.feasibility's claims hold where a tensor is finite), and so are images that differ
    along a run of RUN_LENGTH copies (a vectorised loop and its tail rounding differently)."""
    if not points:
        return points
    dt_in = graph.tensors[node.inputs[0]].ttype.dtype.torch
    extra = [torch.zeros(1, dtype=graph.tensors[node.inputs[1]].ttype.dtype.torch)] if len(node.inputs) > 1 else []
    out = set()
    for v in points:
        x = torch.full((RUN_LENGTH,), v, dtype=torch.float64).to(dt_in)
        try:
            with torch.no_grad():
                y = get(node.op).torch([x, *extra], node.attrs)[0].double()
        except (RuntimeError, TypeError, ValueError):
            return frozenset()
        if bool(torch.isfinite(y).all()) and bool((y == y[0]).all()):
            out.add(float(y[0]))
    return frozenset(out)
