"""Grow a random valid graph one operator at a time, solving each insertion with Z3.

Existing tensors have concrete shapes; an insertion's unknowns are the new operator's symbolic
attributes and the dims of the new leaves it creates. Its constraints are checked as assumptions
in a fresh small solver (see `solve`), and the insertion is committed only when satisfiable, so
the graph is valid after every step. Forward insertion consumes existing tensors; backward
insertion replaces a leaf (an input or weight placeholder) by an operator producing exactly its
type, whose operands are new leaves or existing tensors.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field

import numpy as np
import z3

from fuzzer.generate.config import GenConfig
from fuzzer.generate.solve import Solution, SolveStats, solve
from fuzzer.generate.values import ValueFacts
from fuzzer.graph.feasibility import OPEN_POSITIVE, Requirement, input_requirement
from fuzzer.graph.model import Graph, Node, Tensor
from fuzzer.spec import registry
from fuzzer.spec.base import DEFAULT_DOMAIN, Domain, OpSpec, SpecError, TType
from fuzzer.spec.draw import Draw, log_int
from fuzzer.spec.dtypes import DType
from fuzzer.spec.expr import Expr, Undefined, Var, evaluate
from fuzzer.spec.sym import prod

# How often an op input with a requirement (Log's x > 0, a divisor's x != 0, ...) reads only a tensor
# whose every value meets it, when there is one: a leaf (narrowed to the input's domain) or a
# computed tensor whose range lies inside (a Sigmoid into Log, an Exp as a divisor). The rest of the
# time any tensor that can meet it is read (a MatMul into Log), which the input search then has to
# steer. Always taking the safe one was rejected: those op pairs are worth fuzzing too; never taking
# it left the search a fifth more models it could not clean at 30 nodes. The same share of backward
# insertions that make such a reader's leaf a tensor not inside its requirement is taken back.
SAFE_P = 0.8


@dataclass
class GenStats:
    attempts: int = 0
    committed: int = 0
    forward: int = 0
    backward: int = 0
    solver: SolveStats = field(default_factory=SolveStats)
    out_of_domain: int = 0  # insertions taken back: some op would be fed values outside its domain


@dataclass
class _Plan:
    """An insertion under construction. `aligned`: new leaf dims (Z3 var id) -> the dim they line up with."""

    spec: OpSpec
    d: Draw
    ins: list[TType] = field(default_factory=list)
    names: list[str | None] = field(default_factory=list)  # None = new leaf
    roles: list[str] = field(default_factory=list)  # role of each new leaf
    binding: dict[str, DType] = field(default_factory=dict)
    aligned: dict[int, int] = field(default_factory=dict)
    below: set[str] = field(default_factory=set)  # backward: the target and the tensors computed from it

    def leaf_shape(self, k: int, rank: int, ref: tuple, prefer) -> tuple:
        """Symbolic dims of a new leaf for input k; `prefer(i)` gives each dim's preferred value."""
        dims = []
        for i in range(rank):
            v = self.d.dim(f"in{k}", prefer=prefer(i))
            j = len(ref) - rank + i
            self.aligned[v.uid] = ref[j] if 0 <= j < len(ref) and isinstance(ref[j], int) else 1
            dims.append(v)
        return tuple(dims)


@functools.lru_cache(maxsize=64)
def _usable_specs(cfg: GenConfig) -> tuple[list[OpSpec], list[OpSpec]]:
    """The specs this configuration can insert (forward, and backward), computed once per config."""

    def usable(s: OpSpec) -> bool:
        if not s.inputs:
            return bool(s.backward)
        return bool(s.type_set(s.input_tvar(0, cfg.opset), cfg.opset) & cfg.dtypes)

    specs = [s for s in registry.select(cfg.opset, ops=list(cfg.ops), exclude=list(cfg.exclude_ops)) if usable(s)]
    if not specs:
        raise ValueError("no operator is usable with this configuration (ops, exclude_ops, dtypes, opset)")
    return specs, [s for s in specs if s.backward]


