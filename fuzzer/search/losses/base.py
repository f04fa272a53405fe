"""The vocabulary of the loss table: what a loss sees (`OpView`), what it returns (`Need`), helpers.

A loss states constraints, not penalties: each `Need` says "this gap must be at least this margin",
elementwise. The search turns a Need into a hinge penalty with a wider margin (so it lands well
inside), the final check counts the elements below the margin itself. One definition serves both,
so the search and the check cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from fuzzer.graph.model import Node
from fuzzer.search.margins import HAZARD_WEIGHT, SEARCH_FACTOR, STRICT, pole
from fuzzer.spec.dtypes import DType

# The weight of the slack between the check's margin and the search's wider one, against 1 below the
# check's margin. A search margin out of reach (Reciprocal(Sigmoid(Erf(x))) in bfloat16 asks for
# sigmoid > 0.88, the check only for > 0.44) must not outpull a real violation elsewhere (Ceil(Erf(x))
# near 1, which wants x smaller). Rejected: one weight for both, which let the out-of-reach slack
# push x into Erf's saturation for the whole budget.
COMFORT = 0.01
# Below the check's margin the penalty grows a little faster than linearly, its slope from 1 at the
# margin to 1 + 2 * DEPTH far below: where two hazards pull one value apart with equal slopes
# (Acosh(Log(x)) wants log(x) from -1.6 up past 1, Tan of the same value pushes it back down off its
# pole at -pi/2), the deeper violation wins and the value crosses the shallow one's band, which is
# then behind it. Rejected: a squared hinge, whose slope is unbounded and upset the balance of
# hazards and knife edges (HAZARD_WEIGHT) far from the margin.
DEPTH = 0.05


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
    _violated: torch.Tensor | None = field(default=None, init=False, repr=False, compare=False)

    def search_target(self) -> torch.Tensor | float:
        return SEARCH_FACTOR * self.margin if self.search_margin is None else self.search_margin

    def violated(self) -> torch.Tensor:
        """Bool mask of elements below the (check) margin; NaN gaps do not count (see class doc).
        Computed once: a Need is not changed after it is made."""
        if self._violated is None:
            with torch.no_grad():
                g = self.gap.double()
                self._violated = (g < _f64(self.margin)) & ~torch.isnan(g)
        return self._violated

    def penalty(self, *, violated_only: bool = False) -> torch.Tensor:
        """Hinge penalty towards the search margin, summed over finite elements (a 0-d float64).

        With violated_only, only over the elements below the check's margin.
        """
        gap = self.gap.double()
        below = torch.relu(_f64(self.margin) - gap)
        below = below + DEPTH * below * below / (1 + below).detach()
        short = COMFORT * torch.relu(_f64(self.search_target()) - gap) + (1 - COMFORT) * below
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
    # what each input may be an elementwise copy of, as sets (see trace.copied_from); None: unknown
    sources: list | None = None
    # input k's values computed in float64 from the same leaves (see trace.Wide); None: unknown
    wide: Callable[[int], torch.Tensor] | None = None

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
    """Distance of x from the nearest point of (Z + offset), with gradient 1 or -1 (never 0).

    At an exact grid point both ways are as good, and the push goes towards 0: a value that sits
    exactly on an integer is most often a saturated one (Ceil(Erf(x)) at erf(x) = 1 in bfloat16),
    which only comes off the grid point inwards. Rejected: always upwards, which pushed such values
    further into saturation for the whole budget.
    """
    xd = x.double()
    f = xd - offset
    low = torch.floor(f).detach()
    frac = f - low  # in [0, 1); 0 at an exact grid point
    near = torch.minimum(frac, 1.0 - frac)
    down = low - f  # 0 at an exact grid point, with gradient -1
    return torch.where((frac.detach() == 0) & (xd.detach() > 0), down, near)
