"""Overflow of the exponentials, stated on their inputs.

The generic check already bounds every output (re-running an overflowed op in float64 to get a
gradient), but a float64 rerun overflows too past exp(709); stating the bound on the input keeps a
gradient at any magnitude.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fuzzer.search.losses.base import Need, OpView
from fuzzer.search.losses.table import loss
from fuzzer.search.margins import LIMIT, OVERFLOW_SEARCH
from fuzzer.spec.dtypes import DType
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
        return integer_reduction(view)
    big = torch.log(view.x(0).double().abs().clamp(min=1.0))
    (logs,) = get("ReduceSum").torch([big], view.attrs)  # the same axes: the attrs have the same form
    top = math.log(LIMIT[view.in_dtypes[0]])
    return [Need("ReduceProd partial products overflow", view.name(0), top - logs, 0.0, OVERFLOW_SEARCH)]


# integer reductions -> the reduction whose exact value must fit the dtype (a mean's sum, a norm's
# sum of squares)
INTEGER_TOTALS = {
    "ReduceSum": "ReduceSum",
    "ReduceMean": "ReduceSum",
    "ReduceProd": "ReduceProd",
    "ReduceL1": "ReduceL1",
    "ReduceL2": "ReduceSumSquare",
    "ReduceSumSquare": "ReduceSumSquare",
}


@loss("ReduceSum", "ReduceMean", "ReduceL1", "ReduceL2", "ReduceSumSquare")
def integer_reduction(view: OpView) -> list[Need]:
    """An integer reduction whose exact value leaves its dtype is implementation-defined: NumPy and
    torch wrap, ONNX Runtime's CPU kernels compute in double and saturate (microsoft/onnxruntime
    PR 28743). Bound the exact total (computed in float64, with a log-space gap as for floats).
    Regression: an int32 ReduceProd of 6.0e10, which ORT gave as 2147483647 and torch as 102731776."""
    dt = view.in_dtypes[0]
    if dt.is_float or dt == DType.bool:
        return []
    (total,) = get(INTEGER_TOTALS[get(view.node.op).op_type]).torch([view.x(0).double()], view.attrs)
    top = math.log(float(np.iinfo(dt.numpy).max))
    gap = top - torch.log(total.abs() + 1.0)
    return [Need(f"{view.node.op} total outside {dt.name}", view.name(0), gap, 0.0, OVERFLOW_SEARCH)]
