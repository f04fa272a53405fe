"""Overflow of the exponentials, stated on their inputs.

The generic check already bounds every output (re-running an overflowed op in float64 to get a
gradient), but a float64 rerun overflows too past exp(709); stating the bound on the input keeps a
gradient at any magnitude.
"""

from __future__ import annotations

import math

import torch

from fuzzer.search.losses.base import Need, OpView
from fuzzer.search.losses.table import loss
from fuzzer.search.margins import LIMIT, OVERFLOW_SEARCH
from fuzzer.spec.registry import get


@loss("Exp")
def exp_(view: OpView) -> list[Need]:
    top = math.log(LIMIT[view.out_dtypes[0]])
    return [Need("exp overflow", view.name(0), top - view.x(0).double(), 0.0, OVERFLOW_SEARCH)]


@loss("Sinh", "Cosh")
def hyperbolic(view: OpView) -> list[Need]:
    top = math.log(2 * LIMIT[view.out_dtypes[0]])
    return [Need(f"{view.node.op} overflow", view.name(0), top - view.x(0).double().abs(), 0.0, OVERFLOW_SEARCH)]


@loss("ReduceProd")
def reduce_prod(view: OpView) -> list[Need]:
    # A backend may multiply in any order (lanes, trees); no partial product is larger in magnitude
    # than the product of the factors >= 1, so bound that, not only the result. Regression: ONNX
    # Runtime's float32 ReduceProd of 816 values in [-3.4, 3.4] gave NaN (a lane overflowed, another
    # underflowed) where the product, 0.0058, is representable (bench/results/findings.md).
    if not view.is_float(0):
        return []
    big = torch.log(view.x(0).double().abs().clamp(min=1.0))
    (logs,) = get("ReduceSum").torch([big], view.attrs)  # the same axes: the attrs have the same form
    top = math.log(LIMIT[view.in_dtypes[0]])
    return [Need("ReduceProd partial products overflow", view.name(0), top - logs, 0.0, OVERFLOW_SEARCH)]
