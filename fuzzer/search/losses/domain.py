"""Losses for ops with a restricted domain: inputs kept away from poles and domain boundaries.

Float operands move by gradient. Integer operands cannot: their Needs have no gradient, and the
search redraws the leaf elements behind them instead (an integer division by zero, say).
"""

from __future__ import annotations

import math

import torch

from fuzzer.search.exact import small_integers
from fuzzer.search.losses.base import Need, OpView, dist_to_int, pole_margin, sabs, unless_exact
from fuzzer.search.losses.table import loss
from fuzzer.search.margins import STRICT, pole, tol
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get


def above(view: OpView, k: int, edge: float, reason: str, *, strict: bool) -> Need:
    """Input k above `edge` by its pole margin (an open domain if strict, else a closed one)."""
    return Need(reason, view.name(k), view.x(k).double() - edge, pole_margin(view, k, strict=strict))


def nonzero(view: OpView, k: int, reason: str) -> Need:
    """Input k away from 0: a float by its pole margin; an integer just nonzero (no gradient)."""
    x = view.x(k)
    if view.is_float(k):
        return Need(reason, view.name(k), away_from_zero(view, k), pole_margin(view, k, strict=True))
    return Need(reason, view.name(k), x.double().abs(), 0.5)


def away_from_zero(view: OpView, k: int) -> torch.Tensor:
    """|x| for float input k, whose gradient at an exact 0 points to the side of 0 where the value
    lies in float64 (see trace.Wide), or up where it is 0 there too (see `sabs`).

    A 0 by rounding has a side: the largest element of a saturated LogSoftmax is 0 in float32 and
    -1e-13 in float64, and only ever below 0; pushed up (sabs), its slice was driven further into
    saturation, and the zeros under Pow's negative exponent stayed for the whole budget (20 nodes
    seed 333). A 0 by structure (a Relu's) is 0 in float64 too, and keeps sabs's push up.
    """
    x = view.x(k).double()
    zero = x.detach() == 0
    if view.wide is None or not bool(zero.any()):
        return sabs(x)
    below = zero & (view.wide(k) < 0)
    return x * torch.where(below | (x.detach() < 0), -1.0, 1.0).to(x.dtype)


@loss("Log")
def log_(view: OpView) -> list[Need]:
    return [above(view, 0, 0.0, "log of a value near or below 0", strict=True)]


@loss("Sqrt")
def sqrt_(view: OpView) -> list[Need]:
    # the derivative is unbounded at 0: a tiny difference upstream is a large one downstream
    return [above(view, 0, 0.0, "sqrt of a value near or below 0", strict=False)]


@loss("Reciprocal")
def reciprocal(view: OpView) -> list[Need]:
    return [nonzero(view, 0, "reciprocal of a value near 0")]


@loss("Div")
def div(view: OpView) -> list[Need]:
    return [nonzero(view, 1, "division by a value near 0")]


@loss("Mod")
def mod(view: OpView) -> list[Need]:
    """A nonzero divisor, and a dividend away from multiples of it (where the remainder jumps).

    The C fmod (fmod=1) is continuous through 0, so only nonzero multiples count there; an exact
    zero dividend gives an exact zero either way.
    """
    out = [nonzero(view, 1, "modulo by a value near 0")]
    if view.is_float(0) and view.name(0) != view.name(1):  # x mod x is an exact 0
        a, b = view.x(0).double(), view.x(1).double()
        b_safe = torch.where(b.abs() < 1e-12, torch.ones_like(b), b)
        q = a / b_safe
        near = unless_exact(dist_to_int(q) * b_safe.abs(), view.exact[0], view.exact[1])
        smooth = (q.abs() < 0.5) if view.attrs.get("fmod") else (a == 0) & view.exact[0]
        near = torch.where(smooth, torch.tensor(math.inf, dtype=near.dtype), near)
        if view.wide is not None and bool((near.detach() == 0).any()):
            # an exact multiple in float64 too is one by structure (Mod(x, Neg(x)), Mod(2x, x)): the
            # remainder is an exact 0 in every backend; only a multiple by rounding is an edge
            w0, w1 = view.wide(0), view.wide(1)
            whole = (near.detach() == 0) & (w1 != 0) & (torch.fmod(w0, torch.where(w1 == 0, 1.0, w1)) == 0)
            near = torch.where(whole, torch.tensor(math.inf, dtype=near.dtype), near)
        out.append(
            Need("dividend near a multiple of the divisor", view.name(0), near, tol(view.in_dtypes[0], a), edge=True)
        )
    return out


@loss("Acos", "Asin", "Atanh")
def unit_interval(view: OpView) -> list[Need]:
    x = view.x(0).double()
    margin = pole_margin(view, 0, strict=view.node.op == "Atanh")  # acos(1) = 0, atanh(1) = inf
    return [Need(f"{view.node.op} of a value near or beyond +-1", view.name(0), 1.0 - x.abs(), margin)]


@loss("Acosh")
def acosh(view: OpView) -> list[Need]:
    return [above(view, 0, 1.0, "acosh of a value near or below 1", strict=False)]


