"""ONNX Runtime, CPU execution provider (standard library, numpy, onnx, onnxruntime only)."""

from __future__ import annotations

import onnx
from boundary import widen
from inject import perturb
from stage import stage

NAME = "onnxruntime"


def version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def prepare(model: bytes, options: dict, extra: list[bytes]):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    level = options.get("opt", "disable_all")
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f"ORT_{level.upper()}")
    opts.intra_op_num_threads = int(options.get("threads", 1))
    opts.inter_op_num_threads = 1
    # ORT's Python API has no bfloat16 arrays: bfloat16 graph inputs/outputs cross as float32 (boundary.py)
    with stage("load"):  # ORT wraps load and graph-optimisation errors alike; both are "load" here
        proto, boundary = widen(onnx.load_from_string(model))
        if options.get("inject_op"):  # a deliberate wrong result (catalog: onnxruntime-injected)
            proto = perturb(proto, options["inject_op"], float(options.get("inject_delta", 1.0)))
        if boundary or options.get("inject_op"):
            model = proto.SerializeToString()
        sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    return sess, boundary


def run(handle, inputs: dict) -> dict:
    sess, boundary = handle
    names = [o.name for o in sess.get_outputs()]
    # keep the widened feeds alive until the results are converted: ORT <= 1.20 returns a graph input
    # that is also a graph output as a view of the caller's array without holding a reference to it
    feeds = boundary.feeds(inputs)
    outputs = boundary.results(dict(zip(names, sess.run(names, feeds))))
    del feeds
    return outputs
