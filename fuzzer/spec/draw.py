"""The random source a spec sees while choosing attributes: concrete draws and symbolic ints.

Every random choice a spec makes goes through a `Draw`, which wraps the generator's explicit
`random.Random`; nothing in a spec may touch global randomness, so a model is reproducible from its
seed. Symbolic ints (`Draw.int`) become Z3 variables that the generator solves, with a randomly
drawn preferred value so that the solver does not always pick the smallest model.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from fuzzer.spec.expr import Var
from fuzzer.spec.sym import Dim


@dataclass
class SymVar:
    """A symbolic integer with its hard range and the value the generator tries first."""

    var: Var
    lo: int
    hi: int
    prefer: int


def log_int(rng: random.Random, lo: int, hi: int, *, edge_p: float = 0.2) -> int:
    """An int in [lo, hi]: an edge value (lo, hi, 1) with probability edge_p, else log-uniform."""
    if hi <= lo:
        return lo
    if rng.random() < edge_p:
        edges = [lo, hi] + ([1] if lo <= 1 <= hi else [])
        return rng.choice(edges)
    if lo >= 1:
        v = math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))
        return max(lo, min(hi, int(v)))
    # ranges reaching zero or negatives: log-scale on the magnitude, random sign where allowed
    mag = log_int(rng, 1, max(abs(lo), abs(hi)), edge_p=0.0)
    v = mag if rng.random() < 0.5 else -mag
    if rng.random() < 0.15:
        v = 0
    return max(lo, min(hi, v))


@dataclass
class Draw:
    """Random choices for one operator insertion (see module docstring)."""

    rng: random.Random
    opset: int
    prefix: str
    max_dim: int = 64
    max_elems: int = 4096  # the generator rejects any tensor with more elements
    max_rank: int = 5  # ops that add dims stay at or below it
    target: object = None  # backward insertion: the TType the op must produce (None when forward)
    vars: list[SymVar] = field(default_factory=list)

    # --- concrete draws -------------------------------------------------------------------
    def coin(self, p: float = 0.5) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        seq = list(seq)
        return seq[self.rng.randrange(len(seq))]

    def randint(self, lo: int, hi: int) -> int:
        """A concrete int in [lo, hi], log-binned with edge values."""
        return log_int(self.rng, lo, hi)

    def uniform(self, lo: float, hi: float) -> float:
        # round so the value survives float32 attributes and text round trips unchanged
        return float(round(self.rng.uniform(lo, hi), 3))

    def axis(self, rank: int, *, negative: bool = True) -> int:
        """An axis of a tensor of this rank; negative spelling with probability 0.3."""
        ax = self.rng.randrange(rank)
        return ax - rank if negative and self.coin(0.3) else ax

    def axes(self, rank: int, *, min_k: int = 1, max_k: int | None = None, negative: bool = True) -> list[int]:
        """Distinct axes, sorted by their positive value, each maybe spelt negative."""
        max_k = rank if max_k is None else min(max_k, rank)
        k = self.rng.randint(min(min_k, max_k), max_k)
        chosen = sorted(self.rng.sample(range(rank), k))
        return [a - rank if negative and self.coin(0.3) else a for a in chosen]

    def perm(self, rank: int) -> list[int]:
        """A permutation; the identity with probability 0.15 (an edge case optimisers special-case)."""
        p = list(range(rank))
        if not self.coin(0.15):
            self.rng.shuffle(p)
        return p

    # --- symbolic draws -------------------------------------------------------------------
    def int(self, name: str, lo: int, hi: int, *, prefer: int | None = None) -> Var:
        """A symbolic int in [lo, hi] for the solver; `prefer` (or a random draw) is tried first."""
        v = Var(f"{self.prefix}.{name}.{len(self.vars)}")
        p = log_int(self.rng, lo, hi) if prefer is None else max(lo, min(hi, prefer))
        self.vars.append(SymVar(v, lo, hi, p))
        return v

    def prefer(self, dim: Dim, value: int) -> None:
        """Make the solver try `value` first for a symbolic int of this insertion (no-op on ints)."""
        for sv in self.vars:
            if sv.var is dim:
                sv.prefer = max(sv.lo, min(sv.hi, value))

    def ints(self, name: str, n: int, lo: int, hi: int) -> list[Var]:
        return [self.int(name, lo, hi) for _ in range(n)]

    def dim(self, name: str, *, prefer: int | None = None) -> Dim:
        """A symbolic tensor dimension in [1, max_dim]."""
        if prefer is None:
            prefer = 1 if self.coin(0.15) else log_int(self.rng, 1, min(32, self.max_dim), edge_p=0.0)
        return self.int(name, 1, self.max_dim, prefer=prefer)
