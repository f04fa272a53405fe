"""Graphs with no clean values at all, proven without running them.

Some graphs are violated for every value of their leaves: Log of a LogSoftmax (always <= 0),
Acosh of a Neg of an Acosh, Atanh of a Cosh (always >= 1), Reciprocal of a Hardmax (which holds
zeros), Acosh of a LayerNormalization (whose outputs straddle 0). The search gives up on those
nodes up front; the generator does not build them (see fuzzer.generate.values).

Three facts per tensor (`Fact`): its range (every value lies in [lo, hi], see `ranges`), witnesses
(some value is <= wlo and some value is >= whi: a softmax over n holds a value <= 1/n, a
normalization without bias one <= 0), and points, exact values it surely holds (a Hardmax holds 0
and 1, a Pad its fill; 0 also by range and witnesses, kept through zero-keeping ops, or where
structure alone leaves one: fuzzer.graph.zeros). Points go through elementwise ops exactly, so
Atanh(Cos(Hardmax(x))) holds atanh(cos(0)) = atanh(1) = inf, which witnesses, lost at Cos (not
monotone), cannot see; judgements count points as witnesses too. An op input with a `Requirement`
(Log's (0, inf), a divisor's "not 0") is infeasible when the range misses it, a witness or point
lies outside it, or a required nonzero holds an exact 0. Sound for the ops with rules; others get
no witnesses, no points and the range (-inf, inf). Every claim holds where the tensor and all above
it are finite (a tensor that is not is no clean value anyway).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from fuzzer.graph.functions import attr32, elementwise, mapped, monotone
from fuzzer.graph.model import Graph, Node
from fuzzer.graph.ranges import LAYOUT, NORMALIZATIONS, Range, group_size, leaf_range, node_range, normalized_count
from fuzzer.graph.zeros import FILLING, KEEPING, Mask, any_zero, bias_only, filled, masks_of, reaches_all, values
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get


@dataclass(frozen=True)
class Requirement:
    """The values an op input must take: [lo, hi] (open at an end if flagged), and not 0 if `nonzero`.

    `nonzero` is also set where 0 lies outside the interval, except for sums (ReduceLogSum of [0, 1]
    is fine), so that a tensor that must hold an exact 0 is caught before its range is. A sum's
    requirement is not `each`: it binds the sums, so one element outside proves nothing (a
    ReduceLogSum of values that hold a 0 is fine); only the range is judged.
    """

    lo: float = -math.inf
    hi: float = math.inf
    open_lo: bool = False
    open_hi: bool = False
    nonzero: bool = False
    each: bool = True


OPEN_POSITIVE = Requirement(0.0, math.inf, True, False, True)
# op type -> (input position, requirement): the domains the search's loss table enforces
DOMAINS: dict[str, tuple[int, Requirement]] = {
    "Log": (0, OPEN_POSITIVE),
    "ReduceLogSum": (0, Requirement(0.0, math.inf, True, each=False)),  # a sum of values <= 0 is <= 0
    "Sqrt": (0, Requirement(0.0, math.inf)),
    "Acos": (0, Requirement(-1.0, 1.0)),
    "Asin": (0, Requirement(-1.0, 1.0)),
    "Atanh": (0, Requirement(-1.0, 1.0, True, True)),
    "Acosh": (0, Requirement(1.0, math.inf, nonzero=True)),
    "Reciprocal": (0, Requirement(nonzero=True)),
    "Div": (1, Requirement(nonzero=True)),
    "Mod": (1, Requirement(nonzero=True)),
}
# a float cast to uint8 is undefined below -1 (truncation to a negative integer)
TO_UINT8 = Requirement(-1.0, 256.0, True, True)
# ops whose outputs hold every input element (so they keep the inputs' witnesses)
KEEPS_ALL = LAYOUT | {"Tile"}
# the largest finite value per float dtype
MAX_FINITE = {DType.float16: 65504.0, DType.bfloat16: 3.3895313892515355e38, DType.float32: 3.4028234663852886e38}
MAX_FINITE[DType.float64] = 1.7976931348623157e308
NONE = (math.inf, -math.inf)  # no witness: "some value <= inf" and "some value >= -inf"


Points = frozenset[float]
# points kept per tensor: the smallest, the largest and 0 first (they are what requirements miss)
MAX_POINTS = 6


@dataclass(frozen=True)
class Fact:
    """What is known of a tensor's values for any leaf values: range, witnesses, points.

    `points` are exact values of the tensor's dtype (as floats) that some element surely equals,
    whatever the leaves (so they lie in the range and are also witnesses); a handful at most.
    """

    range: Range
    witnesses: Range = NONE
    points: Points = frozenset()

    @property
    def zero(self) -> bool:
        """It surely holds an exact 0."""
        return 0.0 in self.points


# --- requirements ----------------------------------------------------------------------------------
def requirements(op: str, in_dtypes: list[DType], out_dtypes: list[DType]) -> dict[int, Requirement]:
    """The requirements of spec `op`'s inputs (by position) for these dtypes."""
    op_type = get(op).op_type
    if op_type in ("Cast", "CastLike"):
        return {0: TO_UINT8} if in_dtypes[0].is_float and out_dtypes[0] == DType.uint8 else {}
    if op_type == "Pow" and len(in_dtypes) > 1 and in_dtypes[0].is_float and in_dtypes[1].is_float:
        return {0: OPEN_POSITIVE}  # a fractional power of a negative is NaN (the loss keeps bases > 0)
    if op_type == "BatchNormalization" and len(in_dtypes) > 4:
        return {4: Requirement(0.0, math.inf)}  # a variance
    if op_type in DOMAINS:
        k, req = DOMAINS[op_type]
        return {k: req}
    return {}


