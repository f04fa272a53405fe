"""The converter paths with real workers: torch.onnx.export (dynamo, TorchScript), ONNX Runtime, onnx2torch."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate
from fuzzer.graph.onnx_io import to_onnx
from fuzzer.search import search
from fuzzer.spec.dtypes import DType
from oracles.backends.catalog import BackendConfigError, BackendKind, parse_backend
from oracles.judge import GAP, Verdict
from oracles.result import CRASH
from tensorsmith.check.cases import graph_from_json, graph_to_json
from tensorsmith.converter import (
    CHECKER,
    EXPORTED,
    INVALID_MODEL,
    ConverterPath,
    PathConfigError,
    category,
    exporter_spec,
    parse_labelled,
)

BACKENDS_DIR = Path(__file__).resolve().parents[2] / "oracles" / "backends"
RELU = GenConfig(max_nodes=3, ops=("Relu", "Add", "Mul"), dtypes=frozenset({DType.float32}))


def relu_case(seed: int = 0, cfg: GenConfig = RELU):
    """A small float32 graph containing a Relu, with clean inputs."""
    for s in range(seed, seed + 50):
        graph, _ = generate(cfg, s)
        if any(n.op == "Relu" for n in graph.nodes):
            found = search(graph, s, steps=50)
            if found.success:
                return graph, found.inputs, found.weights
    raise AssertionError("no Relu graph in 50 seeds")


@pytest.fixture(scope="module")
def dynamo():
    specs, labels = parse_labelled(["onnxruntime", "onnxruntime-injected"])
    with ConverterPath("export-dynamo", specs, labels=labels, timeout_s=120) as path:
        yield path


def test_dynamo_export_then_ort_matches_eager_and_the_injected_backend_does_not(dynamo) -> None:
    graph, inputs, weights = relu_case()
    result = dynamo.run_test(graph, inputs, weights)
    by = {v.backend: v for v in result.verdicts}
    assert by["torch-export-dynamo/onnxruntime"].ok, by
    bad = by["torch-export-dynamo/onnxruntime-injected"]
    assert (bad.kind, bad.stage, category(bad)) == ("wrong_result", "run", "wrong_result"), bad
    assert result.exported and not result.checker
    assert set(result.by_target) == set(dynamo.targets())


def test_exported_model_keeps_the_graph_names(dynamo) -> None:
    import onnx

    graph, inputs, weights = relu_case(seed=7)
    result = dynamo.run_test(graph, inputs, weights)
    proto = onnx.load_from_string(result.exported)
    assert [o.name for o in proto.graph.output] == graph.outputs


def _one_exporter(options: dict) -> ConverterPath:
    """The TorchScript exporter with a fault injected (it starts faster than dynamo; the fault is the same)."""
    spec = exporter_spec("legacy")
    path = ConverterPath("export-legacy", [parse_backend("onnxruntime")], timeout_s=120)
    path.exporter = replace(spec, kind=BackendKind(spec.module, dict(spec.kind.options, **options), needs_graph=True))
    return path


def test_an_exporter_crash_is_a_verdict_not_an_exception() -> None:
    graph, inputs, weights = relu_case()
    with _one_exporter({"fault": "abort"}) as path:
        result = path.run_test(graph, inputs, weights)
    [v] = result.verdicts
    assert (v.backend, v.kind, v.stage, category(v)) == ("torch-export-legacy", CRASH, "export", "export_crash")
    assert "SIGABRT" in v.message
    assert result.by_target["torch-export-legacy/onnxruntime"].kind == CRASH


def test_an_invalid_exported_model_is_classified_before_any_backend_runs() -> None:
    graph, inputs, weights = relu_case()
    with _one_exporter({"fault": "invalid"}) as path:
        result = path.run_test(graph, inputs, weights)
    [v] = result.verdicts
    assert (v.kind, v.stage, category(v)) == (INVALID_MODEL, "check", "invalid_model"), v
    assert "no_such_value" in result.checker
    assert "torch-export-legacy/onnxruntime" not in result.outcomes


def test_legacy_exporter_path() -> None:
    graph, inputs, weights = relu_case(seed=3)
    with ConverterPath("export-legacy", [parse_backend("onnxruntime")], timeout_s=120) as path:
        result = path.run_test(graph, inputs, weights)
        assert [v.kind for v in result.verdicts] == ["ok"], result.verdicts
        # an op the TorchScript exporter documents as unsupported at its opset is a gap, not a finding
        sinh = GenConfig(max_nodes=1, ops=("Sinh",), dtypes=frozenset({DType.float32}))
        graph, _ = generate(sinh, 0)
        found = search(graph, 0, steps=20)
        [v] = path.run_test(graph, found.inputs, found.weights).verdicts
        assert (v.kind, v.stage, category(v)) == (GAP, "export", "unsupported"), v


@pytest.mark.skipif(importlib.util.find_spec("onnx2torch") is None, reason="onnx2torch is not installed")
def test_onnx2torch_path_converts_and_reports_gaps() -> None:
    cfg = GenConfig(max_nodes=3, opset=13, ops=("Relu", "Add", "Mul"), dtypes=frozenset({DType.float32}))
    graph, inputs, weights = relu_case(cfg=cfg)
    with ConverterPath("onnx2torch", [parse_backend("onnxruntime")], timeout_s=120) as path:
        assert path.targets() == ["onnxruntime", "onnx2torch"]
        result = path.run_test(graph, inputs, weights)
        assert [v.kind for v in result.verdicts] == ["ok", "ok"], result.verdicts
        sinh = GenConfig(max_nodes=1, opset=13, ops=("Sinh",), dtypes=frozenset({DType.float32}))
        graph, _ = generate(sinh, 0)
        found = search(graph, 0, steps=20)
        v = path.run_test(graph, found.inputs, found.weights).by_target["onnx2torch"]
        assert (v.kind, v.stage) == (GAP, "load") and "Converter is not implemented" in v.message, v


@pytest.mark.parametrize(
    "verdict, expected",
    [
        (Verdict("x", "ok"), "ok"),
        (Verdict("x", "exception", "export"), "export_crash"),
        (Verdict("x", "timeout", "export"), "export_crash"),
        (Verdict("x", INVALID_MODEL, "check"), "invalid_model"),
        (Verdict("x", "exception", "load"), "load_failure"),
        (Verdict("x", "crash", "compile"), "load_failure"),
        (Verdict("x", "wrong_dtype", "run", output="t1"), "wrong_result"),
        (Verdict("x", "nan_mismatch", "run", output="t1"), "wrong_result"),
        (Verdict("x", "crash", "run"), "run_failure"),
        (Verdict("x", GAP, "export"), "unsupported"),
    ],
)
def test_category(verdict, expected) -> None:
    assert category(verdict) == expected


def test_labels_name_a_configuration_after_another() -> None:
    specs, labels = parse_labelled(["onnxruntime=onnxruntime-injected", f"onnxruntime-opt@{sys.executable}"])
    assert [s.kind_name for s in specs] == ["onnxruntime-injected", "onnxruntime-opt"]
    assert list(labels.values()) == ["onnxruntime", "onnxruntime-opt"]
    path = ConverterPath("export-legacy", specs, labels=labels)
    assert path.targets() == ["torch-export-legacy/onnxruntime", "torch-export-legacy/onnxruntime-opt"]
    with pytest.raises(BackendConfigError, match="'onnxruntime' is listed twice"):
        parse_labelled(["onnxruntime", "onnxruntime=onnxruntime-injected"])
    with pytest.raises(BackendConfigError, match="unknown backend 'onnxrt'"):
        parse_labelled(["onnxrt"])
    with pytest.raises(PathConfigError, match="unknown path 'export-tf'.*export-dynamo"):
        ConverterPath("export-tf", specs)


def test_worker_output_names_match(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(BACKENDS_DIR))  # backend modules import their siblings as the worker does
    import exporter_backend

    assert (exporter_backend.EXPORTED, exporter_backend.CHECKER) == (EXPORTED, CHECKER)


def test_graph_json_round_trip() -> None:
    for seed in range(40):
        graph, _ = generate(GenConfig(max_nodes=8), seed)
        back = graph_from_json(json.loads(json.dumps(graph_to_json(graph))))
        back.values = graph.values
        assert to_onnx(back).SerializeToString() == to_onnx(graph).SerializeToString(), seed
        assert [n.attrs for n in back.nodes] == [n.attrs for n in graph.nodes], seed
        for name, t in graph.tensors.items():
            u = back.tensors[name]
            assert (u.ttype, u.role, u.domain.lo, u.domain.hi) == (t.ttype, t.role, t.domain.lo, t.domain.hi)
            np.testing.assert_array_equal(u.domain.specials, t.domain.specials)  # NaN specials: != themselves
