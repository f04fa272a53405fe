"""Gradient-guided search for graph inputs and float weights free of NaN, Inf and knife edges.

Each step runs the graph once in its real dtypes (flat ops with straight-through gradients, see
`proxy`), judges every node with the loss table (see `losses`), and takes one Rprop step on the
float leaves against the summed hinge penalties. Leaf elements that no gradient can move (integer
leaves, values behind an integer or bool tensor) are redrawn instead (see `blame`) at once, as a
hill climb: a redraw that made things worse is undone before the next; after
`patience` steps without progress the search either snaps the elements behind the violations to
integers, or goes back to the best values so far and redraws those elements there (an iterated
local search). Nodes that interval analysis
proves violated for any values (fuzzer.graph.feasibility), or that MAX_TRIES redraws did not fix, are given up
on. When a pass shows no violation, the final check re-runs the real implementations on the values
to be returned.

The work is bounded by `steps`, never by time, and the only randomness is a torch.Generator seeded
with `seed`, so (graph, seed, steps, patience) determines the result.
"""

from __future__ import annotations

import collections
import sys
import time

import numpy as np
import torch

from fuzzer.graph.feasibility import infeasible
from fuzzer.graph.model import Graph
from fuzzer.graph.torch_run import to_numpy
from fuzzer.search import blame
from fuzzer.search.check import check, confirms
from fuzzer.search.leaves import Leaves
from fuzzer.search.result import SearchResult
from fuzzer.search.trace import Trace, run

DEFAULT_STEPS = 300
# steps without progress before a redraw: at 10 a 50-step budget left time for only a few redraws,
# and models that need several of them (a knife edge each) ran out (search_bench: 4 cleans a few
# more models at 20 and 30 nodes; fewer cut descents short that were still converging)
DEFAULT_PATIENCE = 4
PROGRESS = 0.01  # a relative drop of the penalty that counts as progress (as does fewer violations)
# redraws aimed at one node before the search gives up on it: a node violated for any values (Log of
# a LogSoftmax, Acosh of a Sin) must not keep redrawing leaves that other nodes are descending on
MAX_TRIES = 30
SCORE_MAX = (sys.maxsize, sys.maxsize)
# steps in a row in which no float element moved (every one with a gradient pinned at a bound of its
# domain, or no gradient at all) after which a stalled descent redraws without waiting out `patience`:
# the next steps would repeat the same values (20 nodes seed 275: Mod(x, x * (2 + w)) with w pinned
# at -3 spent 4 steps of 50 on each such wait). Two, not one: Rprop skips the step of an element whose
# gradient changed sign, and a step where all of them did is not a fixed point.
FROZEN = 2
# what a step without progress counts towards `patience` while descent travels (see _Search._turned)
TRAVEL = 0.5
# a leaf with this many times fewer elements than another one blamed (a broadcast one) is left alone
# by a redraw that aims at the fine-grained leaves (see _Search._aim)
FAN_OUT = 4


def search(graph: Graph, seed: int, *, steps: int = DEFAULT_STEPS, patience: int = DEFAULT_PATIENCE) -> SearchResult:
    """Values for `graph`'s inputs and float weights with no NaN/Inf and no knife edge anywhere."""
    if not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"steps={steps!r} is invalid; expected an integer >= 0")
    if not (isinstance(patience, int) and patience >= 1):
        raise ValueError(f"patience={patience!r} is invalid; expected an integer >= 1")
    t0 = time.perf_counter()
    s = _Search(graph, seed, patience)
    found, used = s.loop(steps)
    arrays = s.leaves.arrays() if found else s.best_arrays
    inputs = {n: arrays[n] for n in graph.inputs}
    weights = {n: arrays[n] for n in graph.weights}
    left = [] if found else check(graph, inputs, weights)
    outputs = None if s.confirmed is None else {n: to_numpy(s.confirmed[n]) for n in graph.outputs}
    return SearchResult(
        seed=seed,
        success=not left,
        inputs=inputs,
        weights=weights,
        steps=used,
        seconds=time.perf_counter() - t0,
        violations=left,
        redraws=s.redraws,
        infeasible=[f"{graph.nodes[i].op}: {why}" for i, why in sorted((s.infeasible or {}).items())],
        outputs=outputs,
    )