def input_requirement(op: str, k: int) -> Requirement | None:
    """The requirement of spec `op`'s input k that holds for every dtype (None if there is none)."""
    spec = get(op)
    if spec.name() in ("Cast_f2u8", "CastLike_f2u8"):
        return TO_UINT8 if k == 0 else None
    k_req, req = DOMAINS.get(spec.op_type, (None, None))
    return req if k == k_req else None


def node_requirements(node: Node, graph: Graph) -> dict[int, Requirement]:
    dts = [[graph.tensors[n].ttype.dtype for n in names] for names in (node.inputs, node.outputs)]
    reqs = requirements(node.op, *dts)
    if get(node.op).op_type == "ReduceLogSum" and node.attrs.get("_mode") == "noop":
        reqs = {0: OPEN_POSITIVE}  # reduces nothing: an elementwise log, where an exact 0 is a pole
    return reqs


# --- facts -----------------------------------------------------------------------------------------
def leaf_fact(graph: Graph, name: str) -> Fact:
    r = leaf_range(graph, name)
    return settle(graph, name, r, NONE, frozenset())


def node_facts(node: Node, ins: list[Fact], graph: Graph, mask_of: Callable[[str], Mask] | None = None) -> list[Fact]:
    """The facts of `node`'s outputs from its inputs', where an output's 0 is only what its rules,
    range and witnesses show (see `keeps_zero` and fuzzer.graph.zeros for the rest).

    `mask_of(t)`: the structural zeros of input t (fuzzer.graph.zeros), asked only of a biased
    convolution or Gemm, whose outputs that no product reaches are its bias (see `with_bias`).
    """
    rs = node_range(node, [f.range for f in ins], graph)
    ws = node_witnesses(node, [f.witnesses for f in ins], [f.range for f in ins], graph)
    ps = node_points(node, ins, graph)
    out = [settle(graph, o, r, w, p) for o, r, w, p in zip(node.outputs, rs, ws, ps)]
    if mask_of is not None and get(node.op).op_type in BIASED and len(node.inputs) == 3:
        out[0] = with_bias(node, ins, graph, out[0], mask_of)
    return out


def settle(graph: Graph, name: str, r: Range, w: Range, points: Points) -> Fact:
    """The fact of tensor `name`: points kept to MAX_POINTS; 0 added where range, witnesses and
    points show one. An empty tensor holds nothing (an empty Hardmax has no 1)."""
    if not math.prod(int(d) for d in graph.tensors[name].ttype.shape):
        return Fact(r)
    # by witnesses only: a point is what the dtype computed, and may lie an ulp outside a range of
    # real numbers (a point of -1e-8 in a range [0, 1] shows rounding, not an exact 0)
    return Fact(r, w, capped(points) | {0.0} if holds_zero(r, w) else capped(points))


