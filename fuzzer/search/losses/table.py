"""The loss table: per-op loss functions keyed by spec name or ONNX op type.

A loss function takes an `OpView` and returns `Need`s. Every node also gets the generic checks
(`generic`: finite outputs, magnitudes below the dtype's LIMIT), so an op without an entry is still
checked for NaN and Inf. Registration rejects duplicates, like the op registry.
"""

from __future__ import annotations

from collections.abc import Callable

from fuzzer.search.losses.base import Need, OpView
from fuzzer.search.losses.generic import generic
from fuzzer.spec.registry import get

LossFn = Callable[[OpView], list[Need]]

_TABLE: dict[str, LossFn] = {}


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
