"""Validity of a generated model: the ONNX checker and ONNX shape inference against our shapes."""

from __future__ import annotations

import onnx
from onnx import shape_inference

from fuzzer.graph.model import Graph


class InvalidModel(Exception):
    """The generated model is invalid: a bug of tensorsmith's generator or specs."""


def inferred_types(model: onnx.ModelProto) -> dict[str, tuple[int, tuple]]:
    inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    out = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
        out[vi.name] = (tt.elem_type, dims if tt.HasField("shape") else None)
    return out


def validate(graph: Graph, model: onnx.ModelProto) -> None:
    """Raise InvalidModel unless the checker passes and inference agrees with every tensor's type."""
    try:
        onnx.checker.check_model(model, full_check=True)
        types = inferred_types(model)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise InvalidModel(str(e)) from e
    for name, t in graph.tensors.items():
        if t.role != "node":
            continue
        got = types.get(name)
        want = (t.ttype.dtype.onnx, tuple(int(x) for x in t.ttype.shape))
        if got is None:
            raise InvalidModel(f"ONNX shape inference gave no type for tensor {name}")
        if got[0] != want[0] or (got[1] is not None and None not in got[1] and got[1] != want[1]):
            raise InvalidModel(f"tensor {name}: spec says {want}, ONNX shape inference says {got}")
