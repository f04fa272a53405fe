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
        return torch.ones(shape, dtype=torch.bool)
    lead = mask.dim() - len(shape)
    m = mask.any(dim=tuple(range(lead))) if lead else mask
    for axis, (ls, ms) in enumerate(zip(shape, m.shape)):
        if ls == 1 and ms != 1:
            m = m.any(dim=axis, keepdim=True)
        elif ls != ms:
            return torch.ones(shape, dtype=torch.bool)
    return m.reshape(shape)


def by_position(needs: list[Need], shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """For each leaf in `shapes`, the elements positionally behind any violated element of `needs`."""
    out: dict[str, torch.Tensor] = {}
    for need in needs:
        bad = need.violated()
        for name, shape in shapes.items():
            m = positional(shape, bad)
            out[name] = out[name] | m if name in out else m
    return out
