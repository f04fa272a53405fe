"""How far from an edge is far enough: tolerances, magnitude limits and margins, per dtype."""

from __future__ import annotations

import math

import torch

from fuzzer.spec.dtypes import DType

# Closeness that counts as "the same value" for a dtype, as (rtol, atol): two correct backends may
# differ by about this much on a value computed by a few operators. A knife edge is closer than this.
# The figures follow the float tolerances of the op tests (tests/fuzzer/opcheck.py).
EDGE_TOL = {
    DType.float16: (1e-2, 2e-3),
    DType.bfloat16: (4e-2, 2e-2),
    DType.float32: (2e-4, 1e-5),
    DType.float64: (1e-8, 1e-10),
}
# Magnitudes kept below these, far under each dtype's maximum, so one more Mul, Sum or Exp downstream
# does not overflow (float16's max is 65504; bfloat16 and float32 go to 3e38).
LIMIT = {DType.float16: 1e4, DType.bfloat16: 1e10, DType.float32: 1e10, DType.float64: 1e20}
# The search keeps magnitudes a little below LIMIT (log-space margin); the check allows up to LIMIT.
OVERFLOW_SEARCH = math.log(1.25)
# Distance from a pole or a domain boundary (Log at 0, Acos at +-1, ...) in multiples of the edge
# tolerance: near a pole the result is ill-conditioned long before it turns NaN or infinite.
POLE = 20.0
# The search aims at margins this many times wider than the check's, so rounding on the way to the
# real dtypes cannot push a value back over the edge.
SEARCH_FACTOR = 2.0
# Hazards (NaN, Inf, overflow) outweigh knife edges in the search: when a value must cross an edge to
# leave a pole (Reciprocal(Floor(x)) with x in (0, 1)), the edge's push-back must not cancel the pull.
HAZARD_WEIGHT = 10.0
# An exact value only has to be strictly inside an open domain (Log: x > 0): any positive gap will do.
STRICT = 1e-300


def tol(dtype: DType, x: torch.Tensor) -> torch.Tensor:
    """The edge tolerance at values x of `dtype` (rtol * |x| + atol), without gradient."""
    rtol, atol = EDGE_TOL[dtype]
    return (rtol * x.detach().double().abs() + atol).nan_to_num(posinf=math.inf)


def pole(dtype: DType) -> float:
    """Minimal distance from a pole or a domain boundary for values of `dtype`."""
    return POLE * EDGE_TOL[dtype][1] + EDGE_TOL[dtype][0]