def seen(w: Range, points: Points) -> Range:
    """Witnesses `w` widened by `points` (each point is a value <= and >= itself).

    Kept apart in `Fact` so that witnesses say what their rules say (a OneHot's on value 1.73, where
    its point is float32's 1.7300000190734863); only judgements read both.
    """
    return (min(w[0], *points), max(w[1], *points)) if points else w


def capped(points: Points) -> Points:
    """At most MAX_POINTS of `points`: 0 and the extremes first (dropping a point is always sound)."""
    if len(points) <= MAX_POINTS:
        return points
    s = sorted(points)
    keep = list(dict.fromkeys(v for v in (s[0], s[-1], 0.0) if v in points))
    rest = [v for v in s if v not in keep]
    while len(keep) < MAX_POINTS:  # then alternately from both ends
        keep.append(rest.pop(0 if len(keep) % 2 else -1))
    return frozenset(keep)


def keeps_zero(node: Node, in_zero: Callable[[int], bool]) -> bool:
    """Every output of `node` holds an exact 0 because an input does (`in_zero(k)`: input k holds
    one, wherever it is) and the op keeps it: elementwise ops mapping 0 to 0, layout, Mul, Concat."""
    op = get(node.op).op_type
    if op in KEEPING or op in KEEPS_ALL:
        return in_zero(0)
    return op in ("Mul", "Concat") and any(in_zero(k) for k in range(len(node.inputs)))


def facts(graph: Graph) -> dict[str, Fact]:
    """A fact for every tensor of `graph` (whose nodes are in topological order)."""
    out = {n: leaf_fact(graph, n) for n in graph.inputs + graph.weights}
    producer = {o: n for n in graph.nodes for o in n.outputs}
    memo: dict[str, Mask] = {}

    def mask_of(t: str) -> Mask:
        return masks_of(t, graph, producer.get, memo, lambda u: out[u].range == (0.0, 0.0))

    for node in graph.nodes:
        ins = [out[i] for i in node.inputs]
        fs = node_facts(node, ins, graph, mask_of)
        out.update(zip(node.outputs, fs))
        kept = keeps_zero(node, lambda k: ins[k].zero)  # noqa: B023 (called at once)
        for o, f in zip(node.outputs, fs):
            if not f.zero and (kept or any_zero(mask_of(o))):
                out[o] = settle(graph, o, f.range, f.witnesses, f.points | {0.0})
    return out


def node_witnesses(node: Node, ins: list[Range], rs: list[Range], graph: Graph) -> list[Range]:
    """(wlo, whi) for each output: some element is <= wlo, some element is >= whi."""
    op = get(node.op).op_type
    f = monotone(node)
    if f is not None:
        lo, hi = f(ins[0][0]), f(ins[0][1])
        # a decreasing function swaps the witnesses: the smallest value comes from the largest
        return [(lo, hi) if f(-math.inf) <= f(math.inf) else (hi, lo)]
    if op in KEEPS_ALL:
        return [ins[0]]
    if op == "Concat":
        return [(min(w[0] for w in ins), max(w[1] for w in ins))]
    n = group_size(node, graph) if op in ("Softmax", "LogSoftmax", "Hardmax") else 0
    if op == "Softmax" and n:
        return [(1.0 / n, 1.0 / n)]
    if op == "LogSoftmax" and n:
        return [(-math.log(n), -math.log(n))]
    if op in NORMALIZATIONS and len(ins) > 2 and normalized_count(node, graph) == 1:
        return [ins[2]] + [NONE] * (len(node.outputs) - 1)  # the bias, as in node_points
    if op == "Hardmax" and n > 1:
        return [(0.0, 1.0)]
    if op == "Pad" and node.attrs.get("mode") in (None, "constant") and any(p > 0 for p in node.attrs["_pads"]):
        fill = float(node.attrs.get("_value") or 0.0)
        return [(fill, fill)]  # the padding holds the fill value (Exp of a Pad with 2.57 holds 13)
    if op == "OneHot" and "_values" in node.attrs and -depth(node) <= rs[0][0] and rs[0][1] < depth(node):
        # every index hits: the on value is there, and the off value too beside it
        off, on = (float(v) for v in node.attrs["_values"])
        there = [on, off] if depth(node) > 1 else [on]
        return [(min(there), max(there))]
    if node.op == "LayerNormalization_noB" and (rs[1][0] >= 0 or rs[1][1] <= 0):
        # (x - mean) / std straddles 0 along the normalized dims; a scale of one sign keeps that
        return [(0.0, 0.0)]
    return [NONE] * len(node.outputs)


