"""OpenVINO, CPU plugin (standard library, numpy, onnx, openvino only).

Stages: "load" is `read_model` (the ONNX frontend, from bytes), "compile" is `compile_model`, "run"
is one synchronous inference. The CPU plugin's default INFERENCE_PRECISION_HINT is bf16 on CPUs with
bf16 units (it is on this machine), which would run float32 models in bfloat16 and make every
float32 comparison noise. We pin "f32": float32 models run in float32, and float16/bfloat16 models
run their arithmetic in float32 with the model's types at the edges, as ONNX Runtime's CPU kernels
mostly do. Rejected: EXECUTION_MODE_HINT=ACCURACY, which keeps the model's precision and so runs
float16 models in native float16 where the CPU has it: a legitimate mode, but one whose differences
from a float32-accumulating reference are mostly tolerance noise; `{"precision": "f16"}` etc. can
select other modes deliberately.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import numpy as np
import onnx
from boundary import widen
from stage import stage

NAME = "openvino"
# "Exception from src/inference/src/cpp/core.cpp:105:" lines: where OpenVINO rethrew, not what failed
_RETHROW = re.compile(r"^Exception from src/\S+:\d+:$")


class OpenVINOError(Exception):
    """An OpenVINO error, its message without the rethrow-location lines (the original is the cause)."""


@contextmanager
def _openvino_errors():
    try:
        yield
    except RuntimeError as e:
        lines = [line for line in str(e).splitlines() if line.strip() and not _RETHROW.match(line.strip())]
        raise OpenVINOError("\n".join(lines)) from e


def version() -> str:
    import openvino

    return openvino.__version__


class Compiled:
    def __init__(self, compiled, ports: list, boundary):
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.ports = ports  # (graph output name, OpenVINO output port), in graph output order
        self.boundary = boundary


def _port(compiled, name: str):
    for port in compiled.outputs:
        if name in port.get_names():
            return port
    raise KeyError(f"OpenVINO has no output named {name!r}; it has {[sorted(p.get_names()) for p in compiled.outputs]}")


def prepare(model: bytes, options: dict, extra: list[bytes]) -> Compiled:
    import openvino as ov

    core = ov.Core()
    with stage("load"), _openvino_errors():
        # the Python API has no bfloat16 arrays: bfloat16 graph inputs/outputs cross as float32 (boundary.py)
        proto, boundary = widen(onnx.load_from_string(model))
        if boundary:
            model = proto.SerializeToString()
        ov_model = core.read_model(model)
    config = {
        "INFERENCE_PRECISION_HINT": options.get("precision", "f32"),
        "INFERENCE_NUM_THREADS": int(options.get("threads", 1)),
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
    }
    with stage("compile"), _openvino_errors():
        compiled = core.compile_model(ov_model, "CPU", config)
    with stage("load"):
        ports = [(v.name, _port(compiled, v.name)) for v in proto.graph.output]
    return Compiled(compiled, ports, boundary)


def run(handle: Compiled, inputs: dict) -> dict:
    with _openvino_errors():
        result = handle.request.infer(handle.boundary.feeds(inputs))
    outputs = {name: np.array(result[port], copy=True) for name, port in handle.ports}
    return handle.boundary.results(outputs)
