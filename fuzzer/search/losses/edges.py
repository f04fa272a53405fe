"""Knife edges: values where a step function jumps, so a correct backend's tiny difference upstream
becomes a different result (rounding, casts to integers, comparisons, thresholds).

Integer operands are exact and have no edges; only float operands are constrained.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fuzzer.search.losses.base import Need, OpView, dist_to_int, pole_margin, sabs, unless_exact
from fuzzer.search.losses.table import loss
from fuzzer.search.margins import EDGE_TOL, LIMIT, OVERFLOW_SEARCH, tol
from fuzzer.spec.dtypes import DType


def _edge(view: OpView, reason: str, gap: torch.Tensor, k: int = 0) -> list[Need]:
    if not view.is_float(k) or bool(view.exact[k].all()):
        return []
    return [Need(reason, view.name(k), unless_exact(gap, view.exact[k]), tol(view.in_dtypes[k], view.x(k)), edge=True)]


def _grid(view: OpView, reason: str, gap: torch.Tensor) -> list[Need]:
    """A knife edge at every integer (or half): past some magnitude the tolerance is wider than the
    spacing (45 in float16, 11 in bfloat16), so every value is near an edge; shrinking is the way out,
    and a distance to the nearest edge has no gradient towards it."""
    rtol, atol = EDGE_TOL[view.in_dtypes[0]]
    room = (0.45 - atol) / rtol - view.x(0).double().abs()
    # too large a value is that need's alone: both pushing (one to the far side of the nearest edge,
    # one towards 0) with equal slopes cancelled out, and such values stayed too large for good
    out = _edge(view, reason, torch.where(room.detach() < 0, torch.tensor(math.inf, dtype=gap.dtype), gap))
    if out:
        out.append(
            Need(f"{reason}: too large to stay clear", view.name(0), unless_exact(room, view.exact[0]), edge=True)
        )
    return out


@loss("Floor", "Ceil")
def floor_ceil(view: OpView) -> list[Need]:
    return _grid(view, f"{view.node.op} near an integer", dist_to_int(view.x(0)))


@loss("Round")
def round_(view: OpView) -> list[Need]:
    return _grid(view, "Round near a half", dist_to_int(view.x(0), 0.5))


@loss("Sign")
def sign(view: OpView) -> list[Need]:
    return _edge(view, "Sign near 0", sabs(view.x(0).double()))


@loss("Cast", "CastLike")
def cast(view: OpView) -> list[Need]:
    """Float sources: to integers off the truncation edges and inside the target's range, to bool
    off 0, to a narrower float below its LIMIT."""
    if not view.is_float(0):
        return []
    x, src, dst = view.x(0).double(), view.in_dtypes[0], view.out_dtypes[0]
    name = view.name(0)
    if dst == DType.bool:
        return _edge(view, "cast to bool near 0", sabs(x))
    if dst.is_float:
        if LIMIT[dst] >= LIMIT[src]:
            return []
        gap = math.log(LIMIT[dst]) - torch.log(x.abs() + 1e-300)
        return [Need(f"cast to {dst.name} near overflow", name, gap, 0.0, OVERFLOW_SEARCH)]
    info = np.iinfo(dst.numpy)
    # truncation toward zero is continuous on (-1, 1): its jumps are at the nonzero integers
    inside = torch.minimum(x - (float(info.min) - 1.0), (float(info.max) + 1.0) - x)
    out = [Need(f"cast to {dst.name} out of range", name, inside, pole_margin(view, 0, strict=True))]
    jump = torch.where(x.abs() < 0.5, torch.full_like(x, math.inf), dist_to_int(x))
    return out + _grid(view, f"cast to {dst.name} near an integer", jump)


@loss("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual")
def compare(view: OpView) -> list[Need]:
    # a tensor compared with itself is exact, however it was computed
    if not view.is_float(0) or view.name(0) == view.name(1):
        return []
    a, b = view.x(0).double(), view.x(1).double()
    scale = torch.maximum(a.abs(), b.abs())
    gap = unless_exact(sabs(a - b), view.exact[0], view.exact[1])
    # exactly equal values of one source are copies, equal in every backend, and so are values equal
    # in float64 too (Sin(y) and y at an exact y = 0 that Elu with alpha 0 made); of two sources
    # and equal by rounding alone (a float16 sum rounding onto the value it is compared with: a false
    # alarm in ONNX Runtime and OpenVINO, whose sum rounded the other way) they are a knife edge
    tied = (a == b).detach()
    if bool(tied.any()):
        if view.sources is not None and view.sources[0] & view.sources[1]:
            copy = tied
        else:
            copy = tied & (view.wide(0) == view.wide(1)) if view.wide is not None else torch.zeros_like(tied)
        gap = torch.where(copy, torch.tensor(math.inf, dtype=gap.dtype), gap)
    return [Need(f"{view.node.op} of near-equal values", view.name(0), gap, tol(view.in_dtypes[0], scale), edge=True)]


@loss("Clip")
def clip(view: OpView) -> list[Need]:
    lo, hi = view.attrs.get("_min"), view.attrs.get("_max")
    if not view.is_float(0) or (lo is not None and lo == hi):
        return []  # min == max: the output is that constant whatever x is
    x = view.x(0).double()
    out = []
    for bound in (lo, hi):
        if bound is not None:
            b = float(np.asarray(bound, dtype=view.in_dtypes[0].numpy).astype(np.float64))
            out += _edge(view, "Clip near a bound", sabs(x - b))
    return out


@loss("ThresholdedRelu")
def thresholded_relu(view: OpView) -> list[Need]:
    alpha = view.attrs.get("alpha")
    alpha = float(np.float32(1.0 if alpha is None else alpha))
    if abs(alpha) < 1e-6:
        return []  # the jump is alpha high: none at 0
    return _edge(view, "ThresholdedRelu near alpha", sabs(view.x(0).double() - alpha))


SHRINK = (("lambd", 0.5), ("bias", 0.0))  # attributes and their ONNX defaults


@loss("Shrink")
def shrink(view: OpView) -> list[Need]:
    lambd, bias = (float(np.float32(d if view.attrs.get(k) is None else view.attrs[k])) for k, d in SHRINK)
    if abs(lambd - bias) < 1e-6:
        return []  # continuous: the jump at +-lambd is lambd - bias
    return _edge(view, "Shrink near +-lambd", sabs(view.x(0).double().abs() - lambd))