# Sin, Cos and Tan reduce their argument modulo pi: in float32 (OpenVINO computes float64 graphs in
# float32, and fast vector libms reduce in it) the reduction loses about |x| * 2^-24, more than the
# tolerance past a few thousand; |x| is kept below this. A false alarm: OpenVINO's Tan of a float64
# 2.8e11 (bench/results/findings-3.json).
PERIODIC_LIMIT = 1e3


def periodic(view: OpView) -> Need:
    x = view.x(0).double()
    gap = math.log(PERIODIC_LIMIT) - torch.log(x.abs() + 1e-300)
    return Need(f"{view.node.op} of a large argument", view.name(0), gap, 0.0, math.log(1.25), edge=True)


@loss("Sin", "Cos")
def sin_cos(view: OpView) -> list[Need]:
    return [periodic(view)] if view.is_float(0) else []


@loss("Tan")
def tan(view: OpView) -> list[Need]:
    # poles at pi/2 + k*pi; 0.05 away keeps |tan| <= 20 and its derivative (1 + tan^2) moderate
    x = view.x(0).double()
    # an exact value lands on no pole (pi/2 is irrational); the overflow check bounds the result
    gap = unless_exact(dist_to_int(x / math.pi, 0.5) * math.pi, view.exact[0])
    return [Need("tan near a pole", view.name(0), gap, max(pole(view.in_dtypes[0]), 0.05)), periodic(view)]


@loss("ReduceLogSum")
def reduce_log_sum(view: OpView) -> list[Need]:
    # the sum over the same axes, through ReduceSum's own spec (the attrs have the same form); it is
    # exact when it adds small integers
    (s,) = get("ReduceSum").torch([view.x(0)], view.attrs)
    exact = bool((view.exact[0] & small_integers(view.x(0), view.in_dtypes[0])).all())
    margin = STRICT if exact else pole(view.in_dtypes[0])
    return [Need("log of a sum near or below 0", view.name(0), s.double(), margin)]


@loss("BatchNormalization")
def batch_norm(view: OpView) -> list[Need]:
    eps = view.attrs.get("epsilon")
    var = view.x(4).double() + (1e-5 if eps is None else eps)
    return [Need("variance near or below 0", view.name(4), var, pole_margin(view, 4, strict=True))]


@loss("Pow")
def pow_(view: OpView) -> list[Need]:
    """Float bases positive (a fractional power of a negative is NaN); integer results off knife edges.

    An integer exponent allows any base but 0 under a negative exponent. An integer base cannot
    move: under a negative one a float exponent is pulled to a whole number (which only a snap hits
    exactly, see Leaves.snap), under a zero one up to 0, and the base is redrawn when descent stalls.
    """
    x, y = view.x(0).double(), view.x(1).double()
    y_int = not view.is_float(1)
    if view.is_float(0):
        if y_int:
            gap = torch.where(y < 0, away_from_zero(view, 0), torch.full_like(x, math.inf))
            return [Need("zero base under a negative exponent", view.name(0), gap, pole_margin(view, 0, strict=True))]
        return [above(view, 0, 0.0, "fractional power of a value near or below 0", strict=True)]
    out = []
    if y_int:
        gap = torch.where((x == 0) & (y < 0), -1.0, 1.0)
    else:
        # rejected: no gradient (the node counted as stuck), which left only redraws: of the base,
        # and uniform ones of the exponent, never whole (30 nodes seed 178)
        yd = view.x(1).double()
        gap = torch.where(x < 0, -dist_to_int(yd), torch.where(x == 0, yd, torch.ones_like(yd)))
    out.append(Need("integer base out of the exponent's domain", view.name(0), gap, 0.0))
    if not y_int:
        # the result is the float power truncated to an integer: away from integers unless exact
        # (a whole exponent, or a base of 1 or 0: 1^y and 0^y are exact in every backend; a base of
        # 0 under a negative exponent is the domain need's)
        p = torch.pow(x.clamp(min=1e-300), y)
        exact = (y == torch.round(y)) | (x == 1) | (x == 0)
        gap = torch.where(exact, torch.full_like(p, math.inf), dist_to_int(p))
        # an exponent that another backend may compute an ulp or so apart (a float16 Gelu output
        # rounded the other way) moves the power by p * ln(x) * dy: 5 ** 1.49 is 11.006, 5 ** 1.4893
        # is 10.997 (regression: ONNX Runtime's 10 against our 11, bench/results/findings-5.md)
        spread = torch.where(
            view.exact[1], 0.0, (p * torch.log(x.clamp(min=1e-300)).abs()).detach() * tol(view.in_dtypes[1], yd)
        )
        margin = torch.maximum(tol(DType.float32, p), spread)
        out.append(Need("power truncated near an integer", view.out_name(), gap, margin, edge=True))
    return out


@loss("BitShift")
def bit_shift(view: OpView) -> list[Need]:
    # shift amounts past the width are defined only from opset 28 on (see the spec)
    y = view.x(1).double()
    width = 8 * view.x(0).element_size()
    return [Need("shift by the width or more", view.name(1), torch.minimum(y + 1, width - y), 0.5)]
