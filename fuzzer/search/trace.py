"""One pass over the graph: every node's inputs and outputs, which of them are clean, and their Needs.

A tensor is clean when it and everything it was computed from is finite. Only nodes with clean
inputs are judged: a NaN downstream of a Log is the Log's fault, reported once, there. That also
keeps NaN out of the backward pass, since a judged node's ancestors are all finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from fuzzer.graph.model import Graph, Node
from fuzzer.graph.torch_module import widen
from fuzzer.search.exact import IDENTITY_ON_ONE, MOVING, exact_outputs
from fuzzer.search.losses import Need, OpView, needs_of
from fuzzer.search.proxy import runner
from fuzzer.spec.dtypes import DType
from fuzzer.spec.families import Unary
from fuzzer.spec.registry import get


@dataclass
class Judged:
    """The Needs of one node (index into graph.nodes) whose inputs were clean."""

    index: int
    needs: list[Need]

    def violated(self) -> list[tuple[Need, int]]:
        """Needs with elements below their margin, with the number of such elements."""
        out = []
        for n in self.needs:
            count = int(n.violated().sum())
            if count:
                out.append((n, count))
        return out


@dataclass
class Trace:
    """A forward pass: all tensor values and the judged nodes, in topological order."""

    env: dict[str, torch.Tensor]
    raised: dict[int, str] = field(default_factory=dict)  # nodes whose op raised, see `run`
    judged: list[Judged] = field(default_factory=list)
    unjudged: int = 0  # nodes with a non-finite input (downstream of a violation)
    hidden: int = 0  # violated elements of those nodes where their inputs are finite (see _hidden)
    hidden_needs: list[tuple[int, Need]] = field(default_factory=list)  # their violated needs, by node

    def violations(self) -> list[tuple[int, Need, int]]:
        """(node index, need, violating elements) for every violated need."""
        return [(j.index, n, c) for j in self.judged for n, c in j.violated()]

    def penalty(self, skip: frozenset[int] = frozenset()) -> torch.Tensor:
        """The summed hinge penalties of the needs short of their search margins (but those of the
        nodes in `skip`).

        Satisfied needs are left out entirely rather than added as zeros: a zero gradient that meets
        an infinite local derivative on its way back (Sqrt at 0) would turn into NaN.
        """
        terms = [p for j in self.judged if j.index not in skip for n in j.needs if (p := n.penalty()).detach() > 0]
        return torch.stack(terms).sum() if terms else torch.zeros((), dtype=torch.float64)

    def violation_penalty(self, skip: frozenset[int] = frozenset()) -> torch.Tensor:
        """The penalty of the violated elements alone (what the check objects to)."""
        terms = [
            p
            for j in self.judged
            if j.index not in skip
            for n, _ in j.violated()
            if (p := n.penalty(violated_only=True)).detach() > 0
        ]
        return torch.stack(terms).sum() if terms else torch.zeros((), dtype=torch.float64)


def finite(t: torch.Tensor) -> bool:
    return not t.dtype.is_floating_point or bool(torch.isfinite(t).all())


def run(graph: Graph, leaves: dict[str, torch.Tensor], *, proxy: bool) -> Trace:
    """Run the graph from leaf values in their real dtypes, then judge it.

    With `proxy`, flat ops pass a straight-through gradient (same values, see `proxy`); without, this
    is fuzzer.graph.torch_run's loop. An op that raises (torch raises for an integer division by
    zero) is a violation of its own, and its outputs are zeros that nothing downstream is judged on.
    """
    return judge(graph, *forward(graph, leaves, proxy=proxy))


def forward(graph: Graph, leaves: dict[str, torch.Tensor], *, proxy: bool) -> tuple[dict, dict[int, str]]:
    """`run`'s pass without the judging: every tensor's value, and the nodes whose op raised."""
    env = dict(leaves)
    raised: dict[int, str] = {}
    for i, node in enumerate(graph.nodes):
        try:
            ys = runner(get(node.op), node.attrs, proxy=proxy)([env[n] for n in node.inputs], node.attrs)
        except (RuntimeError, ValueError, ZeroDivisionError) as e:
            raised[i] = f"raised {type(e).__name__}: {str(e).splitlines()[0][:80]}"
            ys = [torch.zeros(shape_of(graph, o), dtype=graph.tensors[o].ttype.dtype.torch) for o in node.outputs]
        for y in ys:
            if y.requires_grad:
                y.register_hook(finite_grad)
        env.update(zip(node.outputs, ys))
    return env, raised


def shape_of(graph: Graph, name: str) -> tuple[int, ...]:
    return tuple(int(s) for s in graph.tensors[name].ttype.shape)


def finite_grad(g: torch.Tensor | None) -> torch.Tensor | None:
    """Gradient hook: an element at a singular point gets a finite gradient, rather than an infinite
    one that the next mixing op (a MatMul, a sum) would spread as NaN to every element.

    An infinite gradient keeps its sign (as the dtype's largest value): the optimiser goes by signs,
    and at Asin's or Acosh's end of the domain, where the derivative is infinite, the sign is what
    leads back inside (Asin(Asin(x)) with the inner x saturated at 1). Rejected: zeroing it, which
    left such elements stuck. An undefined gradient (NaN, Sqrt at 0 times 0) gets none.
    """
    if g is None:
        return None
    big = torch.finfo(g.dtype).max if g.dtype.is_floating_point else 0.0
    return torch.nan_to_num(g, nan=0.0, posinf=big, neginf=-big)


def _hidden(view: OpView) -> list[Need]:
    """The violated needs of a node with a non-finite input, judged on the rest (NaN gaps do not
    count): what a redraw that let one element upstream overflow would hide. Without gradient, as
    NaN would leak into the backward pass; for counting and blame only (see descent._Search._elitist)."""
    with torch.no_grad():
        view.xs, view.ys = [x.detach() for x in view.xs], [y.detach() for y in view.ys]
        return [n for n in needs_of(view) if bool(n.violated().any())]


def judge(graph: Graph, env: dict[str, torch.Tensor], raised: dict[int, str] | None = None) -> Trace:
    """The Needs of every node whose inputs are clean, given all tensor values.

    `raised` maps the index of a node whose op raised to the message; such a node is judged on its
    inputs, and gets a violation of its own only when its loss finds none (the loss's is the more
    precise one: which elements of the divisor are zero).
    """
    raised = raised or {}
    leaves = graph.inputs + graph.weights
    clean = {n: finite(env[n]) for n in leaves}
    source = {n: frozenset({n}) for n in leaves}
    wide, exact = Wide(graph, env), Exactness(graph, env)
    trace = Trace(env, raised)
    for i, node in enumerate(graph.nodes):
        xs, ys = [env[n] for n in node.inputs], [env[n] for n in node.outputs]
        dts = [[graph.tensors[n].ttype.dtype for n in names] for names in (node.inputs, node.outputs)]
        sources = [source.get(n, frozenset({n})) for n in node.inputs]
        source.update(zip(node.outputs, copied_from(node, sources, dts)))
        view = OpView(node, xs, ys, dts[0], dts[1], exact.of(node), sources, wide.of(node))
        ok = all(clean[n] for n in node.inputs)
        for o in node.outputs:
            clean[o] = ok and finite(env[o]) and i not in raised
        if not ok:
            trace.unjudged += 1
            hidden = _hidden(view)
            trace.hidden += sum(int(n.violated().sum()) for n in hidden)
            trace.hidden_needs += [(i, n) for n in hidden]
            continue
        judged = Judged(i, needs_of(view))
        if i in raised and not judged.violated():
            judged.needs.append(Need(raised[i], node.outputs[0], torch.full((), -1.0, dtype=torch.float64)))
        trace.judged.append(judged)
    return trace


class Exactness:
    """The exactness mask of every tensor (see fuzzer.search.exact), computed when a loss first asks
    for one, with those of the tensors it derives from: most nodes have no knife edge to waive, and
    what they compute need not be known exact."""

    def __init__(self, graph: Graph, env: dict[str, torch.Tensor]) -> None:
        self.graph, self.env = graph, env
        self.masks = {n: torch.ones((), dtype=torch.bool) for n in graph.inputs + graph.weights}
        self.made_by: dict[str, Node] = {}

    def of(self, node: Node) -> _Inputs:
        """The masks of `node`'s inputs, as a sequence computed on access (for OpView.exact)."""
        return _Inputs(self, node.inputs)

    def tensor(self, name: str) -> torch.Tensor:
        if name not in self.masks:
            made_by = self.made_by = self.made_by or {o: n for n in self.graph.nodes for o in n.outputs}
            todo = [name]  # depth first, without recursion: a chain of 500 nodes is allowed
            while todo:
                node = made_by[todo[-1]]
                missing = [n for n in node.inputs if n not in self.masks]
                if missing:
                    todo += missing
                    continue
                todo.pop()
                if node.outputs[0] not in self.masks:
                    self._compute(node)
        return self.masks[name]

    def _compute(self, node: Node) -> None:
        names = (node.inputs, node.outputs)
        xs, ys = ([self.env[n].detach() for n in ns] for ns in names)
        dts = [[self.graph.tensors[n].ttype.dtype for n in ns] for ns in names]
        with torch.no_grad():
            masks = exact_outputs(node, xs, ys, [self.masks[n] for n in node.inputs], dts)
        self.masks.update(zip(node.outputs, masks))


class _Inputs(Sequence):
    """Exactness masks of some tensors, computed on access (see Exactness)."""

    def __init__(self, exact: Exactness, names: list[str]) -> None:
        self.exact, self.names = exact, names

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, k: int) -> torch.Tensor:  # losses index by input position only
        return self.exact.tensor(self.names[k])


