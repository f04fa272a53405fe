"""Overflow of the exponentials, stated on their inputs.

The generic check already bounds every output (re-running an overflowed op in float64 to get a
gradient), but a float64 rerun overflows too past exp(709); stating the bound on the input keeps a
gradient at any magnitude.
"""

from __future__ import annotations

import math

from fuzzer.search.losses.base import Need, OpView
from fuzzer.search.losses.table import loss
from fuzzer.search.margins import LIMIT, OVERFLOW_SEARCH


@loss("Exp")
def exp_(view: OpView) -> list[Need]:
    top = math.log(LIMIT[view.out_dtypes[0]])
    return [Need("exp overflow", view.name(0), top - view.x(0).double(), 0.0, OVERFLOW_SEARCH)]


@loss("Sinh", "Cosh")
def hyperbolic(view: OpView) -> list[Need]:
    top = math.log(2 * LIMIT[view.out_dtypes[0]])
    return [Need(f"{view.node.op} overflow", view.name(0), top - view.x(0).double().abs(), 0.0, OVERFLOW_SEARCH)]
