"""Every backend, through its worker process, on generated models: the same numbers as onnx.reference.

The default run has one small smoke test per backend (simple float32 ops, where every backend
should agree with the reference); `-m slow` runs more and larger models and checks only that every
outcome is well-formed (failures there are findings about the backend, not about us).
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx.reference import ReferenceEvaluator

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate, leaf_values
from fuzzer.graph.onnx_io import to_onnx
from fuzzer.spec.dtypes import DType
from oracles.backends.catalog import parse_backend
from oracles.backends.process import BackendProcess
from oracles.result import KINDS, STAGES
from tests.oracles.backends.test_boundary import bf16_model

SIMPLE_OPS = ("Add", "Sub", "Mul", "Relu", "Neg", "Abs", "Transpose", "Reshape", "Concat", "Sigmoid", "Tanh", "MatMul")
SIMPLE = GenConfig(max_nodes=6, ops=SIMPLE_OPS, dtypes=frozenset({DType.float32}), max_elems=1024)
PACKAGE = {"tvm": "tvm", "openvino": "openvino", "iree": "iree.runtime", "torch-compile": "torch"}
# (backend, smoke models in the default run)
BACKENDS = [
    ("onnxruntime", 3),
    ("onnxruntime-opt", 3),
    ("reference", 3),
    ("torch", 3),
    ("torch-f64", 3),
    ("openvino", 3),
    ("tvm", 2),
    ("iree", 2),
    ("torch-compile", 1),
]


def case(cfg: GenConfig, seed: int):
    graph, _ = generate(cfg, seed)
    rng = np.random.default_rng(seed)
    return graph, to_onnx(graph), {n: leaf_values(rng, graph.tensors[n]) for n in graph.inputs}


def installed(name: str) -> bool:
    package = PACKAGE.get(name)
    return package is None or importlib.util.find_spec(package.split(".")[0]) is not None


@pytest.fixture(scope="module", params=[name for name, _ in BACKENDS])
def backend(request):
    if not installed(request.param):
        pytest.skip(f"{PACKAGE[request.param]} is not installed")
    with BackendProcess(parse_backend(request.param), timeout_s=120.0) as bp:
        yield bp


def assert_matches_reference(bp: BackendProcess, graph, model: onnx.ModelProto, feeds) -> None:
    out = bp.run(model.SerializeToString(), feeds, graph=graph)
    assert out.ok, f"{bp.spec.name}: {out.failure.kind}/{out.failure.stage}: {out.failure.message}"
    want = dict(zip(graph.outputs, ReferenceEvaluator(model).run(None, feeds)))
    assert list(out.outputs) == graph.outputs
    for name, w in want.items():
        got = out.outputs[name]
        assert got.shape == w.shape, name
        if bp.spec.kind.options.get("float64"):
            assert got.dtype == np.float64, name
        else:
            assert got.dtype == w.dtype, name
        scale = max(1.0, float(np.max(np.abs(w), initial=0.0)))
        np.testing.assert_allclose(got.astype(np.float64), w, rtol=1e-4, atol=1e-5 * scale, err_msg=name)


def test_smoke(backend) -> None:
    count = dict(BACKENDS)[backend.spec.name]
    assert backend.version
    for seed in range(count):
        assert_matches_reference(backend, *case(SIMPLE, seed))


@pytest.mark.parametrize("name", ["onnxruntime", "openvino", "iree"])
def test_bfloat16_boundary_is_exact(name: str) -> None:
    """Backends whose Python API has no bfloat16 see float32 at the edges (boundary.py); values are exact."""
    if not installed(name):
        pytest.skip(f"{name} is not installed")
    model = bf16_model()
    feeds = {"x": np.array([1.5, 2.25, -3.0], ml_dtypes.bfloat16), "y": np.asarray(0.1, ml_dtypes.bfloat16)}
    want = ReferenceEvaluator(model).run(None, feeds)
    with BackendProcess(parse_backend(name), timeout_s=120.0) as bp:
        out = bp.run(model.SerializeToString(), feeds)
    assert out.ok, out.failure
    for (n, got), w in zip(out.outputs.items(), want):
        assert (got.dtype, got.shape) == (w.dtype, w.shape), n
        np.testing.assert_array_equal(got.astype(np.float32), w.astype(np.float32), err_msg=n)


@pytest.mark.slow
def test_simple_models(backend) -> None:
    for seed in range(10, 20):
        assert_matches_reference(backend, *case(replace(SIMPLE, max_nodes=12), seed))


@pytest.mark.slow
def test_any_model_gives_a_well_formed_outcome(backend) -> None:
    """Any generated model: outputs named and shaped as the graph says, or a failure value."""
    for seed in range(12):
        graph, model, feeds = case(GenConfig(max_nodes=10), seed)
        out = backend.run(model.SerializeToString(), feeds, graph=graph)
        if out.ok:
            assert list(out.outputs) == graph.outputs
        else:
            assert out.failure.kind in KINDS and out.failure.stage in STAGES, out.failure