def node_points(node: Node, ins: list[Fact], graph: Graph) -> list[Points]:
    """Exact values each output of `node` surely holds, by the rules of its op (see `Fact`).

    Rejected: a point wherever a range is a single value (Exp of a constant 1 is e rounded by
    whichever implementation; a point must be exact), and running any op on NaN inputs to find the
    outputs that do not depend on them (an op free to map NaN to 0, as a where(x > 0, x, 0) Relu
    does, would claim a 0 that is not there): only the ops below are run so.
    """
    spec, a, n_out = get(node.op), node.attrs, len(node.outputs)
    op, none = spec.op_type, [frozenset()] * n_out
    if graph.tensors[node.outputs[0]].ttype.dtype == DType.bool:
        return none
    if op in KEEPS_ALL:
        return [ins[0].points]
    if op == "Concat":
        return [frozenset().union(*(f.points for f in ins))]
    if elementwise(node):
        return [mapped(node, ins[0].points, graph)]
    if op == "Hardmax":
        return [frozenset({0.0, 1.0}) if group_size(node, graph) > 1 else frozenset({1.0})]
    if op in ("Range", "ConstantOfShape"):  # no operand: the values are those the op makes
        return [capped(values(spec.torch([], a)[0]))]
    if op == "OneHot" and "_values" in a:
        # a row holds depth - 1 off values or more (all of them where its index misses), and the
        # on value where every index hits
        off, on = (float(torch.tensor(v, dtype=graph.tensors[node.outputs[0]].ttype.dtype.torch)) for v in a["_values"])
        hits = -depth(node) <= ins[0].range[0] and ins[0].range[1] < depth(node)
        return [frozenset(([off] if depth(node) > 1 else []) + ([on] if hits else []))]
    if op in FILLING:
        return [capped(filled(node, graph))]
    if op in NORMALIZATIONS and len(ins) > 2 and normalized_count(node, graph) == 1:
        return [ins[2].points] + none[1:]  # over one element, the output is the bias (ranges.op_range)
    return none


# sums of products with a bias input (k = 2), which the outputs that no product reaches equal
BIASED = frozenset({"Conv", "ConvTranspose", "Gemm"})


def with_bias(node: Node, ins: list[Fact], graph: Graph, fact: Fact, mask_of: Callable[[str], Mask]) -> Fact:
    """`fact` of a biased convolution or Gemm, sharpened where some outputs are the bias alone.

    Outputs that no product of nonzero factors reaches (a ConvTranspose's pads that crop every
    position an input reaches, a Conv window over padding only) are 0 + bias, exactly. If all
    outputs are, the range is the bias's; if those outputs meet every bias element, they hold
    the bias's witnesses and points. A Gemm only with beta = 1 (beta * C is rounded otherwise).
    """
    if get(node.op).op_type == "Gemm" and attr32(node.attrs, "beta", 1.0) != 1.0:
        return fact
    only = bias_only(node, graph, [mask_of(i) for i in node.inputs])
    if only is None:
        return fact
    bias, r = ins[2], fact.range
    if bool(only.all()):
        r = (max(r[0], bias.range[0]), min(r[1], bias.range[1]))
    if not reaches_all(node, graph, only):
        return settle(graph, node.outputs[0], r, fact.witnesses, fact.points)
    w = (min(fact.witnesses[0], bias.witnesses[0]), max(fact.witnesses[1], bias.witnesses[1]))
    return settle(graph, node.outputs[0], r, w, fact.points | bias.points)


