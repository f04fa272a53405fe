"""bfloat16 at graph inputs and outputs for backends whose Python API has no bfloat16 (onnx + numpy only).

ONNX Runtime's and OpenVINO's Python APIs neither take nor return bfloat16 numpy arrays. `widen`
rewrites a model so that every bfloat16 graph input is float32 followed by a Cast to bfloat16, and
every bfloat16 graph output is a Cast of the bfloat16 value to float32. The graph in between is
unchanged, so the backend still computes in bfloat16. Values cross the boundary exactly: a bfloat16
feed is widened to float32 without rounding, and a float32 result that came from a Cast of a
bfloat16 value is narrowed back without rounding (round-to-nearest-even is applied only when a
backend's optimizer folded the final Cast away and produced a value that is not a bfloat16).

Rejected: sending bfloat16 as uint16 bits into the backend (a type mismatch the model would reject),
and running the whole model in float32 (that tests a different model).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper

try:
    import ml_dtypes

    BF16_NUMPY = ml_dtypes.bfloat16
except ImportError:  # an old environment: bfloat16 results are uint16 bits tagged as wire.BF16_BITS is
    BF16_NUMPY = np.dtype(np.uint16, metadata={"dtype": "bfloat16"})

BF16 = TensorProto.BFLOAT16


@dataclass(frozen=True)
class Boundary:
    """Which graph inputs and outputs `widen` turned from bfloat16 into float32."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    renamed: dict = field(default_factory=dict)  # internal bfloat16 value of each rewritten name

    def __bool__(self) -> bool:
        return bool(self.inputs or self.outputs)

    def feeds(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The feeds with bfloat16 inputs (ml_dtypes.bfloat16 or uint16 bits) as float32, exactly."""
        return {n: bf16_to_f32(a) if n in self.inputs else a for n, a in feeds.items()}

    def results(self, outputs: dict[str, np.ndarray], bf16_dtype=BF16_NUMPY) -> dict[str, np.ndarray]:
        """The outputs with widened ones back as bfloat16 (ml_dtypes if installed, else tagged uint16 bits)."""
        out = {}
        for n, a in outputs.items():
            if n in self.outputs:
                a = f32_to_bf16_bits(np.asarray(a, dtype=np.float32)).view(bf16_dtype)
            out[n] = a
        return out


def bf16_to_f32(a: np.ndarray) -> np.ndarray:
    """bfloat16 (ml_dtypes, or its uint16 bits) to float32: exact, a bfloat16 is a truncated float32."""
    a = np.asarray(a)
    bits = np.ascontiguousarray(a).view(np.uint16)  # (ascontiguousarray makes a 0-d array 1-d: reshape)
    return (bits.astype(np.uint32) << 16).view(np.float32).reshape(a.shape)


def f32_to_bf16_bits(a: np.ndarray) -> np.ndarray:
    """float32 to bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN."""
    a = np.asarray(a, dtype=np.float32)
    u = np.ascontiguousarray(a).view(np.uint32).reshape(a.shape)
    rounded = (u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16
    return np.where(np.isnan(a), (u >> 16) | np.uint32(0x0040), rounded).astype(np.uint16)


def _fresh(taken: set[str], base: str) -> str:
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}{k}"
    taken.add(name)
    return name


def _all_names(graph: onnx.GraphProto) -> set[str]:
    names = {v.name for v in list(graph.input) + list(graph.output) + list(graph.value_info)}
    names |= {t.name for t in graph.initializer}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        names.add(node.name)
    return names


def _rename_uses(graph: onnx.GraphProto, old: str, new: str, *, outputs: bool) -> None:
    """Rename value `old` in node inputs (and node outputs / value_info if `outputs`), subgraphs included."""
    for node in graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
        if outputs:
            node.output[:] = [new if o == old else o for o in node.output]
        for attr in node.attribute:
            subs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
            for sub in subs:
                _rename_uses(sub, old, new, outputs=False)
    if outputs:
        for vi in graph.value_info:
            if vi.name == old:
                vi.name = new
        for t in graph.initializer:  # a graph output may name an initializer directly
            if t.name == old:
                t.name = new


def widen(model: onnx.ModelProto) -> tuple[onnx.ModelProto, Boundary]:
    """A copy of `model` with bfloat16 graph inputs/outputs as float32 (see module docstring)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {t.name for t in g.initializer}
    ins = [v for v in g.input if v.name not in inits and v.type.tensor_type.elem_type == BF16]
    outs = [v for v in g.output if v.type.tensor_type.elem_type == BF16]
    if not ins and not outs:
        return model, Boundary()
    taken = _all_names(g)
    renamed: dict[str, str] = {}
    head: list[onnx.NodeProto] = []
    for v in ins:
        inner = _fresh(taken, f"{v.name}.bf16")
        _rename_uses(g, v.name, inner, outputs=False)
        head.append(helper.make_node("Cast", [v.name], [inner], name=_fresh(taken, "boundary_in"), to=BF16))
        v.type.tensor_type.elem_type = TensorProto.FLOAT
        renamed[v.name] = inner
    tail: list[onnx.NodeProto] = []
    for v in outs:
        if v.name in renamed:  # an input that is also an output: the float32 input is the exact answer
            v.type.tensor_type.elem_type = TensorProto.FLOAT
            continue
        inner = _fresh(taken, f"{v.name}.bf16")
        _rename_uses(g, v.name, inner, outputs=True)
        tail.append(
            helper.make_node("Cast", [inner], [v.name], name=_fresh(taken, "boundary_out"), to=TensorProto.FLOAT)
        )
        v.type.tensor_type.elem_type = TensorProto.FLOAT
        renamed[v.name] = inner
    nodes = head + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    return m, Boundary(tuple(v.name for v in ins), tuple(v.name for v in outs), renamed)
