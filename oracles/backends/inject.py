"""Fault injection for testing the oracle and `tensorsmith check`: a known wrong result, on purpose.

`perturb(model, op_type, delta)` adds `delta` to every float output of every node of `op_type`, so
a real backend computes a wrong result exactly where a regression in that op's kernel would. Used
only by the catalog's "*-injected" configurations (onnx only; runs in any worker environment).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

_FLOAT = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64, onnx.TensorProto.FLOAT16: np.float16}


def perturb(model: onnx.ModelProto, op_type: str, delta: float) -> onnx.ModelProto:
    inferred = shape_inference.infer_shapes(model)
    types = {
        vi.name: vi.type.tensor_type.elem_type for vi in list(inferred.graph.value_info) + list(inferred.graph.output)
    }
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes = []
    for k, node in enumerate(out.graph.node):
        nodes.append(node)
        if node.op_type != op_type:
            continue
        for i, name in enumerate(node.output):
            dtype = _FLOAT.get(types.get(name))
            if dtype is None:
                continue
            raw = f"{name}.before_injection{k}"
            node.output[i] = raw
            const = numpy_helper.from_array(np.array(delta, dtype=dtype), f"{name}.injected_delta{k}")
            out.graph.initializer.append(const)
            nodes.append(helper.make_node("Add", [raw, const.name], [name], name=f"injected{k}_{i}"))
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out
