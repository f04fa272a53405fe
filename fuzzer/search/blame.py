"""Which leaf elements to redraw when descent cannot fix a violation.

Two ways to blame: by gradient (the float leaf elements the violated elements' penalty reaches), and
by position, for integer and bool leaves, which have no gradient: a leaf element is blamed when a
violated element sits at its position after broadcasting (Reciprocal(Cast(x)) with an integer x
that holds zeros). Position is exact for elementwise chains, transposes with dims of distinct sizes
and reshapes, and a guess otherwise (pads and slices: every element within the shift); when the
shapes do not line up at all, the whole leaf is blamed.
"""

from __future__ import annotations

import math

import torch

from fuzzer.search.losses import Need


def by_gradient(penalty: torch.Tensor, masters: dict[str, torch.Tensor], *, most: int = 0) -> dict[str, torch.Tensor]:
    """For each float leaf, the elements with a nonzero gradient of `penalty`; with `most`, only the
    `most` of them with the largest gradient (ties included).

    Behind an op that mixes elements (LayerNormalization, a MatMul) every element has a gradient,
    and redrawing them all threw away what descent had done for the elements that were fine
    (Acos(Relu(LayerNorm(x))) with a hundred of 1890 elements out of range started over at 900).
    """
    names = list(masters)
    if not (names and penalty.requires_grad):
        return {}
    grads = torch.autograd.grad(penalty, [masters[n] for n in names], allow_unused=True)
    out = {}
    for n, g in zip(names, grads):
        if g is None:
            continue
        size = g.nan_to_num(0.0, 0.0, 0.0).abs()
        if 0 < most < size.numel():
            cut = torch.topk(size.reshape(-1), most).values[-1]
            out[n] = (size >= cut) & (size != 0)
        else:
            out[n] = size != 0
    return out


def one_to_one(shape: tuple[int, ...], mask_shape: tuple[int, ...]) -> bool:
    """A leaf of `shape` maps element for element onto a mask of `mask_shape` (the same dims but for
    1s), so positional blame is exact rather than a guess."""
    return [d for d in shape if d != 1] == [d for d in mask_shape if d != 1]


def positional(shape: tuple[int, ...], mask: torch.Tensor) -> torch.Tensor:
    """The elements of a leaf of `shape` that broadcast onto a true element of `mask`.

    A leaf that reaches the mask through Squeeze or Unsqueeze (the same dims but for 1s) maps
    element for element. All of them when the shapes line up in neither way.
    """
    if one_to_one(shape, tuple(mask.shape)):
        return mask.reshape(shape)
    ms, ls = [d for d in mask.shape if d != 1], [d for d in shape if d != 1]
    if sorted(ms) == sorted(ls) and len(set(ls)) == len(ls):
        # a Transpose: the dims are told apart by their sizes
        m = mask.reshape(ms).permute([ms.index(d) for d in ls])
        return m.reshape(shape)
    if mask.numel() == math.prod(shape) and mask.dim() > 1 and len(shape) > 1:
        return mask.reshape(shape)  # a Reshape or Flatten keeps the order of the elements
    if len(shape) > mask.dim():
        return _through_axes(shape, mask)
    lead = mask.dim() - len(shape)
    m = mask.any(dim=tuple(range(lead))) if lead else mask
    if any(ls != ms and ls != 1 and ms != 1 for ls, ms in zip(shape, m.shape)) and not _matches_in_order(shape, mask):
        return _shifted(shape, m)
    for axis, (ls, ms) in enumerate(zip(shape, m.shape)):
        if ls == 1 and ms != 1:
            m = m.any(dim=axis, keepdim=True)
        elif ls != ms:
            return _through_axes(shape, mask)
    return m.reshape(shape)


def _matches_in_order(shape: tuple[int, ...], mask: torch.Tensor) -> bool:
    """The dims of the smaller of shape and mask (1s aside) are dims of the larger one, in order."""
    ms, ls = [d for d in mask.shape if d != 1], [d for d in shape if d != 1]
    big, small = (ms, ls) if len(ms) >= len(ls) else (ls, ms)
    it = iter(big)
    return all(d in it for d in small)


def _shifted(shape: tuple[int, ...], m: torch.Tensor) -> torch.Tensor:
    """The elements of a leaf that reaches the mask (of the same rank) through ops that pad, slice,
    concatenate or tile along some axes: along such an axis a leaf element is blamed when a true
    mask element lies within the size difference of its position, whatever the shift. Rejected:
    blaming the whole leaf (Relu(Pad(b)) with an int8 b redrew every element of b for one zero)."""
    m = m.float()
    for axis, ls in enumerate(shape):
        ms = m.shape[axis]
        if ls == 1:
            m = m.amax(dim=axis, keepdim=True)
        elif ls != ms:
            moved = m.movedim(axis, -1).reshape(-1, 1, ms)
            if ls > ms:  # sliced: leaf element j lands at j - s for a shift s in [0, ls - ms]
                moved = torch.nn.functional.pad(moved, (ls - ms, ls - ms))
            pooled = torch.nn.functional.max_pool1d(moved, abs(ls - ms) + 1, stride=1)
            m = pooled.reshape(*m.movedim(axis, -1).shape[:-1], ls).movedim(-1, axis)
    return m.reshape(shape) > 0


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
