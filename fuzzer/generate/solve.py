"""Solve one insertion's constraints with Z3, preferring the randomly drawn values.

Hard constraints must hold. Each symbolic variable also has a preferred value, tried as an
assumption; when the preferences conflict, the unsat core names some of them and we drop one
(chosen by the random source) and try again. This gives diverse solutions instead of the solver's
favourite minimal ones, and costs a handful of small checks. Work is bounded by `budget` checks,
never by wall-clock time. Rules arrive as `fuzzer.spec.expr` trees and become Z3 terms here, in the
context the caller gives (one per model, so no other model's terms influence the solver).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import z3

from fuzzer.spec.draw import SymVar
from fuzzer.spec.expr import Expr, evaluate, to_z3


@dataclass
class SolveStats:
    calls: int = 0
    checks: int = 0
    seconds: float = 0.0


def solve(
    conds: list,
    syms: list[SymVar],
    rng: random.Random,
    *,
    context: Callable[[], z3.Context],
    budget: int = 8,
    stats: SolveStats | None = None,
) -> Solution | None:
    """A model satisfying `conds`, or None if unsat within the budget."""
    if any(c is False for c in conds):
        return None
    hard = [c for c in conds if c is not True]
    if not syms and not hard:
        return Solution({})
    t0 = time.perf_counter()
    try:
        return _solve(hard, syms, rng, budget, stats, context())
    finally:
        if stats is not None:
            stats.calls += 1
            stats.seconds += time.perf_counter() - t0


def _solve(hard, syms, rng, budget, stats, ctx: z3.Context) -> Solution | None:
    memo: dict = {}
    s = z3.Solver(ctx=ctx)
    s.set("random_seed", 0)
    lits = [z3.Bool(f"pref.{i}", ctx) for i in range(len(syms))]
    facts = [to_z3(c, ctx, memo) for c in hard]
    zvars = [to_z3(sv.var, ctx, memo) for sv in syms]
    for sv, zv, lit in zip(syms, zvars, lits):
        facts += [zv >= sv.lo, zv <= sv.hi, z3.Implies(lit, zv == sv.prefer)]
    s.add(z3.And(*facts) if len(facts) > 1 else facts[0])
    index = {lit.get_id(): i for i, lit in enumerate(lits)}
    active = list(range(len(lits)))
    for _ in range(budget):
        if stats is not None:
            stats.checks += 1
        r = s.check(*[lits[i] for i in active])
        if r == z3.sat:
            m = s.model()
            return Solution({sv.var.uid: m.eval(zv, model_completion=True).as_long() for sv, zv in zip(syms, zvars)})
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

    def __init__(self, values: dict[int, int]):
        self.values = values  # Var uid -> value

    def __call__(self, x):
        if isinstance(x, (list, tuple)):
            return type(x)(self(v) for v in x)
        if isinstance(x, Expr):
            return evaluate(x, self.values)
        return x
