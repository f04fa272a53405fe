"""The reducer: named passes run to a fixed point, each candidate checked, cached, and judged once.

    result = reduce(graph, feeds, predicate, deadline_s=60, max_calls=300)

`predicate(graph, feeds) -> bool` says "still fails the same way"; it runs only on valid candidates
strictly smaller than the current best (see `case.size`). A pass yields candidates best first; on
the first success the pass restarts on the new best, and when no pass succeeds in a whole round
the result is a fixed point. Work is bounded by a deadline and by a budget of predicate calls;
either way the smallest case found so far is returned. Everything but the predicate is
deterministic: the same inputs and answers give the same result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from fuzzer.graph.model import Graph
from fuzzer.reduce.case import Case, Rejected, size
from fuzzer.reduce.shapes import shrink_dims
from fuzzer.reduce.simplify import simplify_attrs, simplify_values
from fuzzer.reduce.structure import bypass, cut_to_constant, cut_to_input, drop_output, drop_tail, drop_unused
from fuzzer.reduce.validity import check

Predicate = Callable[[Graph, dict[str, np.ndarray]], bool]
Pass = Callable[[Case], Iterator["Case | Rejected"]]

# structure first (the big steps), then shapes, attributes and values
PASSES: tuple[Pass, ...] = (
    drop_tail,
    drop_output,
    cut_to_input,
    cut_to_constant,
    bypass,
    drop_unused,
    shrink_dims,
    simplify_attrs,
    simplify_values,
)

# why a reduction ended
FIXED_POINT = "fixed_point"
DEADLINE = "deadline"
BUDGET = "budget"
NOT_REPRODUCIBLE = "not_reproducible"  # the predicate is false on the input itself
INVALID_INPUT = "invalid_input"  # the input is not a valid model (the specs changed since it was made?)


@dataclass
class PassStats:
    """What one pass did: candidates proposed, invalid, cache hits, predicate calls, successes, time."""

    tries: int = 0
    invalid: int = 0
    cached: int = 0
    calls: int = 0
    successes: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in vars(self).items()}


@dataclass
class ReduceResult:
    """The smallest case found, why the search ended, and per-pass statistics."""

    graph: Graph
    feeds: dict[str, np.ndarray]
    stopped: str
    calls: int
    seconds: float
    size_before: tuple
    size_after: tuple
    stats: dict[str, PassStats] = field(default_factory=dict)

    @property
    def reproduced(self) -> bool:
        return self.stopped not in (NOT_REPRODUCIBLE, INVALID_INPUT)

    def to_json(self) -> dict:
        return {
            "stopped": self.stopped,
            "calls": self.calls,
            "seconds": round(self.seconds, 3),
            "nodes_before": self.size_before[0],
            "nodes_after": self.size_after[0],
            "size_before": list(self.size_before),
            "size_after": list(self.size_after),
            "passes": {k: v.to_json() for k, v in self.stats.items()},
        }


class _Stop(Exception):
    def __init__(self, why: str):
        self.why = why


class Reducer:
    """One reduction (see module docstring). `admissible` is an extra validity check on candidates."""

    def __init__(
        self,
        predicate: Predicate,
        *,
        passes: tuple[Pass, ...] = PASSES,
        deadline_s: float = 60.0,
        max_calls: int = 300,
        admissible: Predicate | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not (isinstance(max_calls, int) and max_calls >= 1):
            raise ValueError(f"max_calls={max_calls!r} is invalid; expected an integer >= 1")
        if not deadline_s > 0:
            raise ValueError(f"deadline_s={deadline_s!r} is invalid; expected a number > 0")
        names = [p.__name__ for p in passes]
        if len(set(names)) != len(names):
            raise ValueError(f"passes {names} repeat a name")
        self.predicate = predicate
        self.passes = passes
        self.deadline_s = deadline_s
        self.max_calls = max_calls
        self.admissible = admissible
        self.clock = clock
        self.stats = {n: PassStats() for n in names}
        self.cache: dict[str, bool] = {}
        self.calls = 0

    def run(self, graph: Graph, feeds: dict[str, np.ndarray]) -> ReduceResult:
        t0 = self.clock()
        self.deadline = t0 + self.deadline_s
        best = Case(graph, dict(feeds)).copy()
        before = size(best)
        try:
            best.values = check(best)
        except Rejected:
            return self._result(best, INVALID_INPUT, t0, before)
        self.calls += 1
        if not self.predicate(best.graph, best.feeds):
            return self._result(best, NOT_REPRODUCIBLE, t0, before)
        self.cache[best.digest()] = True
        self.best = best
        try:
            self._fixed_point()
            why = FIXED_POINT
        except _Stop as stop:
            why = stop.why
        return self._result(self.best, why, t0, before)

    def _result(self, case: Case, why: str, t0: float, before: tuple) -> ReduceResult:
        return ReduceResult(case.graph, case.feeds, why, self.calls, self.clock() - t0, before, size(case), self.stats)

    def _fixed_point(self) -> None:
        progress = True
        while progress:
            progress = False
            for p in self.passes:
                while self._step(p):
                    progress = True

    def _step(self, p: Pass) -> bool:
        """Try `p`'s candidates on the current best until one succeeds (True) or none is left."""
        st = self.stats[p.__name__]
        t0 = self.clock()
        try:
            for cand in p(self.best):
                st.tries += 1
                if self._accept(cand, st):
                    st.successes += 1
                    return True
            return False
        finally:
            st.seconds += self.clock() - t0

    def _accept(self, cand: Case | Rejected, st: PassStats) -> bool:
        if self.clock() >= self.deadline:
            raise _Stop(DEADLINE)
        if isinstance(cand, Rejected) or not size(cand) < size(self.best):
            st.invalid += 1
            return False
        try:
            key = cand.digest()
        except Rejected:
            st.invalid += 1
            return False
        if self.cache.get(key) is False:
            st.cached += 1
            return False
        try:
            values = check(cand)
            if self.admissible is not None and not self.admissible(cand.graph, cand.feeds):
                raise Rejected("not admissible")
        except Rejected:
            st.invalid += 1
            self.cache[key] = False
            return False
        if key in self.cache:  # the same model and inputs as an accepted case (a smaller spelling of it)
            st.cached += 1
            ok = True
        else:
            if self.calls >= self.max_calls:
                raise _Stop(BUDGET)
            self.calls += 1
            st.calls += 1
            ok = bool(self.predicate(cand.graph, cand.feeds))
            self.cache[key] = ok
        if ok:
            cand.values = values
            self.best = cand
        return ok


def reduce(graph: Graph, feeds: dict[str, np.ndarray], predicate: Predicate, **kw) -> ReduceResult:
    """Reduce (graph, feeds) while `predicate` holds; keyword arguments as for `Reducer`."""
    return Reducer(predicate, **kw).run(graph, feeds)