class Wide:
    """Every tensor computed in float64 from the leaves of `env` (the float64 reference's
    arithmetic, see fuzzer.graph.torch_module), run only when a loss first asks.

    Values equal in the graph's dtypes but not in float64 are equal by rounding alone, so a
    knife edge; equal in both, they are copies of one value (a Tile, a Relu's 0). See losses.ties.
    """

    def __init__(self, graph: Graph, env: dict[str, torch.Tensor]) -> None:
        self.graph, self.env = graph, env
        self.values: dict[str, torch.Tensor] | None = None

    def of(self, node: Node):
        """Input k of `node` in float64 (a callable on k, for OpView.wide)."""
        return lambda k: self.tensor(node.inputs[k])

    def tensor(self, name: str) -> torch.Tensor:
        if self.values is None:
            self.values = self._run()
        return self.values[name]

    def _run(self) -> dict[str, torch.Tensor]:
        leaves = self.graph.inputs + self.graph.weights
        out = {n: widen(self.env[n].detach()) for n in leaves}
        with torch.no_grad():
            for node in self.graph.nodes:
                try:
                    ys = get(node.op).torch([out[n] for n in node.inputs], node.attrs)
                except (RuntimeError, ValueError, ZeroDivisionError):  # judged elsewhere; equal to nothing
                    ys = [torch.full_like(self.env[o], math.nan, dtype=torch.float64) for o in node.outputs]
                out.update(zip(node.outputs, (widen(y) for y in ys)))
        return out


