"""Structural zeros: the elements of a tensor that are exactly 0 whatever the leaves are.

A ConvTranspose with stride 2 leaves outputs no input reaches at 0; a MaxPool with dilation 2 over
it keeps those apart, so some of its outputs are 0 too, and Log of its Neg is -inf for any values.
A mask per tensor (bool, of the tensor's shape; None where no element is known to be 0) says
where, by ONNX op type:
- a tensor whose range is (0, 0) is all zeros (leaves otherwise have none);
- KEEPING elementwise ops map 0 to 0 (Relu, Neg, Sin, casts): the input's mask;
- EVERY (Add, Sub, Max, Min, Where's X and Y, ...): zero where all inputs are (broadcast);
- Mul is zero where some factor is, Div, Mod and PRelu where their first input is;
- SIMULATED ops are run on 1 where an input is not known to be 0 and 0 where it is: an output
  that comes out 0 then has no term without a zero factor (sums of products), or picks only
  zeros (max pooling, layout, indexing). Valid only for ops that cannot cancel on nonnegative
  inputs (no subtraction or negative coefficient: Gemm runs with |alpha| and |beta|) and map all
  zeros to 0; never Log, Exp, Cos, ReduceLogSum, ReduceMin (min(0, 1) is 0, min(0, -5) is not);
- anything else: None. A mask is sound up to NaN (0 times inf is NaN, not 0).
Rejected: running ops on all-ones inputs alone (catches a ConvTranspose's holes, but not what a
MaxPool or Slice of it keeps).
Runs on stand-ins also find the outputs of a biased convolution or Gemm that are its bias alone
(`bias_only`: the bias run as zeros) and the constant fill of a Pad, Trilu or Resize (`filled`:
run on NaN, what comes out finite is the fill); fuzzer.graph.feasibility draws points from both.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from fuzzer.graph.model import Graph, Node
from fuzzer.graph.ranges import LAYOUT
from fuzzer.spec.registry import get

Mask = torch.Tensor | None

# elementwise ops that map 0 to 0 (Shrink: its lambd is >= 0)
KEEPING = frozenset(
    {
        "Relu", "Neg", "Abs", "Sin", "Tan", "Tanh", "Asinh", "Atan", "Erf", "Sinh", "Softsign", "Sqrt",
        "Floor", "Ceil", "Round", "Sign", "Identity", "Gelu", "Mish", "Elu", "Selu", "Celu", "HardSwish",
        "LeakyRelu", "Cast", "CastLike", "Asin", "Atanh", "ThresholdedRelu", "Shrink",
    }
)  # fmt: skip
EVERY = frozenset({"Add", "Sub", "Sum", "Mean", "Max", "Min"})
FIRST = frozenset({"Div", "Mod", "PRelu"})
SIMULATED = LAYOUT | {
    "MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum", "CumSum", "Trilu", "Pad",
    "ReduceSum", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceMax",
    "AveragePool", "GlobalAveragePool", "MaxPool", "GlobalMaxPool", "LpPool", "GlobalLpPool",
    "Concat", "Split", "Slice", "Tile", "Gather", "GatherElements", "GatherND", "Mul",
}  # fmt: skip
# simulated ops whose structure alone may leave outputs at 0 (kernels, pads, masks, alpha = 0)
CREATING = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum", "Trilu", "Pad", "CumSum", "Resize"})


def node_masks(node: Node, graph: Graph, ins: list[Mask]) -> list[Mask]:
    """Masks of `node`'s outputs from its inputs' (see the module docstring)."""
    op, n_out = get(node.op).op_type, len(node.outputs)
    if op in KEEPING:
        return [ins[0]]
    if op in EVERY or op == "Where":
        shape = graph.tensors[node.outputs[0]].ttype.shape
        picked = [ins[0], ins[2]] if op == "Where" else ins
        return [None if any(m is None for m in picked) else _every(picked, shape)]
    if op in FIRST:
        return [None if ins[0] is None else ins[0].broadcast_to(_shape(graph, node.outputs[0]))]
    resize = op == "Resize" and node.attrs.get("_mode") in ("nearest", "linear")
    if not (op in SIMULATED or resize) or (all(m is None for m in ins) and op not in CREATING):
        return [None] * n_out
    return simulate(node, graph, ins)


def simulate(node: Node, graph: Graph, ins: list[Mask]) -> list[Mask]:
    """Run the op on 0 where an input is known to be 0 and 1 elsewhere; outputs that are 0 are zeros."""
    xs = []
    for name, m in zip(node.inputs, ins):
        t = graph.tensors[name]
        if not (t.ttype.dtype.is_float or t.ttype.dtype.is_int):
            return [None] * len(node.outputs)
        ones = torch.ones(_shape(graph, name), dtype=torch.float32)
        xs.append(ones if m is None else (~m).to(torch.float32).broadcast_to(ones.shape).clone())
    a = node.attrs
    if get(node.op).op_type == "Gemm":  # no cancellation: alpha * count + beta is 0 only if both terms are
        a = {**a, "alpha": abs(_coef(a, "alpha")), "beta": abs(_coef(a, "beta"))}
    try:
        with torch.no_grad():
            ys = get(node.op).torch(xs, a)
    except (RuntimeError, TypeError, ValueError):
        return [None] * len(node.outputs)
    out: list[Mask] = []
    for name, y in zip(node.outputs, ys):
        z = y == 0
        out.append(z if tuple(y.shape) == _shape(graph, name) and bool(z.any()) else None)
    return out + [None] * (len(node.outputs) - len(out))


def bias_only(node: Node, graph: Graph, ins: list[Mask]) -> Mask:
    """The outputs of a biased Conv, ConvTranspose or Gemm that no product of nonzero factors
    reaches, which are therefore the bias alone (None if there are none): `simulate` with the
    bias taken as all zeros, so that what comes out 0 has no term but zeros. Seed 578 at 20 nodes:
    a ConvTranspose whose pads crop every position an input reaches is its bias everywhere.
    Rejected: `simulate` as it is (the bias, run as ones, hides them)."""
    (out,) = simulate(node, graph, [*ins[:2], all_zero(graph, node.inputs[2]), *ins[3:]])[:1]
    return out


def reaches_all(node: Node, graph: Graph, where: torch.Tensor) -> bool:
    """The outputs at `where` of a biased Conv, ConvTranspose (bias per channel, dim 1) or Gemm
    (C broadcast to the output) meet every element of the bias."""
    shape = _shape(graph, node.inputs[2])
    idx = torch.arange(math.prod(shape)).reshape(shape)
    if get(node.op).op_type != "Gemm":
        idx = idx.reshape(1, -1, *[1] * (where.dim() - 2))
    return int(torch.unique(idx.broadcast_to(where.shape)[where]).numel()) == math.prod(shape)


# ops whose outputs are each an input element or a constant fill (a Pad's value, a Trilu's 0, a
# tf_crop_and_resize Resize's extrapolation_value): `filled` finds the fill by running them on NaN
FILLING = frozenset({"Pad", "Trilu", "Resize"})


def on_nan(node: Node, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor | None:
    """The first output of a FILLING `node` run on an all-NaN float input of `shape` (None if the
    op refuses it): its finite elements are the fill, as every other output copies or mixes input
    elements, NaN all of them. Also fuzzer.search.exact's, for which outputs are the fill."""
    try:
        with torch.no_grad():
            return get(node.op).torch([torch.full(shape, math.nan, dtype=dtype)], node.attrs)[0]
    except (RuntimeError, TypeError, ValueError):
        return None


