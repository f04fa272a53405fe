"""The checks every node gets, whatever its op: finite outputs, magnitudes below the dtype's LIMIT."""

from __future__ import annotations

import math

import torch

from fuzzer.search.losses.base import Need, OpView
from fuzzer.search.margins import LIMIT, OVERFLOW_SEARCH
from fuzzer.spec.registry import get

# magnitudes below which the overflow Need is inert: its gap exceeds the search margin by log 2 or
# more, so it adds no penalty and no violation (its rounding cannot matter). Leaving it out spares
# the gap's and the penalty's arithmetic on nearly every tensor, at every step.
INERT = {dt: limit / (2 * math.exp(OVERFLOW_SEARCH)) for dt, limit in LIMIT.items()}


def generic(view: OpView) -> list[Need]:
    """Every float output finite and below its dtype's LIMIT in magnitude.

    The gap is measured in log space (log LIMIT - log |y|), so it has a useful gradient from 1e5 to
    1e300. Where the real output already overflowed (inf in float16), the op is run again on float64
    copies of its inputs to get a finite magnitude to descend on.
    """
    out = []
    y64 = None
    for k, (y, dt) in enumerate(zip(view.ys, view.out_dtypes)):
        if not dt.is_float:
            continue
        bad = ~torch.isfinite(y)
        finite = not bool(bad.any())
        if finite and (y.numel() == 0 or float(y.detach().abs().max()) < INERT[dt]):
            continue  # its overflow Need would be met with room to spare everywhere: no penalty, no violation
        if not finite:
            out.append(Need("non-finite output", view.out_name(k), torch.where(bad, -1.0, 1.0).double(), 0.0, 0.0))
            # never backpropagate through an op at a point where it is not finite: its local derivative
            # is NaN there, and 0 * NaN would poison every gradient that shares the op's backward
            y64 = rerun64(view) if y64 is None else y64
            if y64 is not None and y64[k].shape == y.shape and bool(torch.isfinite(y64[k]).all()):
                y = y64[k]
            else:
                y = torch.where(bad, torch.ones_like(y), y).detach()
        gap = math.log(LIMIT[dt]) - torch.log(y.double().abs() + 1e-300)
        out.append(Need("overflow", view.out_name(k), gap, 0.0, OVERFLOW_SEARCH))
    return out


def rerun64(view: OpView) -> list[torch.Tensor] | None:
    """The op on float64 copies of its float inputs, or None where that is not defined for it."""
    xs = [x.double() if dt.is_float else x for x, dt in zip(view.xs, view.in_dtypes)]
    try:
        ys = get(view.node.op).torch(xs, view.attrs)
    except (RuntimeError, TypeError, ValueError):
        return None  # e.g. an op that insists on matching dtypes; the search then redraws instead
    return [y if y.dtype.is_floating_point else y.double() for y in ys]
