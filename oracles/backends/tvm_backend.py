"""TVM through its Relax ONNX frontend, the llvm target and the Relax VM (stdlib, numpy, onnx, tvm only).

Stages: "load" is the frontend (`from_onnx`), "compile" is `tvm.compile` (with the inference
decompositions TVM's own ONNX tests apply first), "run" is the VM call. Weights stay constants in
the module (`keep_params_in_input=False`) so TVM's constant folding sees them, as a deployed model
would be compiled; TVM's tests keep them as inputs, which would skip exactly the folding paths the
generator builds.
"""

from __future__ import annotations

import numpy as np
import onnx
from stage import stage

NAME = "tvm"


def version() -> str:
    import tvm

    return tvm.__version__


class Compiled:
    def __init__(self, vm, inputs: list[str], outputs: list[str]):
        self.vm = vm
        self.inputs = inputs  # graph inputs in the order of main's parameters
        self.outputs = outputs


def prepare(model: bytes, options: dict, extra: list[bytes]) -> Compiled:
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    with stage("load"):
        proto = onnx.load_from_string(model)
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
        mod = from_onnx(proto, opset=opset, keep_params_in_input=False)
    with stage("compile"):
        mod = relax.transform.DecomposeOpsForInference()(mod)
        with tvm.transform.PassContext(opt_level=int(options.get("opt_level", 3))):
            ex = tvm.compile(mod, target=options.get("target", "llvm"))
        vm = relax.VirtualMachine(ex, tvm.cpu())
    inits = {t.name for t in proto.graph.initializer}
    inputs = [v.name for v in proto.graph.input if v.name not in inits]
    return Compiled(vm, inputs, [v.name for v in proto.graph.output])


def _to_numpy(value) -> np.ndarray:
    import tvm

    if isinstance(value, tvm.runtime.Tensor):
        return value.numpy()
    if isinstance(value, tvm.runtime.ShapeTuple):  # a Shape output the frontend kept as a Relax shape
        return np.asarray(list(value), dtype=np.int64)
    return np.asarray(value)


def run(handle: Compiled, inputs: dict) -> dict:
    import tvm

    args = [tvm.runtime.tensor(np.asarray(inputs[n])) for n in handle.inputs]
    result = handle.vm["main"](*args)
    values = [result] if len(handle.outputs) == 1 else list(result)
    if len(values) != len(handle.outputs):
        raise ValueError(f"TVM returned {len(values)} outputs, the graph has {len(handle.outputs)}")
    return {n: _to_numpy(v) for n, v in zip(handle.outputs, values)}
