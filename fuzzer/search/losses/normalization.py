"""Normalizations of near-equal values: a knife edge of precision, not of value.

LayerNormalization, InstanceNormalization and GroupNormalization compute (x - mean) / sqrt(var + eps).
Backends compute the variance in different ways (two passes, or E[x^2] - E[x]^2 in one), with a
rounding error of about ulp * mean(x^2); when var + eps is not far above that, the output is mostly
rounding error and correct backends differ by more than any tolerance. A GroupNormalization of four
values with variance 1e-6 < epsilon 1e-5 came out 0.3 % apart in every backend (bench/results/findings.md),
and ONNX Runtime's InstanceNormalization of three copies of one value (a Tile) is 1.2e-4 off the bias
it should return: 1/sqrt(epsilon) times a one-ulp error in the mean. Both are false alarms. A single
element is exact everywhere (x - mean is 0), so it needs nothing.

The error of the output is about u / ((var + eps) / mean(x^2)) with u the statistics' unit roundoff
(ONNX Runtime's GroupNormalization in float32: 1.7e-2 at a ratio of 2.6e-6, 7e-5 at 1.6e-3). The Need,
per normalized group: that ratio at least u / (10 * the output dtype's absolute edge tolerance), in
log space (it spans decades): 1.2e-3 for float32. It keeps the values spread, or, for copies of one
value, small against sqrt(eps).
"""

from __future__ import annotations

import math

import torch

from fuzzer.graph.ranges import group_elements
from fuzzer.search.losses.base import Need, OpView
from fuzzer.search.losses.table import loss
from fuzzer.search.margins import EDGE_TOL
from fuzzer.spec.dtypes import DType

UNIT_ROUNDOFF = {torch.float32: 2.0**-23, torch.float64: 2.0**-52}
# the oracle calls a backend wrong only 10x further from float64 than the float32 reference (which
# rounds its variance alike): an error of a tenth of the tolerance is the most a correct one can have
NOISE = 10.0


def statistics_dtype(view: OpView) -> torch.dtype:
    """The dtype the statistics are computed in: stash_type where the op has it (float32 by default),
    float32 for half inputs, else the input's."""
    stash = view.attrs.get("stash_type")
    if stash is not None or view.node.op.startswith(("LayerNormalization", "GroupNormalization")):
        return torch.float64 if stash == DType.float64.onnx else torch.float32
    return torch.float64 if view.in_dtypes[0] == DType.float64 else torch.float32


@loss("LayerNormalization", "InstanceNormalization", "GroupNormalization")
def normalization(view: OpView) -> list[Need]:
    need = UNIT_ROUNDOFF[statistics_dtype(view)] / (NOISE * EDGE_TOL[view.out_dtypes[0]][1])
    if need >= 0.5:
        return []  # float64 values with float32 statistics: float32-accurate at best, nothing to steer
    eps = view.attrs.get("epsilon")
    eps = 1e-5 if eps is None else float(eps)
    x = view.x(0).double()
    n = group_elements(view.node, tuple(x.shape))
    if x.numel() == 0 or n == 1:
        return []  # one element: x - mean is exactly 0 in every backend (ONNX Runtime checked), the output the bias
    g = x.reshape(-1, n)  # (groups, elements per group)
    mean = g.mean(-1, keepdim=True)
    var = ((g - mean) ** 2).mean(-1)
    square = (g * g).mean(-1)
    # all zeros: exactly 0 in every backend
    gap = torch.where(square > 0, torch.log(var + eps) - torch.log(square.clamp_min(1e-300)), math.inf)
    return [
        Need("normalization of near-equal values", view.name(0), gap, math.log(need), math.log(2 * need), edge=True)
    ]
