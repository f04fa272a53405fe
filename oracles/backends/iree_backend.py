"""IREE, llvm-cpu target, local-sync driver (standard library, numpy, onnx, iree-base-compiler/-runtime only).

Stages: "load" is IREE's ONNX importer (ONNX -> torch-mlir `onnx.*` operators, as
`iree-import-onnx` does, after ONNX shape inference with data propagation), "compile" is
`iree-compile --iree-input-type=onnx` to a VM flatbuffer (a child process of the worker, so the
worker's timeout also ends it), "run" is one call through the runtime's single-threaded
`local-sync` driver. bfloat16 graph inputs/outputs cross as float32 (boundary.py): the runtime's
numpy interop has no bfloat16.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import sys

import numpy as np
import onnx
from boundary import widen
from stage import stage

NAME = "iree"


def version() -> str:
    from importlib.metadata import version as dist_version

    return f"compiler {dist_version('iree-base-compiler')}, runtime {dist_version('iree-base-runtime')}"


class CompileError(Exception):
    """iree-compile failed: the message is its first diagnostic (the full output is the chained cause)."""


def _first_error(text: str) -> str:
    found = re.search(r"(?:error|ERROR): (.*)", text)
    return found.group(1).strip() if found else text.strip().splitlines()[0]


def _compile_failed(e: Exception, *, crash_as_signal: bool):
    """Raise CompileError for a diagnosed failure; if iree-compile died of a signal, die of it too.

    A compiler crash is a crash of the backend under test, so the worker reports it the way the
    host classifies crashes (kind "crash", the signal, the compiler's stack dump in the log), at
    the cost of one worker restart. Rejected: an exception naming the signal, which the campaign
    would file with ordinary diagnosed compile errors.
    """
    text = str(e)
    code = re.search(r"Error code: (-?\d+)", text)
    if crash_as_signal and code and int(code.group(1)) < 0:
        sig = -int(code.group(1))
        sys.stderr.write(f"iree-compile died of signal {sig}:\n{text}\n")
        sys.stderr.flush()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sig != signal.SIGKILL:
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    raise CompileError(_first_error(text)) from e


def _import(proto: onnx.ModelProto) -> tuple[str, str, list[str]]:
    from iree.compiler.extras import onnx_importer
    from iree.compiler.ir import Context

    proto = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    info = onnx_importer.ModelInfo(proto)
    module = info.create_module(context=Context()).operation
    onnx_importer.NodeImporter.define_function(info.main_graph, module).import_all()
    module.verify()
    return module.get_asm(), info.main_graph.graph_proto.name, list(info.main_graph.input_map)


class Compiled:
    def __init__(self, function, inputs: list[str], outputs: list[onnx.ValueInfoProto], boundary):
        self.function = function
        self.inputs = inputs
        self.outputs = [v.name for v in outputs]
        self.dtypes = [np.dtype(onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type)) for v in outputs]
        self.boundary = boundary


def _as_declared(a: np.ndarray, want: np.dtype) -> np.ndarray:
    """Reinterpret an integer result in the graph's type: IREE's integers are signless, so a
    uint8 tensor comes back as int8 with the same bits (and bool as i8). Floats are never touched."""
    if a.dtype != want and a.dtype.itemsize == want.itemsize and a.dtype.kind in "iub" and want.kind in "iub":
        return a.view(want)
    return a


def prepare(model: bytes, options: dict, extra: list[bytes]) -> Compiled:
    import iree.compiler as compiler
    import iree.runtime as runtime

    with stage("load"):
        proto, boundary = widen(onnx.load_from_string(model))
        asm, func_name, inputs = _import(proto)
    with stage("compile"):
        # IREE demotes float64 to float32 by default: a float64 model must run in float64
        flags = ["--iree-llvmcpu-target-cpu=" + options.get("cpu", "host"), "--iree-input-demote-f64-to-f32=false"]
        try:
            vmfb = compiler.compile_str(asm, target_backends=["llvm-cpu"], input_type="onnx", extra_args=flags)
        except compiler.CompilerToolError as e:
            _compile_failed(e, crash_as_signal=options.get("crash_as_signal", True))
        config = runtime.Config("local-sync")
        context = runtime.SystemContext(config=config)
        context.add_vm_module(runtime.VmModule.copy_buffer(config.vm_instance, vmfb))
        function = context.modules.module[func_name]
    return Compiled(function, inputs, list(proto.graph.output), boundary)


def run(handle: Compiled, inputs: dict) -> dict:
    feeds = handle.boundary.feeds(inputs)
    result = handle.function(*[feeds[n] for n in handle.inputs])
    values = list(result) if isinstance(result, (list, tuple)) else [result]
    if len(values) != len(handle.outputs):
        raise ValueError(f"IREE returned {len(values)} outputs, the graph has {len(handle.outputs)}")
    outputs = {
        n: _as_declared(np.array(v.to_host() if hasattr(v, "to_host") else v), want)
        for n, v, want in zip(handle.outputs, values, handle.dtypes)
    }
    return handle.boundary.results(outputs)