def depth(node: Node) -> int:
    return int(node.attrs["_depth"])


def holds_zero(r: Range, w: Range) -> bool:
    """Some element is exactly 0: all are 0, or the smallest (largest) is <= 0 (>= 0) and >= 0 (<= 0)."""
    return r == (0.0, 0.0) or (r[0] >= 0 and w[0] <= 0) or (r[1] <= 0 and w[1] >= 0)


# --- judgement -------------------------------------------------------------------------------------
def misses(fact: Fact, reqs: list[Requirement], *, strict: bool = False) -> str:
    """Why no tensor with this fact meets all of `reqs` at once; "" if one may.

    A single point left over is not a miss (Acos and Acosh of an exact 1 are fine), unless an open
    end excludes it (Log of a LogSoftmax over one element, always 0), or `strict` (the generator's
    choice: values that must hit one exact point are left to the search only where they must be).
    """
    (lo, hi), w = fact.range, seen(fact.witnesses, fact.points)
    if fact.zero and any(r.nonzero for r in reqs):
        return "it holds an exact 0"
    for r in reqs:
        outside = w[0] < r.lo or (r.open_lo and w[0] <= r.lo) or w[1] > r.hi or (r.open_hi and w[1] >= r.hi)
        if outside and r.each:  # (witnesses and points of elements say nothing of a requirement on sums)
            return f"some of its values lie outside [{r.lo:.3g}, {r.hi:.3g}] (one <= {w[0]:.3g}, one >= {w[1]:.3g})"
        lo, hi = max(lo, r.lo), min(hi, r.hi)
    opened = any(r.open_lo and lo == r.lo or r.open_hi and hi == r.hi for r in reqs)
    if lo > hi or (lo == hi and (opened or strict)):
        return f"its values lie in [{fact.range[0]:.3g}, {fact.range[1]:.3g}]"
    return ""


def overflows(fact: Fact, dt: DType) -> str:
    """Why every value of a tensor with this fact and dtype is infinite or NaN; "" if one may not be.

    Its range holds no finite number of the dtype: a ReduceProd of 72 values >= 1.54 in float16.
    """
    big = MAX_FINITE.get(dt)
    lo, hi = fact.range
    if big is None or -big <= hi and lo <= big:
        return ""
    return f"its values lie in [{lo:.3g}, {hi:.3g}], beyond {dt.name}'s largest finite {big:.3g}"


def needs(graph: Graph) -> dict[str, list[tuple[int, Requirement]]]:
    """For each tensor read by an input with a requirement: (node index, requirement) pairs."""
    out: dict[str, list[tuple[int, Requirement]]] = {}
    for i, node in enumerate(graph.nodes):
        for k, req in node_requirements(node, graph).items():
            out.setdefault(node.inputs[k], []).append((i, req))
    return out


def infeasible(graph: Graph) -> dict[int, str]:
    """Nodes (by index) that no values of the leaves make clean, each with the reason.

    A tensor read by several ops with requirements must meet all of them at once (Acos and Log of
    one tensor that lies in [-3, 0]); a node whose output `overflows` everywhere is not clean either.
    """
    fs = facts(graph)
    out = {}
    for name, reqs in needs(graph).items():
        alone = {i: why for i, r in reqs if (why := misses(fs[name], [r]))}
        for i, why in alone.items():
            out.setdefault(i, f"{graph.nodes[i].op} of {name}: {why}")
        why = "" if alone else misses(fs[name], [r for _, r in reqs])
        if why:  # each requirement alone has room, but not all of them at once
            ops = " and ".join(sorted({graph.nodes[i].op for i, _ in reqs}))
            for i, _ in reqs:
                out.setdefault(i, f"{ops} of {name}: {why}")
    for i, node in enumerate(graph.nodes):  # a domain missed says more (Log of values <= 0 is -inf)
        for o in node.outputs:
            if why := overflows(fs[o], graph.tensors[o].ttype.dtype):
                out.setdefault(i, f"{node.op} to {o}: {why}")
    return dict(sorted(out.items()))