class Generator:
    """Generates one graph per call of `generate` from (seed, config); see module docstring."""

    def __init__(self, config: GenConfig, seed: int):
        self.cfg = config
        self.seed = seed
        self.rng = random.Random(seed)
        self.specs, self.backward_specs = _usable_specs(config)
        self.stats = GenStats()
        self.graph = Graph(opset=config.opset)
        self.values = ValueFacts(self.graph)
        # Z3's results depend on the terms its context has seen: a context of our own per model (made on
        # the first solver call) makes a model independent of whatever was generated before it
        self._ctx: z3.Context | None = None
        self._n = 0

    # --- public -------------------------------------------------------------------------
    def generate(self) -> Graph:
        self._add_leaf(self._initial_type(), "input")
        budget = self.cfg.max_nodes * self.cfg.tries_per_node
        while len(self.graph.nodes) < self.cfg.max_nodes and budget > 0:
            budget -= 1
            self.stats.attempts += 1
            forward = not self.backward_specs or self.rng.random() < self.cfg.forward_p
            if self._insert(forward):
                self.stats.committed += 1
                if forward:
                    self.stats.forward += 1
                else:
                    self.stats.backward += 1
        self._finish()
        return self.graph

    # --- setup --------------------------------------------------------------------------

    def _initial_type(self) -> TType:
        """A first graph input that some enabled operator accepts (picked through a random op)."""
        spec = self.rng.choice([s for s in self.specs if s.inputs] or self.specs)
        dtypes = sorted(self.cfg.dtypes, key=lambda d: d.name)
        if spec.inputs:
            dtypes = (
                sorted(
                    spec.type_set(spec.input_tvar(0, self.cfg.opset), self.cfg.opset) & self.cfg.dtypes,
                    key=lambda d: d.name,
                )
                or dtypes
            )
        dt = DType.float32 if DType.float32 in dtypes and self.rng.random() < 0.4 else self.rng.choice(dtypes)
        ranks = spec.ranks_of(0) if spec.inputs else None
        max_rank = min(self.cfg.max_rank, spec.max_rank or self.cfg.max_rank)
        if ranks:
            rank = self.rng.choice([r for r in ranks if r <= self.cfg.max_rank] or list(ranks))
        else:
            rank = min(max(self.rng.choice([0, 1, 2, 3, 3, 4, 4, 4, 5]), spec.min_rank), max_rank)
        return TType(dt, self._concrete_shape(rank))

    def _concrete_shape(self, rank: int) -> tuple[int, ...]:
        budget = self.cfg.max_elems
        dims = []
        for i in range(rank):
            cap = max(1, min(self.cfg.max_dim, int(budget ** (1 / (rank - i)))))
            v = log_int(self.rng, 1, cap, edge_p=0.25)
            dims.append(v)
            budget = max(1, budget // v)
        return tuple(dims)

    def _name(self) -> str:
        self._n += 1
        return f"t{self._n}"

    def _add_leaf(self, tt: TType, role: str, domain=None) -> str:
        name = self._name()
        kw = {"domain": domain} if domain is not None else {}
        self.graph.tensors[name] = Tensor(name, tt, role, **kw)
        return name

    # --- insertion ----------------------------------------------------------------------
    def _draw(self, spec: OpSpec, target: TType | None = None) -> Draw:
        prefix = f"n{len(self.graph.nodes)}"
        cfg = self.cfg
        return Draw(self.rng, cfg.opset, prefix, cfg.max_dim, cfg.max_elems, cfg.max_rank, target)

    def _insert(self, forward: bool) -> bool:
        try:
            if forward:
                return self._forward(self.rng.choice(self.specs))
            return self._backward(self.rng.choice(self.backward_specs))
        except SpecError:
            return False

    def _allowed(self, spec: OpSpec, k: int, tt: TType) -> bool:
        ranks = spec.ranks_of(k)
        max_rank = spec.max_rank if spec.max_rank is not None else self.cfg.max_rank
        if ranks is None:
            return spec.min_rank <= tt.rank <= max_rank
        return tt.rank in ranks

    def _types(self, spec: OpSpec, k: int, plan: _Plan) -> list[DType]:
        tv = spec.input_tvar(k, self.cfg.opset)
        if tv in plan.binding:
            return [plan.binding[tv]]
        allowed = spec.type_set(tv, self.cfg.opset)
        ok = sorted(allowed & self.cfg.dtypes, key=lambda d: d.name)
        return ok or sorted(allowed, key=lambda d: d.name)  # e.g. int64 indices even if not asked for

    def _n_inputs(self, spec: OpSpec) -> int:
        return self.rng.randint(*spec.arity) if spec.arity else len(spec.inputs)

    def _forward(self, spec: OpSpec) -> bool:
        if not spec.inputs:
            return False
        plan = _Plan(spec, self._draw(spec))
        n_in = self._n_inputs(spec)
        for k in range(n_in):
            dtypes = self._types(spec, k, plan)
            tv = spec.input_tvar(k, self.cfg.opset)
            existing = [
                n for n, t in self.graph.tensors.items() if t.ttype.dtype in dtypes and self._allowed(spec, k, t.ttype)
            ]
            role = spec.input_at(k).role
            if k == 0 or (role == "data" and existing and self.rng.random() < 0.3):
                name = self._pick_in_domain(spec, k, existing)
                if name is None:
                    return False
                plan.names.append(name)
                plan.ins.append(self.graph.tensors[name].ttype)
                plan.roles.append("")
            else:
                dt = self.rng.choice(dtypes)
                rank = spec.leaf_rank(k, plan.ins, plan.d)
                ref = plan.ins[0].shape
                shape = plan.leaf_shape(k, rank, ref, lambda i, ref=ref, rank=rank: self._aligned(ref, rank, i))
                plan.names.append(None)
                plan.ins.append(TType(dt, shape))
                plan.roles.append("weight" if role == "weight" else self._leaf_role())
            plan.binding.setdefault(tv, plan.ins[-1].dtype)
        return self._commit(plan, target=None)

    def _backward(self, spec: OpSpec) -> bool:
        leaves = [n for n, t in self.graph.tensors.items() if t.role in ("input", "weight")]
        if not leaves:
            return False
        weights = [n for n in leaves if self.graph.tensors[n].role == "weight"]
        # producing a weight from weights makes an all-constant subexpression (constant folding paths)
        target = self.rng.choice(weights if weights and self.rng.random() < 0.4 else leaves)
        tt = self.graph.tensors[target].ttype
        out_tv = spec.output_tvars(self.cfg.opset)[0]
        if tt.dtype not in spec.type_set(out_tv, self.cfg.opset):
            return False
        plan = _Plan(spec, self._draw(spec, tt), binding={out_tv: tt.dtype})
        n_in = self._n_inputs(spec) if spec.inputs else 0
        ranks = spec.backward_ranks(tt.rank, n_in, plan.d)
        if ranks is None:
            return False
        if n_in == 0 and self.graph.tensors[target].role == "input" and len(self.graph.inputs) == 1:
            return False  # keep at least one graph input
        below = plan.below = self._descendants(target)
        role = self.graph.tensors[target].role
        for k in range(n_in):
            dtypes = self._types(spec, k, plan)
            tv = spec.input_tvar(k, self.cfg.opset)
            reuse = [
                n
                for n, t in self.graph.tensors.items()
                if t.ttype.dtype in dtypes and t.ttype.rank == ranks[k] and n not in below and n != target
            ]
            pick = spec.input_at(k).role == "data" and reuse and self.rng.random() < 0.25
            name = self._pick_in_domain(spec, k, reuse) if pick else None
            if name is not None:
                plan.names.append(name)
                plan.ins.append(self.graph.tensors[name].ttype)
                plan.roles.append("")
            else:
                r = ranks[k]
                shape = plan.leaf_shape(k, r, tt.shape, lambda i, r=r: self._aligned(tt.shape, r, i))
                plan.names.append(None)
                plan.ins.append(TType(self.rng.choice(dtypes), shape))
                plan.roles.append("weight" if spec.input_at(k).role == "weight" else role)
            plan.binding.setdefault(tv, plan.ins[-1].dtype)
        return self._commit(plan, target=target)

    def _constraints(self, plan: _Plan, ins: list[TType], a: dict, target: str | None):
        """Output shapes, dtypes and every validity condition of the insertion, or None if impossible."""
        spec, cfg = plan.spec, self.cfg
        outs = spec.infer(ins, a)
        out_dtypes = spec.out_dtypes(ins, a, plan.binding, cfg.opset)
        if any(dt not in cfg.dtypes and dt not in (DType.int64, DType.bool) for dt in out_dtypes):
            return None
        conds = list(spec.requires(ins, a))
        for shape in outs:
            conds += [x >= 1 for x in shape] + [x <= cfg.max_elems for x in shape]
        if target is not None:
            want = self.graph.tensors[target].ttype
            if len(outs[0]) != want.rank or out_dtypes[0] != want.dtype:
                return None
            conds += [x == y for x, y in zip(outs[0], want.shape)]
        return outs, out_dtypes, conds

    def _preferred(self, plan: _Plan, a: dict, target: str | None, override: dict | None = None):
        """The insertion with every symbolic int at its preferred value, if that is already valid.

        Evaluating the spec's rules on plain ints is much cheaper than a solver call, and the
        preferred values are the random draws we want anyway; Z3 is asked only when they conflict.
        """
        prefs = {v.var.uid: v.prefer for v in plan.d.vars}
        prefs.update(override or {})
        sub = Solution(prefs)
        try:
            ins = [TType(t.dtype, sub(t.shape)) for t in plan.ins]
            a_c = {k: sub(v) for k, v in a.items()}
            got = self._constraints(plan, ins, a_c, target)
        except (KeyError, Undefined):  # a variable of no insertion, or a division by zero at these values
            return None
        if got is None or not all(c is True for c in got[2]):
            return None
        outs, out_dtypes, _ = got
        return ins, [TType(dt, tuple(s)) for dt, s in zip(out_dtypes, outs)], a_c

    def _commit(self, plan: _Plan, target: str | None) -> bool:
        spec, d, cfg = plan.spec, plan.d, self.cfg
        a = spec.attrs(d, plan.ins)
        fast = self._preferred(plan, a, target) if d.vars else None
        if fast is None and plan.aligned:
            # second cheap try: every new leaf dim equal to the dim it lines up with (what shape-preserving
            # and broadcasting ops need); only then ask Z3
            fast = self._preferred(plan, a, target, override=plan.aligned)
        if fast is not None:
            ins, out_types, a = fast
        else:
            got = self._constraints(plan, plan.ins, a, target)
            if got is None:
                return False
            outs, out_dtypes, conds = got
            sol = _propagated(conds, d.vars)
            if sol is None:
                sol = solve(
                    conds, d.vars, self.rng, context=self._context, budget=cfg.solver_budget, stats=self.stats.solver
                )
            if sol is None:
                return False
            ins = [TType(t.dtype, tuple(sol(list(t.shape)))) for t in plan.ins]
            out_types = [TType(dt, tuple(sol(list(s)))) for dt, s in zip(out_dtypes, outs)]
            a = {k: sol(v) for k, v in a.items()}
        new_elems = sum(prod(t.shape) for t in out_types) + sum(
            prod(t.shape) for t, n in zip(ins, plan.names) if n is None
        )
        if any(prod(t.shape) > cfg.max_elems for t in out_types + ins):
            return False
        if self._total_elems() + new_elems > cfg.max_total_elems:
            return False
        narrowed = self._narrowings(plan)
        if narrowed is None:
            return False
        if type(spec).finalize is not OpSpec.finalize:  # a numpy Generator costs ~40 us: only when used
            a = spec.finalize(self._np_rng(), ins, a)
        return self._apply(plan, ins, out_types, a, target, narrowed)

    def _apply(self, plan: _Plan, ins: list[TType], out_types: list[TType], a: dict, target, narrowed) -> bool:
        """Add the node, then keep it only if every restricted input can still be met (see `values`)."""
        spec, g, n0 = plan.spec, self.graph, self._n
        old_domains = {n: g.tensors[n].domain for n in narrowed}
        old_role = g.tensors[target].role if target is not None else ""
        names = []
        for k, (n, t) in enumerate(zip(plan.names, ins)):
            if n is None:
                n = self._add_leaf(t, plan.roles[k], spec.input_at(k).domain)
            names.append(n)
        out_names = []
        for i, t in enumerate(out_types):
            if i == 0 and target is not None:
                g.tensors[target].role = "node"
                out_names.append(target)
            else:
                name = self._name()
                g.tensors[name] = Tensor(name, t, "node")
                out_names.append(name)
        for n, dom in narrowed.items():
            g.tensors[n].domain = dom
        node = Node(spec.name(), names, out_names, a)
        g.nodes.append(node)
        self.values.added(node)
        if target is not None:
            self._narrow_new_leaf(target, [n for n, old in zip(names, plan.names) if old is None])
        # values change below a narrowed leaf (rare: recheck everything) and below a backward target
        changed = None if narrowed else plan.below
        self.values.changed(changed)
        fits = self.values.all_fit(None if changed is None else [*node.inputs, *changed])
        fits = fits and all(self.values.finite(n) for n in [*node.outputs, *(changed or ())])
        risky = fits and target is not None and not self.values.readers_within(target)
        if risky and not self.values.readers_plausible(target):
            fits = None  # not a risk but a near certainty: taken back always
        if fits and not (risky and self.rng.random() < SAFE_P):
            return True
        # take it back: values outside some op's domain whatever the leaves are (or, by choice, a
        # leaf that met its readers' requirements replaced by a tensor that may not: see SAFE_P)
        self.stats.out_of_domain += fits is False
        self.values.removed(node)
        g.nodes.pop()
        new = {n for n in names + out_names if n not in plan.names and n != target}
        for n in new:
            del g.tensors[n]
        for n, dom in old_domains.items():
            g.tensors[n].domain = dom
        if target is not None:
            g.tensors[target].role = old_role
        # the names are given out again: what was learnt of them must go too
        self.values.changed(None if changed is None else changed | new)
        self._n = n0
        return False

    # --- helpers ------------------------------------------------------------------------
    def _narrow_new_leaf(self, target: str, new: list[str]) -> None:
        """After a backward insertion through monotone or layout ops only (Cosh in front of an Acosh's
        leaf), the new leaf's domain: the values that keep the target in its old domain."""
        dom = self.graph.tensors[target].domain
        got = self.values.pullback(target, (dom.lo, dom.hi)) if dom != DEFAULT_DOMAIN else None
        if got is None or got[0] not in new:
            return
        leaf, (lo, hi) = got
        cur = self.graph.tensors[leaf].domain
        if max(cur.lo, lo) < min(cur.hi, hi):
            self.graph.tensors[leaf].domain = cur.meet(Domain(lo, hi))
        self.values.changed({leaf})

    def _pull_back(self, name: str, want: Domain, out: dict[str, Domain]) -> None:
        """Narrow the leaf behind computed tensor `name` (see ValueFacts.pullback) so that `name`
        lies in `want`, as a leaf read directly would be; nothing if it cannot or is already there."""
        got = self.values.pullback(name, (want.lo, want.hi))
        if got is None:
            return
        leaf, (lo, hi) = got
        cur = out.get(leaf, self.graph.tensors[leaf].domain)
        if max(cur.lo, lo) < min(cur.hi, hi):
            met = cur.meet(Domain(lo, hi))
            if met != self.graph.tensors[leaf].domain:
                out[leaf] = met

    def _pick_in_domain(self, spec: OpSpec, k: int, names: list[str]) -> str | None:
        """One of `names` (see `_pick_existing`) whose values can meet input k's requirement and its
        other readers'; None if none can. Mostly (SAFE_P) one whose values all meet it, if any does.
        Candidates are judged one at a time, as drawn, since a judgement may run the op (see
        fuzzer.graph.zeros)."""
        req = input_requirement(spec.name(), k)
        names = list(names)
        prefer = req or _preference(spec, k)
        if prefer is not None:
            # an int base of Pow has no requirement: only float candidates are judged by the preference
            free = (lambda n: False) if req else (lambda n: not self.graph.tensors[n].ttype.dtype.is_float)
            if self.rng.random() < SAFE_P:
                names = [n for n in names if free(n) or self.values.within(n, prefer)] or names
            names = [n for n in names if free(n) or self.values.plausible(n, prefer)]
        while names:
            name = self._pick_existing(names)
            if req is None or self.values.fits(name, req):
                return name
            names.remove(name)
        return None

    def _narrowings(self, plan: _Plan) -> dict[str, Domain] | None:
        """New domains of the existing leaves the plan reads (met with the inputs' domains); None if
        some meet is empty (the leaf's other readers ask for values this input cannot take)."""
        out: dict[str, Domain] = {}
        for k, n in enumerate(plan.names):
            t = self.graph.tensors[n] if n is not None else None
            want = plan.spec.input_at(k).domain
            if t is not None and t.role == "node" and want != DEFAULT_DOMAIN:
                self._pull_back(n, want, out)
            if t is None or t.role == "node":
                continue
            cur = out.get(n, t.domain)
            if max(cur.lo, want.lo) >= min(cur.hi, want.hi):
                return None
            met = cur.meet(want)
            if met != t.domain:
                out[n] = met
        return out

    def _pick_existing(self, names: list[str]) -> str:
        # favour recent tensors so graphs grow deep, but keep every tensor reachable
        if self.rng.random() < 0.5:
            return names[-1 - min(len(names) - 1, int(self.rng.expovariate(0.7)))]
        return self.rng.choice(names)

    def _aligned(self, ref: tuple, rank: int, i: int) -> int | None:
        """Preferred value of dim i of a new leaf: the right-aligned dim of `ref`, often."""
        j = len(ref) - rank + i
        if 0 <= j < len(ref) and isinstance(ref[j], int) and self.rng.random() < 0.85:
            return 1 if self.rng.random() < 0.1 else ref[j]
        return None

    def _leaf_role(self) -> str:
        return "weight" if self.rng.random() < 0.35 else "input"

    def _descendants(self, name: str) -> set[str]:
        out = {name}
        # insertion order is not topological after backward steps, so iterate to a fixed point
        changed = True
        while changed:
            changed = False
            for node in self.graph.nodes:
                if any(i in out for i in node.inputs) and not all(o in out for o in node.outputs):
                    out.update(node.outputs)
                    changed = True
        return out

    def _total_elems(self) -> int:
        return sum(prod(t.ttype.shape) for t in self.graph.tensors.values())

    def _context(self) -> z3.Context:
        if self._ctx is None:
            self._ctx = z3.Context()
        return self._ctx

    def _np_rng(self) -> np.random.Generator:
        return np.random.default_rng(self.rng.getrandbits(63))

    # --- finishing ----------------------------------------------------------------------
    def _finish(self) -> None:
        g = self.graph
        g.toposort()
        consumers = g.consumers()
        for name, t in list(g.tensors.items()):
            if t.role != "node" and not consumers[name]:
                del g.tensors[name]  # a leaf nothing reads (its producer was never made)
        outs = [n for n, t in g.tensors.items() if t.role == "node" and not consumers[n]]
        outs += [
            n
            for n, t in g.tensors.items()
            if t.role == "node" and consumers[n] and self.rng.random() < self.cfg.output_p
        ]
        order = {n: i for i, n in enumerate(g.tensors)}
        g.outputs = sorted(set(outs), key=order.__getitem__)
        if not g.inputs:
            weights = g.weights
            if weights:
                g.tensors[weights[0]].role = "input"
        rng = self._np_rng()
        for n in g.weights:
            g.values[n] = leaf_values(rng, g.tensors[n])


def _propagated(conds: list, syms) -> Solution | None:
    """Third cheap try: adopt the values equalities force (x == 5, x == y), then check every rule.

    Backward insertions (an output dim must equal the target's) and channel counts (a weight dim
    must equal C) are mostly such equalities. The adopted values also become the solver's
    preferences if this try fails, so Z3 starts from a nearly consistent point.
    """
    if any(c is False for c in conds):
        return None
    prefs = {sv.var.uid: sv.prefer for sv in syms}
    ranges = {sv.var.uid: (sv.lo, sv.hi) for sv in syms}
    changed = False
    for _ in range(2):
        for c in conds:
            if not isinstance(c, Expr) or c.op != "==":
                continue
            for x, other in (c.args, c.args[::-1]):
                if isinstance(x, Var) and x.uid in prefs:
                    try:
                        v = evaluate(other, prefs)
                    except (KeyError, Undefined):
                        continue
                    lo, hi = ranges[x.uid]
                    if isinstance(v, int) and lo <= v <= hi and prefs[x.uid] != v:
                        prefs[x.uid] = v
                        changed = True
                    break
    if not changed:
        return None
    for sv in syms:
        sv.prefer = prefs[sv.var.uid]
    try:
        ok = all(c is True or (isinstance(c, Expr) and evaluate(c, prefs) is True) for c in conds)
    except (KeyError, Undefined):
        return None
    return Solution(prefs) if ok else None


def _preference(spec: OpSpec, k: int) -> Requirement | None:
    """The requirement input k may get once the other inputs are chosen (checked only then): a float
    base of Pow must be positive if the exponent turns out to be a float too."""
    if spec.op_type == "Pow" and k == 0:
        return OPEN_POSITIVE
    return None


def leaf_values(rng: np.random.Generator, t: Tensor) -> np.ndarray:
    """Random values for a leaf within its operator's domain, in its dtype (always an ndarray)."""
    dt, shape = t.ttype.dtype, tuple(t.ttype.shape)
    lo, hi = t.domain.lo, t.domain.hi
    if dt == DType.bool:
        return np.asarray(rng.random(shape) < 0.5)
    if dt.is_int:
        info = np.iinfo(dt.numpy)
        lo_i, hi_i = max(int(np.floor(lo)), info.min), min(int(np.ceil(hi)), info.max)
        return np.asarray(rng.integers(lo_i, hi_i + 1, size=shape), dtype=dt.numpy)
    vals = rng.uniform(lo, hi, size=shape)
    if t.domain.specials and vals.size:
        mask = rng.random(shape) < 0.2
        vals = np.where(mask, rng.choice(np.array(t.domain.specials, dtype=np.float64), size=shape), vals)
    return np.asarray(vals, dtype=dt.numpy)


def generate(config: GenConfig, seed: int) -> tuple[Graph, GenStats]:
    """One graph for (config, seed), with the generator's statistics."""
    g = Generator(config, seed)
    return g.generate(), g.stats
