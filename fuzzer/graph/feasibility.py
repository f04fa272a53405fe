"""Graphs with no clean values at all, proven without running them.

Some graphs are violated for every value of their leaves: Log of a LogSoftmax (always <= 0),
Acosh of a Neg of an Acosh, Atanh of a Cosh (always >= 1), Reciprocal of a Hardmax (which holds
zeros), Acosh of a LayerNormalization (whose outputs straddle 0). The search gives up on those
nodes up front; the generator does not build them (see fuzzer.generate.values).

Three facts per tensor (`Fact`): its range (every value lies in [lo, hi], see `ranges`), witnesses
(some value is <= wlo and some value is >= whi: a softmax over n holds a value <= 1/n, a
normalization without bias one <= 0), and whether it surely holds an exact 0 (by range and
witnesses, kept through zero-keeping ops, or where structure alone leaves one: fuzzer.graph.zeros). An op input with a
`Requirement` (Log's (0, inf), a divisor's "not 0") is infeasible when the range misses it, a
witness lies outside it, or a required nonzero holds an exact 0. Sound for the ops with rules;
others get no witnesses and the range (-inf, inf).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from fuzzer.graph.functions import monotone
from fuzzer.graph.model import Graph, Node
from fuzzer.graph.ranges import LAYOUT, Range, group_size, leaf_range, node_range
from fuzzer.graph.zeros import KEEPING, Mask, any_zero, masks_of
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get


@dataclass(frozen=True)
class Requirement:
    """The values an op input must take: [lo, hi] (open at an end if flagged), and not 0 if `nonzero`.

    `nonzero` is also set where 0 lies outside the interval, except for sums (ReduceLogSum of [0, 1]
    is fine), so that a tensor that must hold an exact 0 is caught before its range is.
    """

    lo: float = -math.inf
    hi: float = math.inf
    open_lo: bool = False
    open_hi: bool = False
    nonzero: bool = False


OPEN_POSITIVE = Requirement(0.0, math.inf, True, False, True)
# op type -> (input position, requirement): the domains the search's loss table enforces
DOMAINS: dict[str, tuple[int, Requirement]] = {
    "Log": (0, OPEN_POSITIVE),
    "ReduceLogSum": (0, Requirement(0.0, math.inf, True)),  # a sum of values <= 0 is <= 0
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


@dataclass(frozen=True)
class Fact:
    """What is known of a tensor's values for any leaf values: range, witnesses, an exact 0."""

    range: Range
    witnesses: Range = NONE
    zero: bool = False


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
    return Fact(r, NONE, r == (0.0, 0.0))


def node_facts(node: Node, ins: list[Fact], graph: Graph) -> list[Fact]:
    """The facts of `node`'s outputs from its inputs', where an output's `zero` says only what its
    range and witnesses show (see `keeps_zero` and fuzzer.graph.zeros for the rest)."""
    rs = node_range(node, [f.range for f in ins], graph)
    ws = node_witnesses(node, [f.witnesses for f in ins], [f.range for f in ins], graph)
    return [Fact(r, w, holds_zero(r, w)) for r, w in zip(rs, ws)]


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
    for node in graph.nodes:
        ins = [out[i] for i in node.inputs]
        fs = node_facts(node, ins, graph)
        out.update(zip(node.outputs, fs))
        kept = keeps_zero(node, lambda k: ins[k].zero)  # noqa: B023 (called at once)
        for o, f in zip(node.outputs, fs):
            mask = masks_of(o, graph, producer.get, memo, lambda t: out[t].range == (0.0, 0.0))
            if kept or (not f.zero and any_zero(mask)):
                out[o] = Fact(f.range, f.witnesses, True)
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
    (lo, hi), w = fact.range, fact.witnesses
    if fact.zero and any(r.nonzero for r in reqs):
        return "it holds an exact 0"
    for r in reqs:
        if w[0] < r.lo or (r.open_lo and w[0] <= r.lo) or w[1] > r.hi or (r.open_hi and w[1] >= r.hi):
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
