"""What the generator knows of every tensor's values, so that it feeds no op values out of its domain.

Leaves are narrowed to the domain their readers ask for (`Input.domain`), but computed tensors are
what they are: a LogSoftmax output (always <= 0) fed to Log, a Hardmax (exact zeros) as a divisor,
a Cosh (>= 1) to Atanh leave the input search nothing to find. Before an insertion is kept, the
generator asks whether every tensor read by an input with a `Requirement` can still meet all its
readers' requirements (fuzzer.graph.feasibility, the same analysis the search uses to give up).

Facts are computed lazily and memoised. A forward insertion only adds tensors, so the memo stays
valid; a backward insertion (a leaf becomes computed) or a narrowed leaf changes the values below,
so the memo of the tensors below is dropped and rebuilt on the next question.
"""

from __future__ import annotations

import math

from fuzzer.graph.feasibility import (
    Fact,
    Requirement,
    keeps_zero,
    leaf_fact,
    misses,
    node_facts,
    node_requirements,
    overflows,
)
from fuzzer.graph.functions import Range, monotone, preimage
from fuzzer.graph.model import Graph, Node
from fuzzer.graph.zeros import Mask, any_zero, masks_of
from fuzzer.spec.registry import get

# ops whose outputs are some of their input's values, unchanged (a pullback passes straight through)
PASS_THROUGH = frozenset(
    {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Expand", "Tile", "Slice", "Identity"}
    | {"DepthToSpace", "SpaceToDepth"}
)
# ops whose outputs pass a dtype's largest value from inputs well below it (a float16 ReduceProd)
GROWING = frozenset({"Exp", "Cosh", "Sinh", "Pow", "ReduceProd"})
FINITE = 1e4  # where a range is unbounded, a pullback searches this far
# the share of a computed tensor's finite range that must meet a requirement for a risky read (see
# SAFE_P) to take it: less, and nearly every element would start out of the domain
PLAUSIBLE = 0.3


class ValueFacts:
    """Facts of a growing graph's tensors and the requirements their readers place on them.

    The caller reports every node it appends (`added`) or takes back (`removed`) and every change
    to existing values (`changed`); the graph's node list need not be in topological order.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._memo: dict[str, Fact] = {}  # a 0 by rules, range and witnesses alone (see `zero`)
        self._zero: dict[str, bool] = {}  # the full answer, asked only where a reader needs a nonzero
        self._masks: dict[str, Mask] = {}  # where `zero` asked: structural zeros (see fuzzer.graph.zeros)
        self._producer: dict[str, Node] = {}
        self._needs: dict[str, list[tuple[int, Requirement]]] = {}  # tensor -> (reader id, requirement)

    # --- bookkeeping ------------------------------------------------------------------------------
    def added(self, node: Node) -> None:
        for o in node.outputs:
            self._producer[o] = node
        for k, req in node_requirements(node, self.graph).items():
            self._needs.setdefault(node.inputs[k], []).append((id(node), req))

    def removed(self, node: Node) -> None:
        for o in node.outputs:
            self._producer.pop(o, None)
            self._memo.pop(o, None)
            self._zero.pop(o, None)
            self._masks.pop(o, None)
        for name in node.inputs:
            left = [(i, r) for i, r in self._needs.get(name, []) if i != id(node)]
            if left:
                self._needs[name] = left
            else:
                self._needs.pop(name, None)

    def changed(self, names: set[str] | None) -> None:
        """The values of tensors `names` (of every tensor, if None) changed: a leaf became computed
        (and so everything below it), or was narrowed."""
        if names is None:
            self._memo.clear()
            self._zero.clear()
            self._masks.clear()
        for n in names or ():
            self._memo.pop(n, None)
            self._zero.pop(n, None)
            self._masks.pop(n, None)

    # --- questions --------------------------------------------------------------------------------
    def fact(self, name: str) -> Fact:
        """The fact of tensor `name` (iterative: graphs may be deeper than Python's recursion limit)."""
        stack = [name]
        while stack:
            top = stack[-1]
            if top in self._memo:
                stack.pop()
                continue
            node = self._producer.get(top)
            if node is None:
                self._memo[top] = leaf_fact(self.graph, top)
                stack.pop()
                continue
            todo = [i for i in node.inputs if i not in self._memo]
            if todo:
                stack.extend(todo)
                continue
            ins = [self._memo[i] for i in node.inputs]
            self._memo.update(zip(node.outputs, node_facts(node, ins, self.graph, self._mask)))
            stack.pop()
        return self._memo[name]

    def zero(self, name: str) -> bool:
        """Tensor `name` holds an exact 0 whatever the leaves are: by its range and witnesses, an
        input's 0 kept (recursing through zero-keeping ops), or a structural zero (`fuzzer.graph.zeros`)."""
        if name not in self._zero:
            node = self._producer.get(name)
            z = self.fact(name).zero
            if not z and node is not None:
                z = keeps_zero(node, lambda k: self.zero(node.inputs[k])) or any_zero(self._mask(name))
            self._zero[name] = z
        return self._zero[name]

    def _mask(self, name: str) -> Mask:
        is_all_zero = lambda t: self.fact(t).range == (0.0, 0.0)  # noqa: E731
        return masks_of(name, self.graph, self._producer.get, self._masks, is_all_zero)

    def pullback(self, name: str, want: Range) -> tuple[str, Range] | None:
        """The leaf behind `name` and the values it must take for `name` to lie in `want`, when `name`
        is that leaf through monotone elementwise ops and layout only (Acosh(Asin(Squeeze(x))) needs
        x in [sin(1), 1]); None otherwise, or if no value of the leaf would do."""
        while name in self._producer:
            node = self._producer[name]
            if len(node.inputs) != 1:
                return None
            if get(node.op).op_type not in PASS_THROUGH:
                f = monotone(node)
                lo, hi = self.fact(node.inputs[0]).range
                over = (max(lo, -FINITE), min(hi, FINITE))
                got = preimage(f, want, over) if f is not None and over[0] < over[1] else None
                if got is None:
                    return None
                want = got
            name = node.inputs[0]
        return name, want

    def fits(self, name: str, req: Requirement | None = None) -> bool:
        """Tensor `name` can meet its readers' requirements (and `req`, for a reader to be)."""
        reqs = [r for _, r in self._needs.get(name, [])] + ([req] if req is not None else [])
        if not reqs:
            return True
        f = self.fact(name)
        if any(r.nonzero for r in reqs) and not f.zero and self.zero(name):
            f = Fact(f.range, f.witnesses, f.points | {0.0})
        return not misses(f, reqs, strict=True)

    def within(self, name: str, req: Requirement) -> bool:
        """Every value tensor `name` can take meets `req` (a leaf: it will be narrowed to do so)."""
        if name not in self._producer:
            return True
        # strictly inside: values may come arbitrarily close to a closed end too (a Cosh into Acosh),
        # and the search keeps a margin from it unless they are exact
        (lo, hi), r = self.fact(name).range, req
        return r.lo < lo and hi < r.hi and not (r.nonzero and lo <= 0 <= hi)

    def plausible(self, name: str, req: Requirement) -> bool:
        """Values of tensor `name` may well meet `req`: it is a leaf, its range is unbounded, the leaf
        behind it will be narrowed (`pullback`), or a good share (PLAUSIBLE) of its range lies inside.
        An Asin's (-pi/2, pi/2) into Acosh (> 1) is not: the search would have to steer every element
        into the top fifth, through whatever feeds the Asin."""
        if name not in self._producer:
            return True
        lo, hi = self.fact(name).range
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
            return True
        inside = min(hi, req.hi) - max(lo, req.lo)
        return inside >= PLAUSIBLE * (hi - lo) or self.pullback(name, (req.lo, req.hi)) is not None

    def readers_plausible(self, name: str) -> bool:
        """Tensor `name` is `plausible` for every reader's requirement."""
        return all(self.plausible(name, r) for _, r in self._needs.get(name, []))

    def readers_within(self, name: str) -> bool:
        """Every value tensor `name` can take meets all its readers' requirements."""
        return all(self.within(name, r) for _, r in self._needs.get(name, []))

    def finite(self, name: str) -> bool:
        """Tensor `name` may hold finite values (it does not overflow everywhere: see `overflows`).

        Only outputs of GROWING ops are judged: computing every tensor's fact for this would cost
        a tenth of generation time, for the rare sum or product of huge values (the search's
        `infeasible` still judges every tensor).
        """
        node = self._producer.get(name)
        if node is None or get(node.op).op_type not in GROWING:
            return True
        return not overflows(self.fact(name), self.graph.tensors[name].ttype.dtype)

    def all_fit(self, names: list[str] | None = None) -> bool:
        """Every tensor in `names` (every tensor that has a reader with a requirement, if None) fits."""
        return all(self.fits(n) for n in (self._needs if names is None else names) if n in self._needs)