class _Search:
    """The mutable state of one search: leaves, optimiser, best values so far, plateau counter."""

    def __init__(self, graph: Graph, seed: int, patience: int) -> None:
        self.graph = graph
        self.gen = torch.Generator().manual_seed(seed)
        self.leaves = Leaves(graph, self.gen)
        self.patience = patience
        self.ancestors = leaf_ancestors(graph)
        self._opt: torch.optim.Optimizer | _NoOptimiser | None = None  # made at first use, see `opt`
        self.best_key: tuple | None = None
        self.best_arrays = self.leaves.arrays()
        self.best_penalty, self.best_score = float("inf"), SCORE_MAX  # since the last redraw
        self.stalled = 0
        self.frozen = 0  # steps in a row that moved no float element (see FROZEN)
        self.redraws = 0
        # (score, values, violations) before the last redraw without gradient, see _elitist
        self.anchor: tuple[int, dict, list] | None = None
        self.fruitless = 0  # redraws without gradient in a row that did not make things better
        self.tries: collections.Counter[int] = collections.Counter()  # redraws aimed at each node
        # nodes violated for every value (interval analysis), given up on from the start; analysed
        # when first asked (see given_up): most searches are clean at once and never ask
        self.infeasible: dict[int, str] | None = None
        self.confirmed: dict[str, torch.Tensor] | None = None  # the tensors of a pass check.confirms took

    @property
    def opt(self) -> torch.optim.Optimizer | _NoOptimiser:
        """The optimiser, made at its first use: most searches are clean at once and never step
        (and a process's first Rprop imports torch._dynamo, over a second)."""
        if self._opt is None:
            self._opt = self._optimiser()
        return self._opt

    def loop(self, steps: int) -> tuple[bool, int]:
        """Search for up to `steps` moves; (found, moves made)."""
        for used in range(steps + 1):
            trace = self._forward()
            viol = trace.violations()
            self._remember(trace, viol)
            if not viol and self._confirmed(trace):
                return True, used
            viol = [v for v in viol if v[0] not in self.given_up()]
            if used == steps or not viol:
                return False, used  # out of budget, or only nodes given up on are left
            self._move(trace, viol)
        raise AssertionError("unreachable")

    # --- one step --------------------------------------------------------------------------------
    def _forward(self) -> Trace:
        return run(self.graph, self.leaves.real(), proxy=True)

    def _confirmed(self, trace: Trace) -> bool:
        """The final check (real implementations) agrees that the current values, clean in `trace`,
        are clean: at the cost of a forward pass when it computes the same tensors (see
        check.confirms), of a judged one otherwise."""
        arrays = self.leaves.arrays()
        inputs = {n: arrays[n] for n in self.graph.inputs}
        weights = {n: arrays[n] for n in self.graph.weights}
        if confirms(self.graph, trace, inputs, weights):
            self.confirmed = trace.env
            return True
        return not check(self.graph, inputs, weights)

    def _move(self, trace: Trace, viol) -> None:
        stuck = {i for i, _, _ in viol} - {i for i, n, _ in viol if n.gap.requires_grad}
        if stuck:
            # no gradient can fix these (integer operands, values behind a bool): redraw
            self._redraw(self._elitist(trace, viol, [v for v in viol if v[0] in stuck]), gradient=False)
            return
        self.anchor = None
        penalty = trace.penalty(self.given_up())
        moved = turned = False
        if penalty.requires_grad:
            self.opt.zero_grad(set_to_none=True)
            penalty.backward()
            before = {n: m.detach().clone() for n, m in self.leaves.masters.items()}
            for m in self.leaves.masters.values():
                if m.grad is not None:
                    # an infinite gradient keeps its sign (see trace.finite_grad); finite, as Rprop's
                    # sign test multiplies it with the previous gradient, which may be 0
                    torch.nan_to_num_(m.grad, nan=0.0, posinf=1e30, neginf=-1e30)
            turned = self._turned()
            self.opt.step()
            self.leaves.project()
            moved = any(not torch.equal(m.detach(), before[n]) for n, m in self.leaves.masters.items())
        p, sc = float(penalty.detach()), score(trace, viol)
        if p < self.best_penalty * (1 - PROGRESS) or sc < self.best_score:
            self.best_penalty, self.best_score, self.stalled = min(p, self.best_penalty), min(sc, self.best_score), 0
        else:
            self.stalled += TRAVEL if moved and not turned else 1
        self.frozen = 0 if moved else self.frozen + 1
        if self.stalled >= self.patience or (self.stalled and self.frozen >= FROZEN):
            self._redraw(None, gradient=True)

    def _turned(self) -> bool:
        """Some float element's gradient changed sign since the last step, or had none to keep (call
        before the step).

        Without any turn, descent is travelling rather than stalled, even where the penalty stays
        flat: behind a stepped op (Reciprocal(ThresholdedRelu(Reciprocal(x))) with x to go from 1.5
        below 0.51) the penalty changes only when the value crosses, and `patience` steps cut that
        journey short again and again (30 nodes seed 352). Such a step counts TRAVEL towards
        `patience`, not 0: a journey the wrong way ends only at the domain's bound (see FROZEN), and
        waiting for it in full lost as many models (30 nodes seed 695) as it gained. Rejected: a
        longer patience, which delays every redraw out of a real local minimum.
        """
        if not isinstance(self.opt, torch.optim.Rprop):
            return True
        for m in self.leaves.masters.values():
            if m.grad is None:
                continue
            prev = self.opt.state.get(m, {}).get("prev")
            # Rprop zeroes `prev` after a turn (and before the first step): not steady either, else
            # a value circling a point (a whole exponent of a negative base) looked like travel
            # every other step
            if prev is None or bool(((m.grad != 0) & ~(m.grad * prev > 0)).any()):
                return True
        return False

    def given_up(self) -> frozenset[int]:
        """Nodes no longer worked on: proven infeasible, or redrawn for MAX_TRIES times in vain."""
        if self.infeasible is None:
            self.infeasible = infeasible(self.graph)
        return frozenset(i for i, n in self.tries.items() if n >= MAX_TRIES) | self.infeasible.keys()

    def _remember(self, trace: Trace, viol) -> None:
        key = score(trace, viol)
        if self.best_key is None or key < self.best_key:
            self.best_key, self.best_arrays = key, self.leaves.arrays()

    # --- redrawing -------------------------------------------------------------------------------
    def _elitist(self, trace: Trace, viol: list, stuck: list) -> list:
        """The violations to redraw for: those of the `stuck` nodes now, or, when the last redraw
        without gradient made things worse, those of the values before it, which are restored (a
        (1+1) hill climb).

        Without it every redraw started from the last one's values: Mod(a, Relu(Pad(b))) with an
        int8 b needs every element in {1, 2, 3}, and a redraw that fixed some elements was undone by
        the next, which redrew all of them again. Equal counts are accepted, to cross plateaus.
        Worse is more violated elements that no gradient can fix (descent fixes the rest once these
        are gone), counting those of unjudged nodes too (Trace.hidden): Acosh(Exp(Cast(b))) with an
        int8 b is not judged while one Exp overflows, and values with one overflow (Acosh hidden)
        must not look better than values with none and many Acosh violations. Rejected: `score`,
        by nodes first, which made that a dead end. A redraw that made things better does not count
        as a try in vain (see MAX_TRIES). Of a redraw that made things worse, the integer and bool
        elements that came good are kept (see `_keep_fixed`).
        """
        count = trace.hidden + sum(c for _, n, c in viol if not n.gap.requires_grad)
        if self.anchor is not None:
            if count > self.anchor[0] and self._keep_fixed(stuck + [(i, n, 0) for i, n in trace.hidden_needs]):
                self.fruitless = 0
                return stuck
            if count > self.anchor[0]:
                self.leaves.load(self.anchor[1])
                self.fruitless += 1
                return self.anchor[2]
            if count < self.anchor[0]:
                self.tries.subtract({i for i, _, _ in self.anchor[2]})
            self.fruitless = 0 if count < self.anchor[0] else self.fruitless + 1
        self.anchor = (count, self.leaves.arrays(), stuck)
        return stuck

    def _keep_fixed(self, viol: list) -> bool:
        """After a redraw that made things worse overall, go back to the anchor's values but for the
        redrawn integer and bool elements that no violation in `viol` (hidden ones too) now blames;
        whether there were such elements (else the values are left alone). The anchor stays, so a
        later redraw that is worse than it is undone as before.

        Only where blame is exact: behind a violation whose leaves include a redrawn one that does
        not map onto it element for element (a Pad, a broadcast), nothing is kept. Relu(Pad(b))
        otherwise kept elements of b that the guess did not blame, and the search never tried
        elsewhere (see _aim).

        Redrawing every violated element of BitwiseOr(a, b) (a good a, b needing small values) made
        a quarter of them good and more of them overflow an Exp downstream; undone as a whole,
        the good ones were lost every time (20 nodes seed 33). Float elements go back: descent moves
        them. Rejected: judging the mix by another pass, which costs a forward per redraw.
        """
        before, now = self.anchor[1], self.leaves.arrays()
        moved = {n for n in self.leaves.fixed if (now[n] != before[n]).any()}
        guessed: set[str] = set()
        for i, need, _ in viol:
            mine = [n for n in self.ancestors[i] if n in self.leaves.fixed]
            if any(not blame.one_to_one(self.leaves.shape(n), tuple(need.gap.shape)) for n in mine if n in moved):
                guessed |= set(mine)
        blamed = self._by_position(viol, self.leaves.fixed)
        mix, kept = dict(before), False
        for n in sorted(moved - guessed):
            good = (now[n] != before[n]) & ~blamed.get(n, torch.zeros((), dtype=torch.bool)).numpy()
            if good.any():
                mix[n], kept = np.where(good, now[n], before[n]), True
        if kept:
            self.leaves.load(mix)
        return kept

    def _redraw(self, viol, *, gradient: bool) -> None:
        """Redraw the leaf elements blamed for `viol` (see `blame`), then restart the optimiser.

        Integer and bool leaves are blamed by position. Float leaves are blamed by gradient when
        descent has stalled (a local minimum: in Reciprocal(Floor(LeakyRelu(Mish(x)))) every x below
        0 descends to Mish's minimum and stays at Floor = 0, while a fresh draw lands on the good
        side half the time), and by position when there is no gradient, or no fixed leaf to blame.
        A stalled descent (viol None) alternates between snapping the blamed elements of the current
        values to integers (see Leaves.snap), and redrawing them from the best values so far, so
        that a redraw that made things worse is not built upon: an iterated local search.
        """
        before = dict(self.leaves.masters)
        if viol is None and self.redraws % 2 == 1:
            here = [v for v in self._forward().violations() if v[0] not in self.given_up()]
            masks = self._blame(here, gradient=gradient)
            if self.leaves.snap(masks):
                self._restart(here, before, masks)
                return
            # nothing to round: the blamed elements are whole already (often pinned at a bound of their
            # domain, where descent pushed them), and a snap would only wait out another `patience`
            # steps on the same values; redraw them now instead
        if viol is None:
            self.leaves.load(self.best_arrays)
            viol = [v for v in self._forward().violations() if v[0] not in self.given_up()]
        masks = self._blame(viol, gradient=gradient)
        self.leaves.redraw(masks)
        self._restart(viol, before, masks)

    def _blame(self, viol: list, *, gradient: bool) -> dict[str, torch.Tensor]:
        """The leaf elements to redraw or snap for `viol`: by gradient and position (see `_redraw`)."""
        behind = sorted({leaf for i, _, _ in viol for leaf in self.ancestors[i]})
        fixed = [n for n in behind if n in self.leaves.fixed]
        floats = [n for n in behind if n in self.leaves.masters]
        masks = {}
        if gradient:
            most = sum(c for _, _, c in viol)
            masks = blame.by_gradient(
                self._forward().violation_penalty(self.given_up()), self.leaves.masters, most=most
            )
            masks = {n: m for n, m in masks.items() if bool(m.any())}
        # a node with no gradient at all (stuck) gets none to the floats behind it either, so they are
        # redrawn with the integers: Acos(OneHot(Pow(n, x))) with an int n and a float x wants x >= 0
        # (rejected: the integers alone, which left x's negative elements for good). So do violations
        # whose penalty reaches no float element: Cast(Mod(c, w)) with a constant c and w past |c|
        # (the remainder is c, whatever w); an integer leaf behind the node (CastLike's target, which
        # gives only the dtype) used to take the whole redraw, and w was never redrawn (30 nodes 533)
        positional = fixed + floats if not (gradient and masks) else fixed
        at = self._by_position(viol, positional)
        masks.update(at if gradient else self._aim(at, sum(c for _, _, c in viol)))
        return masks

    def _restart(self, viol: list, before: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> None:
        """After a redraw or snap of `masks` for `viol`: count the tries, restart the optimiser."""
        self.tries.update({i for i, _, _ in viol})
        # an optimiser never used has nothing to carry: the next is made at its first use too
        self._opt = None if self._opt is None else self._carry(self._optimiser(), before, masks)
        self.redraws += 1
        self.stalled, self.frozen, self.best_penalty, self.best_score = 0, 0, float("inf"), SCORE_MAX

    def _by_position(self, viol: list, names) -> dict[str, torch.Tensor]:
        """The elements of the leaves `names` that each violation blames by position, merged; a
        violation blames only the leaves behind its own node."""
        at: dict[str, torch.Tensor] = {}
        for i, need, _ in viol:
            mine = {n: self.leaves.shape(n) for n in names if n in self.ancestors[i]}
            for n, m in blame.by_position([need], mine).items():
                at[n] = at[n] | m if n in at else m
        return at

    def _aim(self, at: dict[str, torch.Tensor], count: int) -> dict[str, torch.Tensor]:
        """What a redraw without gradient takes of the elements blamed by position (`at`, for
        `count` violated elements), in turn while redraws do not make things better:

        - the fine-grained leaves only, those with at least 1 / FAN_OUT as many elements as the
          largest one (BitwiseOr(a, b) with a of one element, broadcast, and b of 2744: b alone, as
          redrawing a every time undid all that b's redraws had fixed);
        - every blamed element (a is the culprit after all);
        - as many elements as are violated, anywhere in the leaves (see `_anywhere`).
        """
        big = max((m.numel() for m in at.values()), default=0)
        fine = {n: m for n, m in at.items() if m.numel() * FAN_OUT >= big}
        turns = [fine, at] if len(fine) < len(at) else [at]
        if self.fruitless % (len(turns) + 1) == len(turns):
            return {n: self._anywhere(m, count) for n, m in at.items()}
        return turns[self.fruitless % (len(turns) + 1)]

    def _anywhere(self, mask: torch.Tensor, count: int) -> torch.Tensor:
        """About `count` elements (the violated ones; at least one), at random anywhere in the leaf.

        Positional blame is a guess (a reflecting Pad fills from elsewhere than it blames); after a
        redraw of the guessed elements was undone, the next redraw tries elsewhere. Rejected:
        the whole leaf, which undoes every element fixed so far.
        """
        p = max(count, 1) / max(mask.numel(), 1)
        pick = torch.rand(mask.shape, generator=self.gen, dtype=torch.float64) < p
        if not bool(pick.any()) and mask.numel():
            pick.view(-1)[int(torch.randint(mask.numel(), (1,), generator=self.gen))] = True
        return pick

    def _carry(self, opt, before: dict[str, torch.Tensor], moved: dict[str, torch.Tensor]):
        """`opt` with the step sizes (and last gradient signs) that the current optimiser reached
        for the float elements a redraw did not touch (`before`: the masters it kept them for).

        Rejected: starting every element over at the initial step, which undid the growth of
        elements that must travel far (ReduceMin of 549 saturated Erfs, each to cross 0): a redraw
        every few steps kept them crawling at the first step size for the whole budget.
        """
        if not isinstance(self.opt, torch.optim.Rprop):
            return opt
        for group in opt.param_groups:
            (m,) = group["params"]
            name = next(n for n, v in self.leaves.masters.items() if v is m)
            old = self.opt.state.get(before.get(name))
            if not old:
                continue
            size, prev = old["step_size"].clone(), old["prev"].clone()
            if name in moved:
                touched = moved[name].expand(size.shape)
                size[touched], prev[touched] = group["lr"], 0.0
            opt.state[m] = {"step": old["step"].clone(), "prev": prev, "step_size": size}
        return opt

    def _optimiser(self) -> torch.optim.Optimizer | None:
        """Rprop: a step size per element that grows while the gradient keeps its sign and halves
        when it flips. The gradient here is exact (no minibatches), which is Rprop's home ground:
        a value pushed one way for long travels fast, one that overshoots a narrow region (Acosh of
        Cos needs x = 0) settles into it. Adam, rejected, moves every element by about its learning
        rate and so keeps circling such regions."""
        groups = []
        for name, m in self.leaves.masters.items():
            step = self.leaves.step_size(name)
            groups.append({"params": [m], "lr": step, "step_sizes": (step * 1e-6, step * 20)})
        return torch.optim.Rprop(groups, etas=(0.5, 1.2)) if groups else _NoOptimiser()


def score(trace: Trace, viol) -> tuple[int, int]:
    """How far from clean: (violated or unjudged nodes, violated elements); lower is better.

    Nodes downstream of a NaN are not judged, so fixing the NaN may reveal violations there;
    counting them as bad already keeps that from looking like a step back.
    """
    return (len({i for i, _, _ in viol}) + trace.unjudged, sum(c for _, _, c in viol))


class _NoOptimiser:
    """Stands in for the optimiser when the graph has no float leaf."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        pass

    def step(self) -> None:
        pass


def leaf_ancestors(graph: Graph) -> list[set[str]]:
    """For each node (by index), the graph inputs and weights its values depend on."""
    leaves = set(graph.inputs) | set(graph.weights)
    behind: dict[str, set[str]] = {n: {n} for n in leaves}
    out = []
    for node in graph.nodes:
        deps = set().union(*(behind.get(i, set()) for i in node.inputs)) if node.inputs else set()
        out.append(deps)
        for o in node.outputs:
            behind[o] = deps
    return out
