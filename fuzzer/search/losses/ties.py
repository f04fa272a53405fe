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


def sorted_along(x: torch.Tensor, axis: int, descending: bool) -> torch.Tensor:
    """x sorted along `axis` (differentiable: gradients go back to the sorted elements)."""
    return torch.sort(x.double(), dim=axis, descending=descending, stable=True).values


def gaps(view: OpView, axis: int, descending: bool, n: int) -> list[Need]:
    """The first n adjacent gaps of the sorted values along `axis`, each above the edge tolerance."""
    x = view.x(0)
    if not view.is_float(0) or bool(view.exact[0].all()) or x.dim() == 0:
        return []  # exact ties follow the ONNX tie rules: a backend that breaks them has a real bug
    axis = norm_axis(axis, x.dim())
    n = min(n, x.shape[axis] - 1)
    if n < 1:
        return []
    v = sorted_along(x, axis, descending)
    head = v.narrow(axis, 0, n)
    diff = head - v.narrow(axis, 1, n)
    # an exact tie is a copy (Tile, Expand, Concat of one tensor) or a saturation (Relu's 0), equal
    # in every backend and broken by the ONNX tie rule; only near-ties are edges
    gap = torch.where(diff == 0, torch.tensor(math.inf, dtype=diff.dtype), sabs(diff))
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
