"""The searched values: every graph input and weight, float ones as trainable float64 masters.

Invariants: every value lies in its leaf's `Domain` box (the range its consumers asked the
generator for) and is finite; float leaves are materialised in the graph's real dtype by rounding
the master, so the values the search sees are exactly the ones it returns. Integer and bool leaves
take no gradient; they change only when redrawn, and float leaves whose domain is a single point
never change (see Leaves._set). Randomness comes only from the torch.Generator passed in.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fuzzer.graph.model import Graph, Tensor
from fuzzer.graph.torch_run import to_numpy
from fuzzer.spec.dtypes import DType

SMALL = 4  # see small_bounds
REDRAW_BIAS = 0.5  # see Leaves.redraw


def int_bounds(t: Tensor) -> tuple[int, int]:
    """Integers inside the leaf's domain and its dtype's range (the domain's rounded hull if none)."""
    info = np.iinfo(t.ttype.dtype.numpy)
    lo, hi = t.domain.lo, t.domain.hi
    a, b = math.ceil(lo), math.floor(hi)
    if a > b:
        a, b = math.floor(lo), math.ceil(hi)
    return max(a, int(info.min)), min(b, int(info.max))


def small_bounds(lo: int, hi: int) -> tuple[int, int]:
    """The SMALL * 2 + 1 integers of [lo, hi] nearest 0."""
    a = min(max(lo, -SMALL), max(hi - 2 * SMALL, lo))
    return a, min(hi, a + 2 * SMALL)


def draw(t: Tensor, gen: torch.Generator, *, small: float = 0.0) -> torch.Tensor:
    """Fresh values for leaf t in its domain: float64 for float leaves, the real dtype otherwise.

    Unlike the generator's draw, no special values: they are exact ties and edges on purpose.
    Integer elements come from the few integers nearest 0 (see `small_bounds`) with probability
    `small`.
    """
    dt, shape = t.ttype.dtype, tuple(int(s) for s in t.ttype.shape)
    if dt == DType.bool:
        return torch.rand(shape, generator=gen, dtype=torch.float64) < 0.5
    if dt.is_int:
        lo, hi = int_bounds(t)
        out = torch.randint(lo, hi + 1, shape, generator=gen, dtype=torch.int64)
        if small:
            a, b = small_bounds(lo, hi)
            near = torch.randint(a, b + 1, shape, generator=gen, dtype=torch.int64)
            out = torch.where(torch.rand(shape, generator=gen, dtype=torch.float64) < small, near, out)
        return out.to(dt.torch)
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    return t.domain.lo + u * (t.domain.hi - t.domain.lo)


class Leaves:
    """Graph inputs and weights: float masters (optimised, float64) and fixed integer/bool tensors."""

    def __init__(self, graph: Graph, gen: torch.Generator) -> None:
        self.graph = graph
        self.gen = gen
        self.masters: dict[str, torch.Tensor] = {}
        self.fixed: dict[str, torch.Tensor] = {}
        for name in graph.inputs + graph.weights:
            t = graph.tensors[name]
            fresh = draw(t, gen)
            if name in graph.values:
                fresh = self._from_array(t, graph.values[name], fresh)
            self._set(name, fresh)
        self.project()

    # --- values ----------------------------------------------------------------------------------
    def _from_array(self, t: Tensor, arr: np.ndarray, fresh: torch.Tensor) -> torch.Tensor:
        """A weight's current value, with non-finite entries replaced by the fresh draw."""
        if not t.ttype.dtype.is_float:
            return torch.from_numpy(np.asarray(arr).astype(t.ttype.dtype.numpy)).reshape(fresh.shape)
        v = torch.from_numpy(np.asarray(arr).astype(np.float64)).reshape(fresh.shape)
        return torch.where(torch.isfinite(v), v, fresh)

    def _set(self, name: str, value: torch.Tensor) -> None:
        """Float leaves become masters, but those whose domain is a single point: held fixed at it,
        in their real dtype, like integers. As a master such a leaf gave every value behind it a
        gradient that no step could follow, so violations there counted as movable and were
        redrawn only when descent stalled, every few steps, rather than at once."""
        t = self.graph.tensors[name]
        if t.ttype.dtype.is_float and t.domain.hi > t.domain.lo:
            self.masters[name] = value.double().clone().requires_grad_(True)
        elif t.ttype.dtype.is_float:
            self.fixed[name] = torch.full(value.shape, t.domain.lo, dtype=t.ttype.dtype.torch)
        else:
            self.fixed[name] = value

    def real(self) -> dict[str, torch.Tensor]:
        """Every leaf in its real dtype; float leaves carry the gradient back to their master."""
        out = dict(self.fixed)
        for name, m in self.masters.items():
            out[name] = m.to(self.graph.tensors[name].ttype.dtype.torch)
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """Every leaf as a NumPy array in its real dtype (bfloat16 through ml_dtypes)."""
        with torch.no_grad():
            return {n: to_numpy(v) for n, v in self.real().items()}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        """Set every leaf from `arrays` (as returned by `arrays`)."""
        for name, arr in arrays.items():
            t = self.graph.tensors[name]
            fresh = torch.zeros(tuple(int(s) for s in t.ttype.shape), dtype=torch.float64)
            self._set(name, self._from_array(t, arr, fresh))

    # --- moves -----------------------------------------------------------------------------------
    def project(self) -> None:
        """Clamp the float masters into their domain boxes (in place, outside autograd)."""
        with torch.no_grad():
            for name, m in self.masters.items():
                d = self.graph.tensors[name].domain
                m.clamp_(d.lo, d.hi)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(s) for s in self.graph.tensors[name].ttype.shape)

    def redraw(self, masks: dict[str, torch.Tensor]) -> None:
        """Draw afresh the elements of the named leaves where their mask is true.

        Integer elements have no gradient to guide them, so a share (REDRAW_BIAS) of their draws
        comes from the few integers nearest 0: an int8 operand of BitwiseOr that must give a value
        in [1, 5] lands there once in 50 uniform draws. Rejected: also copying the values of
        elements that were not blamed (values that work elsewhere), which did not clean more models.
        """
        for name, mask in sorted(masks.items()):
            t = self.graph.tensors[name]
            if name in self.masters:
                self._set(name, torch.where(mask, draw(t, self.gen), self.masters[name].detach()))
                continue
            old, fresh = self.fixed[name], draw(t, self.gen, small=REDRAW_BIAS)
            self._set(name, torch.where(mask, fresh, old))

    def snap(self, masks: dict[str, torch.Tensor]) -> bool:
        """Round the masked elements of float leaves to integers (those that stay in the domain);
        whether any element changed.

        Some nodes are clean only at exact points that descent never lands on: Acos(Cosh(x)) needs
        x = 0, Acosh(Cos(x)) too. Integers are exact in every dtype, so they also waive knife edges.
        """
        changed = False
        for name, mask in sorted(masks.items()):
            if name not in self.masters:
                continue
            d, m = self.graph.tensors[name].domain, self.masters[name].detach()
            r = torch.round(m)
            take = mask & (r >= d.lo) & (r <= d.hi) & (r != m)
            if bool(take.any()):
                self._set(name, torch.where(take, r, m))
                changed = True
        return changed

    def step_size(self, name: str) -> float:
        """The optimiser's step for a float leaf: a small share of its domain's width."""
        d = self.graph.tensors[name].domain
        return 0.03 * max(d.hi - d.lo, 0.1)
