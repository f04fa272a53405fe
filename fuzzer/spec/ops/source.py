"""Ops that make tensors from constants, indices or shapes: OneHot, Range, ConstantOfShape, Shape, Size.

Range and ConstantOfShape have no graph-tensor operand (all their inputs are constants), so they
are inserted only backward, replacing a leaf: their output shape is symbolic and the generator
equates it with the leaf's. Their hooks need the leaf's rank and dtype, which `attrs` is not given;
see `Source` for how they learn them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from onnx import numpy_helper

from fuzzer.spec.base import Domain, Input, OpSpec, SpecError
from fuzzer.spec.draw import Draw
from fuzzer.spec.dtypes import ALL, INTS, DType
from fuzzer.spec.families import norm_axis
from fuzzer.spec.registry import register

# depth may be a scalar or a one-element 1-D tensor; onnx.reference fails on the latter (np.arange of
# an array): OneHot's depth is always a scalar meanwhile


class Source(OpSpec):
    """An op without graph-tensor operands, inserted only backward to produce an existing leaf.

    The generator tells `backward_ranks` the leaf's rank and binds the output type variable to the
    leaf's dtype before calling `out_dtypes`; the rank is noted on the Draw (which `attrs` gets
    next) and the dtype in the attrs (`_dtype`, for `finalize`, `emit` and `torch`). A target type
    on the Draw would make this direct.
    """

    inputs = ()
    backward = True
    out_ranks: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)

    def backward_ranks(self, out_rank, n_inputs, d):
        if out_rank not in self.out_ranks:
            return None
        return []

    @staticmethod
    def target_rank(d: Draw) -> int:
        rank = d.target.rank if d.target is not None else None
        if rank is None:
            raise SpecError("a source op is inserted only backward")
        return rank

    def out_dtypes(self, ins, a, binding, opset):
        (tv,) = self.output_tvars(opset)
        if tv not in binding:
            raise SpecError("a source op is inserted only backward")
        a["_dtype"] = binding[tv].name  # the constants of emit/torch are made in this dtype
        return [binding[tv]]

    def infer(self, ins, a):
        return [tuple(a["_shape"])]


def dtype_of(a) -> DType:
    return DType[a["_dtype"]]


def small_value(rng: np.random.Generator, dt: DType) -> float | int | bool:
    """A value in the default leaf domain [-3, 3] (downstream ops may rely on it), edges often."""
    if dt == DType.bool:
        return bool(rng.random() < 0.5)
    lo = 0 if dt == DType.uint8 else -3
    if rng.random() < 0.3:
        return rng.choice([v for v in (0, 1, -1) if v >= lo]).item()
    if dt.is_int:
        return int(rng.integers(lo, 4))
    return float(np.round(rng.uniform(lo, 3), 2))


@register
class OneHot(OpSpec):
    """[off, on] values at the positions the indices name, along a new axis of size depth.

    Indices are a graph tensor (values outside [-depth, depth-1] give all-off rows, which ONNX
    defines); depth and values are constants. Backward, the output type is the target leaf's.
    """

    op_type = "OneHot"
    # a domain a little wider than typical depths, so that out-of-range indices occur too
    inputs = (Input("indices", domain=Domain(-5, 5)),)
    min_rank = 1  # ONNX shape inference rejects scalar indices (the operator doc does not)
    min_opset = 11
    backward = True
    # ONNX casts non-integer indices to int64; onnx.reference compares the raw floats instead (1.5
    # matches nothing): integer indices only meanwhile. It also computes on - off, which NumPy
    # refuses for bool values (ORT and the doc allow them): no bool output meanwhile
    limit = {"T1": INTS, "T3": ALL - {DType.bool}}

    def backward_ranks(self, out_rank, n_inputs, d):
        return [out_rank - 1] if out_rank >= 2 else None

    def attrs(self, d, ins):
        r = ins[0].rank
        # float32 often: ORT's kernels cover few (indices, depth, values) type triples, most with it
        dt = DType.float32 if d.coin(0.35) else d.pick(sorted(self.type_set("T3", d.opset), key=lambda t: t.name))
        depth_type = d.pick(["int64", "int64", "int32", "float32"])
        return {"axis": d.axis(r + 1), "_depth": d.dim("depth"), "_dtype": dt.name, "_depth_type": depth_type}

    def infer(self, ins, a):
        shape = list(ins[0].shape)
        shape.insert(norm_axis(a["axis"], ins[0].rank + 1), a["_depth"])
        return [tuple(shape)]

    def out_dtypes(self, ins, a, binding, opset):
        if "T3" in binding:  # backward: the leaf's type, which attrs() cannot see
            a["_dtype"] = binding["T3"].name
        return [dtype_of(a)]

    def finalize(self, rng, ins, a):
        dt = dtype_of(a)
        off, on = small_value(rng, dt), small_value(rng, dt)
        if off == on and rng.random() < 0.8:
            on = on + 1
        return {**a, "_values": [off, on]}

    def emit(self, e, a):
        depth = e.const(a["_depth"], dtype=a["_depth_type"], hint="depth")
        vals = e.const(a["_values"], dtype=dtype_of(a).numpy, hint="values")
        e.node("OneHot", [e.inputs[0], depth, vals], e.outputs, axis=a["axis"])

    def torch(self, xs, a):
        idx, depth = xs[0].to(torch.int64), a["_depth"]
        ax = norm_axis(a["axis"], idx.dim() + 1)
        hot = torch.where(idx < 0, idx + depth, idx).unsqueeze(-1) == torch.arange(depth)
        dt = dtype_of(a).torch
        off, on = (torch.tensor(v, dtype=dt) for v in a["_values"])
        return [torch.where(hot.movedim(-1, ax), on, off)]


@register
class Range(Source):
    """start, start + delta, ... below limit: n = max(ceil((limit - start) / delta), 0) >= 1 values."""

    op_type = "Range"
    out_ranks = (1,)
    min_opset = 11

    def attrs(self, d, ins):
        self.target_rank(d)
        return {"_shape": [d.dim("n")], "_neg": d.coin(0.3), "_exact": d.coin(0.3)}

    def finalize(self, rng, ins, a):
        (n,) = a["_shape"]
        dt = dtype_of(a)
        sign = -1 if a["_neg"] else 1
        if dt.is_int:
            step = int(rng.integers(1, 13)) if rng.random() < 0.9 else int(rng.integers(13, 1000))
            start = int(rng.integers(-1000, 1001))
            past = step if a["_exact"] else int(rng.integers(1, step + 1))
            return {**a, "_start": start, "_limit": start + sign * (step * (n - 1) + past), "_delta": sign * step}
        # float values are multiples of 1/4 (1 for half types, with ends below 256), exact in the
        # type, so every implementation counts the same n and computes the same values
        unit, span = (0.25, 1000) if dt in (DType.float32, DType.float64) else (1.0, 240)
        step = max(1, min(int(rng.integers(1, 13)), span // (2 * n)))
        start = int(rng.integers(-span // 4, span // 4 + 1)) * unit
        # limit lies past the last value by a fraction of delta (all of it when exact): then
        # ceil((limit - start) / delta) = n
        fracs = [0.25, 0.5, 0.75] if unit < 1 else [0.5] if dt == DType.float16 else [1.0]
        frac = 1.0 if a["_exact"] else float(rng.choice(fracs))
        delta = sign * step * unit
        return {**a, "_start": start, "_limit": start + delta * (n - 1 + frac), "_delta": delta}

    def emit(self, e, a):
        dt = dtype_of(a).numpy
        ins = [e.const(a[k], dtype=dt, hint=k[1:]) for k in ("_start", "_limit", "_delta")]
        e.node("Range", ins, e.outputs)

    def torch(self, xs, a):
        (n,) = a["_shape"]
        steps = torch.arange(n, dtype=torch.float64)
        return [(a["_start"] + steps * a["_delta"]).to(dtype_of(a).torch)]


@register
class ConstantOfShape(Source):
    """A tensor of the constant-input shape filled with the `value` attribute (float32 0 if omitted)."""

    op_type = "ConstantOfShape"
    min_opset = 9

    def attrs(self, d, ins):
        return {"_shape": [d.dim("out") for _ in range(self.target_rank(d))], "_omit": d.coin(0.2)}

    def finalize(self, rng, ins, a):
        dt = dtype_of(a)
        omit = a["_omit"] and dt == DType.float32
        return {**a, "_value": 0.0 if omit else small_value(rng, dt), "_omit": omit}

    def emit(self, e, a):
        shape = e.const(list(a["_shape"]), dtype=np.int64, hint="shape")
        if a["_omit"]:
            e.node("ConstantOfShape", [shape], e.outputs)
            return
        value = np.asarray([a["_value"]], dtype=dtype_of(a).numpy)
        e.node("ConstantOfShape", [shape], e.outputs, value=numpy_helper.from_array(value, "value"))

    def torch(self, xs, a):
        return [torch.full(tuple(a["_shape"]), a["_value"], dtype=dtype_of(a).torch)]


@register
class Shape(OpSpec):
    """The input's shape as int64, sliced by start/end (opset 15+), which ONNX clamps to [0, r]."""

    op_type = "Shape"
    inputs = (Input("data"),)
    min_rank = 1  # a scalar's shape is empty, and the generator makes no empty tensors

    def attrs(self, d, ins):
        r = ins[0].rank
        if "start" not in self.schema(d.opset).attributes:
            return {}
        for _ in range(8):
            start = d.pick([None, d.randint(-r - 2, r + 1)])
            end = d.pick([None, d.randint(-r - 2, r + 2)])
            if len(self.window(r, start, end)) >= 1:
                return {"start": start, "end": end}
        return {}

    @staticmethod
    def window(r: int, start: int | None, end: int | None) -> range:
        def clamp(v: int) -> int:
            return min(max(v + r if v < 0 else v, 0), r)

        return range(clamp(0 if start is None else start), clamp(r if end is None else end))

    def infer(self, ins, a):
        return [(len(self.window(ins[0].rank, a.get("start"), a.get("end"))),)]

    def out_dtypes(self, ins, a, binding, opset):
        return [DType.int64]  # the schema's T1 admits only int64

    def torch(self, xs, a):
        w = self.window(xs[0].dim(), a.get("start"), a.get("end"))
        return [torch.tensor([xs[0].shape[i] for i in w], dtype=torch.int64)]


@register
class Size(OpSpec):
    """The number of elements of the input, as an int64 scalar."""

    op_type = "Size"
    inputs = (Input("data"),)

    def infer(self, ins, a):
        return [()]

    def out_dtypes(self, ins, a, binding, opset):
        return [DType.int64]  # the schema's T1 admits only int64

    def torch(self, xs, a):
        return [torch.tensor(math.prod(xs[0].shape), dtype=torch.int64)]
