"""Solve one insertion's constraints with Z3, preferring the randomly drawn values.

Hard constraints must hold. Each symbolic variable also has a preferred value, tried as an
assumption; when the preferences conflict, the unsat core names some of them and we drop one
(chosen by the random source) and try again. This gives diverse solutions instead of the solver's
favourite minimal ones, and costs a handful of small checks. Work is bounded by `budget` checks,
never by wall-clock time.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import z3

from fuzzer.spec.draw import SymVar


@dataclass
class SolveStats:
    calls: int = 0
    checks: int = 0
    seconds: float = 0.0


def solve(
    conds: list, syms: list[SymVar], rng: random.Random, *, budget: int = 8, stats: SolveStats | None = None
) -> Solution | None:
    """A model satisfying `conds`, or None if unsat within the budget."""
    if any(c is False for c in conds):
        return None
    hard = [c for c in conds if c is not True]
    if not syms and not hard:
        return Solution(None)
    t0 = time.perf_counter()
    try:
        return _solve(hard, syms, rng, budget, stats)
    finally:
        if stats is not None:
            stats.calls += 1
            stats.seconds += time.perf_counter() - t0


def _solve(hard, syms, rng, budget, stats) -> Solution | None:
    ctx = syms[0].var.ctx if syms else hard[0].ctx
    s = z3.Solver(ctx=ctx)
    s.set("random_seed", 0)
    lits = [z3.Bool(f"pref.{i}", ctx=ctx) for i in range(len(syms))]
    facts = list(hard)
    for sv, lit in zip(syms, lits):
        facts += [sv.var >= sv.lo, sv.var <= sv.hi, z3.Implies(lit, sv.var == sv.prefer)]
    s.add(z3.And(*facts) if len(facts) > 1 else facts[0])
    index = {lit.get_id(): i for i, lit in enumerate(lits)}
    active = list(range(len(lits)))
    for _ in range(budget):
        if stats is not None:
            stats.checks += 1
        r = s.check(*[lits[i] for i in active])
        if r == z3.sat:
            return Solution(s.model())
        if r == z3.unknown:
            return None
        core = sorted(index[c.get_id()] for c in s.unsat_core())
        if not core:
            return None  # the hard constraints alone are unsat
        drop = set(core) if len(core) > 3 else {core[rng.randrange(len(core))]}
        active = [i for i in active if i not in drop]
    return None


class Solution:
    """A solved insertion: evaluates any Dim, attribute value or nested list of them."""

    def __init__(self, model: z3.ModelRef | None):
        self.model = model

    def __call__(self, x):
        if isinstance(x, (list, tuple)):
            return type(x)(self(v) for v in x)
        if isinstance(x, bool) or not isinstance(x, (z3.ExprRef,)):
            return x
        if self.model is None:
            raise ValueError(f"expression {x} is symbolic but nothing was solved")
        val = self.model.eval(x, model_completion=True)
        if z3.is_int_value(val):
            return val.as_long()
        if z3.is_true(val) or z3.is_false(val):
            return z3.is_true(val)
        raise ValueError(f"expression {x} is not concrete under the model: {val}")
