"""Which leaf elements to redraw when descent cannot fix a violation.

Two ways to blame: by gradient (the float leaf elements the violated elements' penalty reaches), and
by position, for integer and bool leaves, which have no gradient: a leaf element is blamed when a
violated element sits at its position after broadcasting (Reciprocal(Cast(x)) with an integer x
that holds zeros). Position is exact for elementwise chains and a guess otherwise; when the shapes
do not line up at all, the whole leaf is blamed.
"""

from __future__ import annotations

import math

import torch

from fuzzer.search.losses import Need


def by_gradient(penalty: torch.Tensor, masters: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """For each float leaf, the elements with a nonzero gradient of `penalty`."""
    names = list(masters)
    if not (names and penalty.requires_grad):
        return {}
    grads = torch.autograd.grad(penalty, [masters[n] for n in names], allow_unused=True)
    return {n: g.nan_to_num(0.0, 0.0, 0.0) != 0 for n, g in zip(names, grads) if g is not None}


def positional(shape: tuple[int, ...], mask: torch.Tensor) -> torch.Tensor:
    """The elements of a leaf of `shape` that broadcast onto a true element of `mask`.

    A leaf that reaches the mask through Squeeze or Unsqueeze (the same dims but for 1s) maps
    element for element. All of them when the shapes line up in neither way.
    """
    if [d for d in shape if d != 1] == [d for d in mask.shape if d != 1] and mask.numel() == math.prod(shape):
        return mask.reshape(shape)
    if len(shape) > mask.dim():
        return _through_axes(shape, mask)
    lead = mask.dim() - len(shape)
    m = mask.any(dim=tuple(range(lead))) if lead else mask
    for axis, (ls, ms) in enumerate(zip(shape, m.shape)):
        if ls == 1 and ms != 1:
            m = m.any(dim=axis, keepdim=True)
        elif ls != ms:
            return _through_axes(shape, mask)
    return m.reshape(shape)


def _through_axes(shape: tuple[int, ...], mask: torch.Tensor) -> torch.Tensor:
    """The elements of a leaf that reaches the mask through ops that add or drop axes: OneHot
    (an axis more: any element along it), a reduction without keepdims or a MatMul (an axis less:
    the whole slice). The dims of the smaller shape are matched, in order, to dims of the larger
    one (1s aside); all elements when they do not match."""
    ms, ls = tuple(d for d in mask.shape if d != 1), tuple(d for d in shape if d != 1)
    m = mask.reshape(ms)
    big, small = (ms, ls) if len(ms) >= len(ls) else (ls, ms)
    at, i = [], 0
    for j, d in enumerate(big):
        if i < len(small) and small[i] == d:
            at.append(j)
            i += 1
    if i < len(small):
        return torch.ones(shape, dtype=torch.bool)
    others = tuple(j for j in range(len(big)) if j not in at)
    if big is ms:
        return (m.any(dim=others) if others else m).reshape(shape)
    view = [d if j in at else 1 for j, d in enumerate(big)]
    return m.reshape(view).expand(big).reshape(shape).clone()


def by_position(needs: list[Need], shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """For each leaf in `shapes`, the elements positionally behind any violated element of `needs`."""
    out: dict[str, torch.Tensor] = {}
    for need in needs:
        bad = need.violated()
        for name, shape in shapes.items():
            m = positional(shape, bad)
            out[name] = out[name] | m if name in out else m
    return out
