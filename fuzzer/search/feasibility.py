"""Graphs with no clean values at all, proven before searching.

Some generated graphs are violated for every value of their leaves: Log of a LogSoftmax (always
<= 0), Acosh of a Neg of an Acosh, Atanh of a Cosh (always >= 1), Reciprocal of a Hardmax (which
holds zeros), Acosh of a LayerNormalization (whose outputs straddle 0). The search cannot fix those
nodes, so it does not try (it still fixes everything else), and the result names them.

Two facts per tensor: its range (every value lies in [lo, hi], see `ranges`), and witnesses (some
value is <= wlo and some value is >= whi: a softmax over n holds a value <= 1/n, a normalization
without bias one <= 0). A domain-restricted op whose input range misses its domain, or whose
witnesses lie outside it, is infeasible; so is a pole at 0 fed a tensor that must hold an exact 0.
Both analyses are sound for the ops with rules; others get no witnesses and the range (-inf, inf).
"""

from __future__ import annotations

import math

import torch

from fuzzer.graph.model import Graph, Node
from fuzzer.search.ranges import Range, monotone, ranges
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get

# (input position, allowed interval, open at lo, open at hi): the domains the loss table enforces
DOMAINS: dict[str, tuple[int, float, float, bool, bool]] = {
    "Log": (0, 0.0, math.inf, True, False),
    "ReduceLogSum": (0, 0.0, math.inf, True, False),  # a sum of values <= 0 is <= 0
    "Sqrt": (0, 0.0, math.inf, False, False),
    "Acos": (0, -1.0, 1.0, False, False),
    "Asin": (0, -1.0, 1.0, False, False),
    "Atanh": (0, -1.0, 1.0, True, True),
    "Acosh": (0, 1.0, math.inf, False, False),
}
# a float cast to uint8 is undefined below -1 (truncation to a negative integer)
TO_UINT8 = (0, -1.0, 256.0, True, True)
# ops undefined at an input of exactly 0 (the position of that input)
POLE_AT_ZERO = {"Reciprocal": 0, "Div": 1, "Mod": 1, "Log": 0}
# ops whose outputs hold every input element (so they keep the inputs' witnesses)
KEEPS_ALL = frozenset(
    {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Expand", "Tile", "DepthToSpace", "SpaceToDepth"}
)
NONE = (math.inf, -math.inf)  # no witness: "some value <= inf" and "some value >= -inf"
# elementwise ops that map 0 to 0
ZERO_KEEPING = frozenset(
    {
        "Relu",
        "Neg",
        "Abs",
        "Sin",
        "Tan",
        "Tanh",
        "Asinh",
        "Atan",
        "Erf",
        "Sinh",
        "Softsign",
        "Sqrt",
        "Floor",
        "Ceil",
        "Round",
        "Sign",
        "Identity",
        "Gelu",
        "Mish",
        "Elu",
        "Selu",
        "Celu",
        "HardSwish",
        "LeakyRelu",
        "PRelu",
        "Cast",
        "CastLike",
        "Asin",
        "Atanh",
        "ThresholdedRelu",
        "Shrink",
    }
)
# ops whose structure alone (kernels, pads, masks) may leave outputs at 0
STRUCTURAL = frozenset({"Conv", "ConvTranspose", "MatMul", "Einsum", "Trilu", "Pad", "CumSum"})


def domain_of(node: Node, graph: Graph) -> tuple[int, float, float, bool, bool] | None:
    op = get(node.op).op_type
    if op in ("Cast", "CastLike"):
        src, dst = (graph.tensors[n].ttype.dtype for n in (node.inputs[0], node.outputs[0]))
        return TO_UINT8 if src.is_float and dst == DType.uint8 else None
    return DOMAINS.get(op)


def group_size(node: Node, graph: Graph) -> int:
    """The length of the axis an AlongAxis op works on."""
    shape = graph.tensors[node.inputs[0]].ttype.shape
    axis = node.attrs.get("axis")
    return int(shape[-1 if axis is None else axis]) if len(shape) else 1


def node_witnesses(node: Node, ins: list[Range], rs: list[Range], graph: Graph) -> list[Range]:
    """(wlo, whi) for each output: some element is <= wlo, some element is >= whi."""
    op = get(node.op).op_type
    f = monotone(node)
    if f is not None:
        lo, hi = f(ins[0][0]), f(ins[0][1])
        # a decreasing function swaps the witnesses: the smallest value comes from the largest
        return [(lo, hi) if f(0.0) <= f(1.0) else (hi, lo)]
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
    if node.op == "LayerNormalization_noB" and (rs[1][0] >= 0 or rs[1][1] <= 0):
        # (x - mean) / std straddles 0 along the normalized dims; a scale of one sign keeps that
        return [(0.0, 0.0)]
    return [NONE] * len(node.outputs)


def witnesses(graph: Graph, rs: dict[str, Range]) -> dict[str, Range]:
    out = {n: NONE for n in graph.inputs + graph.weights}
    for node in graph.nodes:
        ws = node_witnesses(node, [out[i] for i in node.inputs], [rs[i] for i in node.inputs], graph)
        out.update(zip(node.outputs, ws))
    return out


def infeasible(graph: Graph) -> dict[int, str]:
    """Nodes (by index) that no values of the leaves make clean, each with the reason.

    A tensor read by several domain-restricted ops must meet all their domains at once (Acos and
    Log of one tensor that lies in [-3, 0]). A single point left over is not called infeasible
    (Acos and Acosh of an exact 1 are fine), unless an open end excludes it (Log of a LogSoftmax
    over one element, always 0).
    """
    rs = ranges(graph)
    ws = witnesses(graph, rs)
    zs = zeros(graph, rs, ws)
    out = {}
    needs: dict[str, list[tuple[int, tuple]]] = {}
    for i, node in enumerate(graph.nodes):
        dom = domain_of(node, graph)
        k = POLE_AT_ZERO.get(get(node.op).op_type)
        # where 0 lies outside the domain (Acosh), an exact 0 is as bad as a pole; not for a sum
        # (ReduceLogSum of [0, 1] is fine) unless it sums nothing ("noop": an elementwise log)
        summed = get(node.op).op_type == "ReduceLogSum" and node.attrs.get("_mode") != "noop"
        if dom is not None and not (dom[1] < 0 < dom[2] or dom[1] == 0 and not dom[3]) and not summed:
            k = dom[0]
        if k is not None and node.inputs[k] in zs:
            out[i] = f"{node.op} of {node.inputs[k]}: it holds an exact 0"
        if dom is not None:
            needs.setdefault(node.inputs[dom[0]], []).append((i, dom[1:]))
    for name, doms in needs.items():
        alone = {i: why for i, d in doms if (why := misses(rs[name], ws[name], [d]))}
        for i, why in alone.items():
            out.setdefault(i, f"{graph.nodes[i].op} of {name}: {why}")
        why = "" if alone else misses(rs[name], ws[name], [d for _, d in doms])
        if why:  # each domain alone has room, but not all of them at once
            ops = " and ".join(sorted({graph.nodes[i].op for i, _ in doms}))
            for i, _ in doms:
                out.setdefault(i, f"{ops} of {name}: {why}")
    return out


def holds_zero(r: Range, w: Range) -> bool:
    """Some element is exactly 0: all are 0, or the smallest (largest) is <= 0 (>= 0) and >= 0 (<= 0)."""
    return r == (0.0, 0.0) or (r[0] >= 0 and w[0] <= 0) or (r[1] <= 0 and w[1] >= 0)


def zeros(graph: Graph, rs: dict[str, Range], ws: dict[str, Range]) -> set[str]:
    """Tensors that hold an exact 0 whatever the leaves: by range and witnesses (a Hardmax), by
    structure (a convolution output that its kernel never reaches, Trilu's zeroed triangle), and
    through ops that keep a 0 (Relu, Sin, Mul, layout)."""
    out = {n for n in rs if holds_zero(rs[n], ws[n])}
    for node in graph.nodes:
        op = get(node.op).op_type
        keeps = (op in ZERO_KEEPING or op in KEEPS_ALL) and node.inputs[0] in out
        keeps = keeps or (op in ("Mul", "Concat") and any(i in out for i in node.inputs))
        if keeps or (op in STRUCTURAL and structural_zero(node, graph)):
            out.update(node.outputs)
    return out


def structural_zero(node: Node, graph: Graph) -> bool:
    """The op run on all-ones float inputs yields a 0: some output no input element reaches."""
    dts = [graph.tensors[i].ttype.dtype for i in node.inputs]
    if not all(dt.is_float for dt in dts):
        return False
    ones = [torch.ones(tuple(int(d) for d in graph.tensors[i].ttype.shape), dtype=torch.float32) for i in node.inputs]
    try:
        with torch.no_grad():
            return any(bool((y == 0).any()) for y in get(node.op).torch(ones, node.attrs))
    except (RuntimeError, TypeError, ValueError):
        return False


def misses(r: Range, w: Range, doms: list[tuple[float, float, bool, bool]]) -> str:
    """Why no tensor with range r and witnesses w fits all of `doms`; "" if one may."""
    lo, hi = r
    for dlo, dhi, open_lo, open_hi in doms:
        if w[0] < dlo or (open_lo and w[0] <= dlo) or w[1] > dhi or (open_hi and w[1] >= dhi):
            return f"some of its values lie outside [{dlo:.3g}, {dhi:.3g}] (one <= {w[0]:.3g}, one >= {w[1]:.3g})"
        lo, hi = max(lo, dlo), min(hi, dhi)
    opened = any(d[2] and lo == d[0] or d[3] and hi == d[1] for d in doms)
    if lo > hi or (lo == hi and opened):
        return f"its values lie in [{r[0]:.3g}, {r[1]:.3g}]"
    return ""
