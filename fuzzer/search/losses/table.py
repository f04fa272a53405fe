"""The loss table: per-op loss functions keyed by spec name or ONNX op type, plus the generic checks.

A loss function takes an `OpView` and returns `Need`s. Every node also gets the generic checks
(finite outputs, magnitudes below the dtype's LIMIT), so an op without an entry is still checked
for NaN and Inf. Registration rejects duplicates, like the op registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from fuzzer.search.losses.base import LIMIT, Need, OpView
from fuzzer.spec.registry import get

LossFn = Callable[[OpView], list[Need]]

_TABLE: dict[str, LossFn] = {}

# the search keeps magnitudes a little below LIMIT (which is far below the dtype's maximum already);
# the check allows up to LIMIT
OVERFLOW_SEARCH = math.log(1.25)


def loss(*keys: str) -> Callable[[LossFn], LossFn]:
    """Decorator: register a loss under spec names or ONNX op types (a spec name wins over its type)."""

    def deco(fn: LossFn) -> LossFn:
        for k in keys:
            if k in _TABLE:
                raise ValueError(f"a loss for {k!r} is registered twice ({_TABLE[k].__name__} and {fn.__name__})")
            _TABLE[k] = fn
        return fn

    return deco


def loss_for(op: str) -> LossFn | None:
    """The loss of a node's op (its spec name), falling back to the spec's ONNX op type."""
    import fuzzer.search.losses  # noqa: F401  (registers the loss modules on import)

    if op in _TABLE:
        return _TABLE[op]
    return _TABLE.get(get(op).op_type)


def table() -> dict[str, LossFn]:
    """Every registered loss by key (for tests and reports)."""
    import fuzzer.search.losses  # noqa: F401

    return dict(_TABLE)


def needs_of(view: OpView) -> list[Need]:
    """The generic checks of a node followed by its op's own losses."""
    out = generic(view)
    fn = loss_for(view.node.op)
    if fn is not None:
        out += fn(view)
    return out


# --- generic checks --------------------------------------------------------------------------------
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
        if bool(bad.any()):
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
        return None  # e.g. an op that insists on matching dtypes; the search then resamples instead
    return [y if y.dtype.is_floating_point else y.double() for y in ys]