def filled(node: Node, graph: Graph) -> frozenset[float]:
    """The constant fill a FILLING op surely writes: the finite outputs of a run on NaN input (see
    `on_nan`)."""
    t = graph.tensors[node.inputs[0]]
    shape, dt = tuple(int(d) for d in t.ttype.shape), t.ttype.dtype
    if dt.is_float:
        y = on_nan(node, shape, dt.torch)
        return frozenset() if y is None else values(y[torch.isfinite(y)])
    if get(node.op).op_type == "Resize":
        return frozenset()  # a linear Resize of integers rounds a mix of elements: no copy, no fill
    # integers: the outputs equal in runs on 1 and 2 (no NaN to propagate; Pad and Trilu copy or fill)
    try:
        with torch.no_grad():
            ys = [get(node.op).torch([torch.full(shape, v, dtype=dt.torch)], node.attrs)[0] for v in (1, 2)]
    except (RuntimeError, TypeError, ValueError):
        return frozenset()
    return values(ys[0][ys[0] == ys[1]])


def values(t: torch.Tensor) -> frozenset[float]:
    """The distinct values of `t` that are exact as floats."""
    d = t.double().flatten()
    d = d[torch.isfinite(d) & (d.abs() < 2.0**53)]
    return frozenset(float(v) for v in torch.unique(d))


def _every(masks: list[torch.Tensor], shape) -> torch.Tensor:
    out = torch.ones(tuple(int(d) for d in shape), dtype=torch.bool)
    for m in masks:
        out = out & m
    return out


def _shape(graph: Graph, name: str) -> tuple[int, ...]:
    return tuple(int(d) for d in graph.tensors[name].ttype.shape)


def all_zero(graph: Graph, name: str) -> torch.Tensor:
    return torch.ones(_shape(graph, name), dtype=torch.bool)


def masks_of(
    name: str,
    graph: Graph,
    producer: Callable[[str], Node | None],
    memo: dict[str, Mask],
    is_all_zero: Callable[[str], bool],
) -> Mask:
    """The mask of tensor `name`, filling `memo` with those of the tensors above it (iteratively:
    graphs may be deeper than Python's recursion limit). `is_all_zero(t)`: t's range is (0, 0)."""
    stack = [name]
    while stack:
        top = stack[-1]
        if top in memo:
            stack.pop()
            continue
        node = producer(top)
        if node is None or is_all_zero(top):
            memo[top] = all_zero(graph, top) if is_all_zero(top) else None
            stack.pop()
            continue
        todo = [i for i in node.inputs if i not in memo]
        if todo:
            stack.extend(todo)
            continue
        outs = node_masks(node, graph, [memo[i] for i in node.inputs])
        for o, m in zip(node.outputs, outs):
            memo[o] = all_zero(graph, o) if is_all_zero(o) else m
        stack.pop()
    return memo[name]


def any_zero(mask: Mask) -> bool:
    """The mask marks some element."""
    return mask is not None and bool(mask.any())


def _coef(a: dict, name: str) -> float:
    return 1.0 if a.get(name) is None else float(a[name])