# ops whose output elements are copies of their inputs' (those of the output's dtype): the ops that
# move values (exact.MOVING: layout, indexing, Concat, Where, max pools) and the other selections
CHOOSING = MOVING | {"ReduceMin", "TopK", "Max", "Min"}
# elementwise ops that return some elements unchanged (Relu and Clip inside their range, Abs of x >= 0,
# Elu and Celu of x > 0)
PASSING = frozenset({"Relu", "Clip", "Abs", "ThresholdedRelu", "LeakyRelu", "PRelu", "Shrink", "Elu", "Celu"})
# scatters whose outputs are copies of the data or of the updates unless they reduce by arithmetic
SCATTERS = frozenset({"ScatterND", "ScatterElements"})


def _selects(node: Node) -> bool:
    return node.attrs.get("reduction") in (None, "none", "min", "max")


def copied_from(node: Node, sources: list[frozenset], dts: list[list[DType]]) -> list[frozenset]:
    """What each output of `node` may be an elementwise copy of (a set of sources): any input's of the
    output's dtype (`dts`: input and output dtypes) through choosing ops, also its own for ops that pass some
    elements unchanged, the same deterministic function of each through unary elementwise ops (Exp of a
    Transpose of x copies Exp of x), else only itself. Two tensors whose sources meet may hold exactly
    equal values in every backend; others only by chance (see losses.edges.compare)."""
    spec = get(node.op)
    own = [frozenset({o}) for o in node.outputs]
    op = spec.op_type
    if op in CHOOSING or (op in IDENTITY_ON_ONE and len(node.inputs) == 1) or (op in SCATTERS and _selects(node)):
        data = [src for src, dt in zip(sources, dts[0]) if dt == dts[1][0]]
        return [frozenset().union(*data)] * len(node.outputs)
    if op in PASSING:
        return [own[0] | sources[0]]
    if isinstance(spec, Unary) and len(node.inputs) == 1:
        attrs = tuple(sorted((k, repr(v)) for k, v in node.attrs.items()))
        return [frozenset((node.op, attrs, src) for src in sources[0])]
    return own
