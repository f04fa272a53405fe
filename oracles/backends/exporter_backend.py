"""Converters between PyTorch and ONNX: torch.onnx.export (dynamo and TorchScript) and onnx2torch.

Options select the converter:

    {"converter": "dynamo"}      torch.onnx.export(dynamo=True), the default exporter of torch 2.13
    {"converter": "legacy"}      torch.onnx.export(dynamo=False), the TorchScript tracer
    {"converter": "onnx2torch"}  onnx2torch.convert: ONNX -> torch.fx.GraphModule, run eagerly

The two exporters run in tensorsmith's interpreter (catalog entries with needs_graph): `extra[0]` is
the pickled `Graph`, the module exported is `fuzzer.graph.torch_module.GraphModule` (the specs' torch semantics),
and `run` does not compute outputs but returns the exported model, so that the caller can run any
backend on it (tensorsmith/converter.py). Their outputs are two uint8 arrays:

    EXPORTED  the serialized exported ModelProto ("export" stage: the exporter raised, crashed or hung)
    CHECKER   the ONNX checker's message on it, UTF-8; empty when the model is valid

Exporting happens in `run`, with the test's real inputs: the TorchScript tracer records the values it
sees, so exporting with placeholder inputs in `prepare` would test another trace. Rejected: running
ONNX Runtime here on the exported model, which would tie every converter to one runtime.
For testing the classification, {"fault": "abort"} kills the worker during the export (a crash) and
{"fault": "invalid"} appends a node the checker rejects to the exported model.

onnx2torch is an ordinary backend (ONNX bytes in, arrays out): "load" is the conversion, "run" the
converted module. Its package declares torchvision as a dependency, which would replace the CPU torch
with a CUDA build, so it is installed with --no-deps and torchvision, which it imports only for
NonMaxSuppression and RoiAlign (ops tensorsmith does not generate), is replaced by a stub that raises.
torch and tensorsmith are imported inside functions: a finding's repro.py embeds this file's source,
and the onnx2torch part must stand alone there.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import types

import numpy as np
import onnx
from stage import stage

NAME = "torch-exporter"
EXPORTED = "exported_model"
CHECKER = "checker_message"
EXPORTERS = ("dynamo", "legacy")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    import torch

    parts = [f"torch {torch.__version__}"]
    for dist in ("onnxscript", "onnx2torch"):
        try:
            parts.append(f"{dist} {dist_version(dist)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts)


class Exporter:
    def __init__(self, graph, module, options: dict):
        self.graph = graph
        self.module = module
        self.options = options


class Converted:
    def __init__(self, module, inputs: list[str], outputs: list[str]):
        self.module = module
        self.inputs = inputs
        self.outputs = outputs


def prepare(model: bytes, options: dict, extra: list[bytes]):
    import torch

    torch.set_num_threads(int(options.get("threads", 1)))
    converter = options.get("converter", "dynamo")
    if converter == "onnx2torch":
        return _convert_onnx(model)
    if converter not in EXPORTERS:
        raise ValueError(f"unknown converter {converter!r}; expected one of: {', '.join(EXPORTERS)}, onnx2torch")
    import pickle

    from fuzzer.graph.torch_module import GraphModule

    with stage("load"):
        graph = pickle.loads(extra[0])
        return Exporter(graph, GraphModule(graph).eval(), options)


def run(handle, inputs: dict) -> dict:
    if isinstance(handle, Converted):
        return _run_converted(handle, inputs)
    with stage("export"):
        if handle.options.get("fault") == "abort":
            os.abort()
        data = export(handle, inputs)
    if handle.options.get("fault") == "invalid":
        proto = onnx.load_from_string(data)
        proto.graph.node.append(onnx.helper.make_node("Relu", ["no_such_value"], ["injected_invalid"]))
        data = proto.SerializeToString()
    message = ""
    try:
        onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    except Exception as e:  # any checker complaint (ValidationError, InferenceError, a decode error) is data
        message = f"{type(e).__name__}: {e}"
    return {EXPORTED: np.frombuffer(data, dtype=np.uint8), CHECKER: np.frombuffer(message.encode(), dtype=np.uint8)}


def export(handle: Exporter, inputs: dict) -> bytes:
    """The exported model's bytes; graph inputs and outputs keep the generated graph's names."""
    import logging
    import warnings

    import torch
    from torch_backend import to_torch

    graph = handle.graph
    args = tuple(to_torch(inputs[n]) for n in graph.inputs)
    kw = {"input_names": list(graph.inputs), "output_names": list(graph.outputs), "verbose": False}
    if handle.options.get("opset"):
        kw["opset_version"] = int(handle.options["opset"])
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # progress lines; errors come back as exceptions
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if handle.options.get("converter", "dynamo") == "dynamo":
            with tempfile.TemporaryDirectory() as tmp:  # where a failing export may write its report
                program = torch.onnx.export(handle.module, args, dynamo=True, artifacts_dir=tmp, **kw)
            return program.model_proto.SerializeToString()
        buf = io.BytesIO()
        torch.onnx.export(handle.module, args, buf, dynamo=False, **kw)
        return buf.getvalue()


# --- onnx2torch ---------------------------------------------------------------------------------
def _stub_torchvision() -> None:
    """A torchvision whose ops raise, unless the real one is installed (see module docstring)."""
    try:
        import torchvision  # noqa: F401

        return
    except ImportError:
        pass

    def missing(*args, **kwargs):
        raise NotImplementedError("torchvision is not installed (onnx2torch needs it only for NMS and RoiAlign)")

    tv = types.ModuleType("torchvision")
    tv.ops = types.ModuleType("torchvision.ops")
    tv.ops.nms = tv.ops.roi_align = tv.ops.box_convert = missing
    sys.modules["torchvision"], sys.modules["torchvision.ops"] = tv, tv.ops


def _convert_onnx(model: bytes) -> Converted:
    _stub_torchvision()
    from onnx2torch import convert

    with stage("load"):
        proto = onnx.load_from_string(model)
        inits = {t.name for t in proto.graph.initializer}
        inputs = [v.name for v in proto.graph.input if v.name not in inits]
        return Converted(convert(proto).eval(), inputs, [v.name for v in proto.graph.output])


def _run_converted(handle: Converted, inputs: dict) -> dict:
    import ml_dtypes
    import torch

    def to_torch(a):
        a = np.asarray(a)
        if a.dtype == ml_dtypes.bfloat16:
            return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
        return torch.from_numpy(a.copy())

    def to_numpy(t):
        t = torch.as_tensor(t).detach()
        if t.dtype == torch.bfloat16:
            return t.contiguous().view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        return t.contiguous().numpy()

    with torch.no_grad():
        outs = handle.module(*[to_torch(inputs[n]) for n in handle.inputs])
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    if len(outs) != len(handle.outputs):
        raise ValueError(f"onnx2torch returned {len(outs)} outputs, the graph has {len(handle.outputs)}")
    for name, t in zip(handle.outputs, outs):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"onnx2torch returned a {type(t).__name__} for graph output {name!r}, not a tensor")
    return {n: to_numpy(t) for n, t in zip(handle.outputs, outs)}
