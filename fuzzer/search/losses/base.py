"""The vocabulary of the loss table: what a loss sees (`OpView`), what it returns (`Need`), and margins.

A loss states constraints, not penalties: each `Need` says "this gap must be at least this margin",
elementwise. The search turns a Need into a hinge penalty with a wider margin (so it lands well
inside), the final check counts the elements below the margin itself. One definition serves both,
so the search and the check cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from fuzzer.graph.model import Node
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
# Distance from a pole or a domain boundary (Log at 0, Acos at +-1, ...) in multiples of the edge
# tolerance: near a pole the result is ill-conditioned long before it turns NaN or infinite.
POLE = 20.0
# The search aims at margins this many times wider than the check's, so rounding on the way to the
# real dtypes cannot push a value back over the edge.
SEARCH_FACTOR = 2.0
# Hazards (NaN, Inf, overflow) outweigh knife edges in the search: when a value must cross an edge to
# leave a pole (Reciprocal(Floor(x)) with x in (0, 1)), the edge's push-back must not cancel the pull.
HAZARD_WEIGHT = 10.0


@dataclass
class Need:
    """Elementwise constraint `gap >= margin` on the values of `tensor` (a graph tensor name).

    `gap` may have NaN where an input is NaN; such elements are the fault of an upstream node and
    are ignored. `search_margin` defaults to SEARCH_FACTOR * margin (see `search_target`). `edge`
    marks a knife edge (a wrong answer at worst) as opposed to a hazard (NaN, Inf, overflow).
    """

    reason: str
    tensor: str
    gap: torch.Tensor
    margin: torch.Tensor | float = 0.0
    search_margin: torch.Tensor | float | None = None
    edge: bool = False

    def search_target(self) -> torch.Tensor | float:
        return SEARCH_FACTOR * self.margin if self.search_margin is None else self.search_margin

    def violated(self) -> torch.Tensor:
        """Bool mask of elements below the (check) margin; NaN gaps do not count (see class doc)."""
        with torch.no_grad():
            g = self.gap.double()
            return (g < _f64(self.margin)) & ~torch.isnan(g)

    def penalty(self, *, violated_only: bool = False) -> torch.Tensor:
        """Hinge penalty towards the search margin, summed over finite elements (a 0-d float64).

        With violated_only, only over the elements below the check's margin.
        """
        short = torch.relu(_f64(self.search_target()) - self.gap.double())
        keep = torch.isfinite(short)
        if violated_only:
            keep = keep & self.violated()
        total = torch.where(keep, short, torch.zeros_like(short)).sum()
        return total if self.edge else HAZARD_WEIGHT * total


def _f64(v: torch.Tensor | float) -> torch.Tensor | float:
    return v.double() if isinstance(v, torch.Tensor) else v


@dataclass
class OpView:
    """One node as a loss sees it: its inputs and outputs in the graph's real dtypes, and attrs.

    `exact[k]` marks the elements of input k that are bit-identical in every correct backend (a
    bool tensor broadcastable to it, see fuzzer.search.exact): an exact value has no knife edge,
    and needs to stay only on the right side of a pole.
    """

    node: Node
    xs: list[torch.Tensor]
    ys: list[torch.Tensor]
    in_dtypes: list[DType]
    out_dtypes: list[DType]
    exact: list[torch.Tensor]

    @property
    def attrs(self) -> dict[str, Any]:
        return self.node.attrs

    def x(self, k: int) -> torch.Tensor:
        return self.xs[k]

    def name(self, k: int) -> str:
        return self.node.inputs[k]

    def out_name(self, k: int = 0) -> str:
        return self.node.outputs[k]

    def is_float(self, k: int) -> bool:
        return self.in_dtypes[k].is_float


# --- gap helpers -----------------------------------------------------------------------------------
def tol(dtype: DType, x: torch.Tensor) -> torch.Tensor:
    """The edge tolerance at values x of `dtype` (rtol * |x| + atol), without gradient."""
    rtol, atol = EDGE_TOL[dtype]
    return (rtol * x.detach().double().abs() + atol).nan_to_num(posinf=math.inf)


def pole(dtype: DType) -> float:
    """Minimal distance from a pole or a domain boundary for values of `dtype`."""
    return POLE * EDGE_TOL[dtype][1] + EDGE_TOL[dtype][0]


# an exact value only has to be strictly inside an open domain (Log: x > 0): any positive gap will do
STRICT = 1e-300


def pole_margin(view: OpView, k: int, *, strict: bool) -> torch.Tensor:
    """The margin input k needs from a pole or domain boundary: pole() where it carries rounding
    error, else none (closed domains, Sqrt at 0) or just strictly inside (open domains, Log at 0)."""
    inside = torch.tensor(STRICT if strict else 0.0, dtype=torch.float64)
    return torch.where(view.exact[k], inside, pole(view.in_dtypes[k]))


def unless_exact(gap: torch.Tensor, *exact: torch.Tensor) -> torch.Tensor:
    """`gap` waived (made infinite) where all the given exactness masks hold: no knife edge there."""
    both = torch.ones((), dtype=torch.bool)
    for m in exact:
        both = both & m
    return torch.where(both, torch.tensor(math.inf, dtype=gap.dtype), gap)


def sabs(d: torch.Tensor) -> torch.Tensor:
    """|d| whose gradient at exactly 0 is +1, not 0, so exact ties still get pushed apart."""
    return d * torch.where(d.detach() >= 0, 1.0, -1.0).to(d.dtype)


def dist_to_int(x: torch.Tensor, offset: float = 0.0) -> torch.Tensor:
    """Distance of x from the nearest point of (Z + offset), with gradient 1 or -1 (never 0)."""
    f = x.double() - offset
    frac = f - torch.floor(f).detach()  # in [0, 1); at an exact grid point 0, pushed upward
    return torch.minimum(frac, 1.0 - frac)


def floats(view: OpView) -> list[int]:
    """Positions of the float inputs."""
    return [k for k in range(len(view.xs)) if view.is_float(k)]
