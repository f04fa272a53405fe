"""Ties: ops that pick positions by value (ArgMax, TopK, Hardmax), where near-equal candidates make the
pick depend on rounding. Integer ties are exact and follow the ONNX tie rules, so only floats count.
"""

from __future__ import annotations

import math

import torch

from fuzzer.search.losses.base import Need, OpView, sabs
from fuzzer.search.losses.table import loss
from fuzzer.search.margins import tol
from fuzzer.spec.families import norm_axis


def sorted_along(x: torch.Tensor, axis: int, descending: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """x sorted along `axis` (differentiable: gradients go back to the sorted elements), and the order."""
    s = torch.sort(x.double(), dim=axis, descending=descending, stable=True)
    return s.values, s.indices


def gaps(view: OpView, axis: int, descending: bool, n: int) -> list[Need]:
    """The first n adjacent gaps of the sorted values along `axis`, each above the edge tolerance."""
    x = view.x(0)
    if not view.is_float(0) or bool(view.exact[0].all()) or x.dim() == 0:
        return []  # exact ties follow the ONNX tie rules: a backend that breaks them has a real bug
    axis = norm_axis(axis, x.dim())
    n = min(n, x.shape[axis] - 1)
    if n < 1:
        return []
    v, order = sorted_along(x, axis, descending)
    head = v.narrow(axis, 0, n)
    diff = head - v.narrow(axis, 1, n)
    gap = sabs(diff)
    tied = diff.detach() == 0
    if bool(tied.any()) and view.wide is not None:
        # an exact tie of values equal in float64 too is a copy (Tile, Expand, Concat of one tensor)
        # or a saturation (Relu's 0), equal in every backend and broken by the ONNX tie rule; equal
        # only after rounding (a float16 sum onto its neighbour, Tanh's 1.0 of 9 and of 10) it is a
        # knife edge, as a backend may round the other way
        w = torch.gather(view.wide(0).expand(x.shape), axis, order)
        copy = tied & (w.narrow(axis, 0, n) == w.narrow(axis, 1, n))
        gap = torch.where(copy, torch.tensor(math.inf, dtype=gap.dtype), gap)
    elif view.wide is None:
        gap = torch.where(tied, torch.tensor(math.inf, dtype=gap.dtype), gap)  # unknown: taken as copies
    return [Need(f"{view.node.op} tie or near-tie", view.name(0), gap, tol(view.in_dtypes[0], head), edge=True)]


@loss("ArgMax", "ArgMin")
def arg_extreme(view: OpView) -> list[Need]:
    return gaps(view, view.attrs["axis"], view.node.op == "ArgMax", 1)


@loss("Hardmax")
def hardmax(view: OpView) -> list[Need]:
    axis = view.attrs.get("axis")
    return gaps(view, -1 if axis is None else axis, True, 1)


@loss("TopK")
def top_k(view: OpView) -> list[Need]:
    # the k picked values in order, and the boundary to the first value left out
    return gaps(view, view.attrs["axis"], bool(view.attrs["largest"]), view.attrs["_k"])


@loss("MaxPool")
def max_pool(view: OpView) -> list[Need]:
    # the pooled values are continuous in the input; only the optional Indices output (not generated
    # yet) would depend on which of tied elements wins. Listed so the table says so explicitly.
    return []
