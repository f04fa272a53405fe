"""Backend names users can ask for, and how each is run (module, options, which interpreter).

A backend is a module in this folder that the worker loads by name; a configured backend is that
module with options. Users write `NAME` or `NAME@/path/to/python` (run that backend with another
Python environment, e.g. a locally built compiler or another release).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field


class BackendConfigError(ValueError):
    """A backend name or interpreter path that cannot work (reported to the user at once, exit 2)."""


@dataclass(frozen=True)
class BackendKind:
    module: str
    options: dict = field(default_factory=dict)
    needs_graph: bool = False  # gets the pickled tensorsmith Graph (torch backends; our interpreter only)
    doc: str = ""
    # the widest float the backend documents computing in: float64 outputs of one that computes in float32
    # are judged at float32 tolerance (a documented precision, not a bug)
    widest_float: str = "float64"


CATALOG: dict[str, BackendKind] = {
    "onnxruntime": BackendKind("ort_backend", {"opt": "disable_all"}, doc="ONNX Runtime CPU, optimizations off"),
    "onnxruntime-opt": BackendKind("ort_backend", {"opt": "enable_all"}, doc="ONNX Runtime CPU, all optimizations"),
    "onnxruntime-injected": BackendKind(
        "ort_backend",
        {"opt": "disable_all", "inject_op": "Relu", "inject_delta": 1.0},
        doc="ONNX Runtime with a known wrong result injected (Relu + 1): for testing the oracle and CI gates",
    ),
    "tvm": BackendKind("tvm_backend", {}, doc="TVM Relax ONNX frontend, llvm target, Relax VM"),
    # the CPU plugin's inference precisions are f32, bf16 and f16 (docs.openvino.ai, "CPU Device"); we pin f32
    "openvino": BackendKind("openvino_backend", {}, doc="OpenVINO CPU plugin", widest_float="float32"),
    "reference": BackendKind("onnxref_backend", {}, doc="onnx.reference.ReferenceEvaluator"),
    "iree": BackendKind("iree_backend", {}, doc="IREE llvm-cpu (via iree-import-onnx)"),
    "torch": BackendKind("torch_backend", {}, needs_graph=True, doc="PyTorch eager from the specs"),
    "torch-f64": BackendKind("torch_backend", {"float64": True}, needs_graph=True, doc="float64 reference"),
    "torch-compile": BackendKind("torch_backend", {"compile": True}, needs_graph=True, doc="torch.compile (Inductor)"),
    "onnx2torch": BackendKind(
        "exporter_backend", {"converter": "onnx2torch"}, doc="onnx2torch: ONNX -> torch.fx module, run eagerly"
    ),
}


@dataclass(frozen=True)
class BackendSpec:
    """A backend as the user configured it."""

    name: str  # as written, e.g. "onnxruntime@/opt/ort120/bin/python"
    kind_name: str
    kind: BackendKind
    python: str

    @property
    def module(self) -> str:
        return self.kind.module


def parse_backend(text: str) -> BackendSpec:
    """Parse `NAME` or `NAME@PYTHON`; raise BackendConfigError naming the value and the choices."""
    name, _, python = text.strip().partition("@")
    if name not in CATALOG:
        raise BackendConfigError(f"unknown backend {name!r}; expected one of: {', '.join(CATALOG)}")
    kind = CATALOG[name]
    if python:
        if kind.needs_graph:
            raise BackendConfigError(f"backend {name!r} runs only in tensorsmith's own Python, not {python!r}")
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise BackendConfigError(f"interpreter {python!r} for backend {name!r} is not an executable file")
    return BackendSpec(text.strip(), name, kind, python or sys.executable)


def parse_backends(text: str) -> list[BackendSpec]:
    specs = [parse_backend(t) for t in text.split(",") if t.strip()]
    if not specs:
        raise BackendConfigError(f"no backend in {text!r}; expected a comma-separated list of: {', '.join(CATALOG)}")
    names = [s.name for s in specs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise BackendConfigError(f"backend {sorted(dup)[0]!r} is listed twice")
    return specs
