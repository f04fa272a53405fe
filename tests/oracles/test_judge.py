"""The oracle: comparison, documented precisions, support gaps and attribution, with real backends where they matter."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from onnx import TensorProto, helper

from oracles.backends.catalog import parse_backend
from oracles.backends.process import BackendProcess
from oracles.compare import NAN_MISMATCH, OK, WRONG_DTYPE, WRONG_RESULT, WRONG_SHAPE, compare, tolerance_dtype
from oracles.gaps import gap_key, normalise
from oracles.judge import GAP, Verdict, attribute, judge
from oracles.result import EXCEPTION, Failure, Outcome

F32 = {"y": ("float32", (3,))}


def test_exact_types_and_integers() -> None:
    r = {"y": np.array([1, 2, 3], dtype=np.int64)}
    exp = {"y": ("int64", (3,))}
    assert compare({"y": np.array([1, 2, 3], dtype=np.int64)}, exp, r, r).kind == OK
    assert compare({"y": np.array([1, 2, 4], dtype=np.int64)}, exp, r, r).kind == WRONG_RESULT
    assert compare({"y": np.array([1, 2, 3], dtype=np.int32)}, exp, r, r).kind == WRONG_DTYPE
    assert compare({"y": np.array([[1, 2, 3]], dtype=np.int64)}, exp, r, r).kind == WRONG_SHAPE


def test_floats_within_noise_pass_and_beyond_fail() -> None:
    r64 = {"y": np.array([1.0, 2.0, 3.0])}
    r32 = {"y": r64["y"].astype(np.float32)}
    near = {"y": np.array([1.0, 2.0, 3.0 + 3e-6], dtype=np.float32)}
    far = {"y": np.array([1.0, 2.0, 3.01], dtype=np.float32)}
    assert compare(near, F32, r32, r64).kind == OK
    assert compare(far, F32, r32, r64).kind == WRONG_RESULT
    nan = {"y": np.array([1.0, np.nan, 3.0], dtype=np.float32)}
    assert compare(nan, F32, r32, r64).kind == NAN_MISMATCH


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino not installed")
def test_openvino_float64_is_judged_at_its_documented_float32_precision() -> None:
    """Regression (bench/results/findings.md): OpenVINO's CPU plugin computes float64 graphs in float32,
    which it documents; 106 findings of a 40-minute campaign were that rounding, judged at float64 tolerance."""
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, [64, 64])
    y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, [64, 64])
    nodes = [helper.make_node("MatMul", ["x", "x"], ["m"]), helper.make_node("Exp", ["m"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 21)])
    xv = np.random.default_rng(0).uniform(-0.3, 0.3, (64, 64))
    ref = {"y": np.exp(xv @ xv)}
    with BackendProcess(parse_backend("openvino")) as p:
        out = p.run(model.SerializeToString(), {"x": xv})
    assert out.ok, out.failure
    exp = {"y": ("float64", (64, 64))}
    assert compare(out.outputs, exp, ref, ref).kind == WRONG_RESULT  # float32 rounding at float64 tolerance
    assert judge(out, "openvino", exp, ref, ref).kind == OK
    wrong = {"y": out.outputs["y"] * 1.001}
    assert judge(Outcome("openvino", "", outputs=wrong), "openvino", exp, ref, ref).kind == WRONG_RESULT
    assert judge(Outcome("tvm", "", outputs=out.outputs), "tvm", exp, ref, ref).kind == WRONG_RESULT


@pytest.mark.parametrize(
    "kind, message",
    [
        ("tvm", "InternalError: layer_norm: only support float32 and float16 for now (check failed: (data"),
        ("tvm", "ValueError: Only resize1d/resize2d/resize3d are supported."),
        ("tvm", "ValueError: GroupNormalization currently only supports stash_type=1 (FLOAT), but got stash_type=0"),
        ("openvino", "OpenVINOError: [CPU] Interpolate node with name 'v3' only supports resize on spatial dims"),
    ],
)
def test_stated_limitations_are_support_gaps(kind: str, message: str) -> None:
    """Regression (bench/results/findings.md): these stated limitations were reported as findings."""
    assert gap_key(kind, Failure(EXCEPTION, "compile", message)) is not None


def test_a_plain_error_stays_a_finding() -> None:
    msg = "OpenVINOError: Tile repeats must be of rank 1 (check repeats_rank.compatible(1) in tile_shape_inference)"
    assert gap_key("openvino", Failure(EXCEPTION, "load", msg)) is None
    assert judge(Outcome("openvino", "", failure=Failure(EXCEPTION, "load", msg)), "openvino", F32, {}, {}).is_finding


def test_openvino_node_names_do_not_split_one_gap() -> None:
    a = "While validating ONNX node '<Node(Pad): n3>': Exception from src/core/pad.cpp:12: not supported"
    b = "While validating ONNX node '<Node(Pad): n12>': Exception from src/core/pad.cpp:12: not supported"
    assert normalise(a) == normalise(b)
    assert "<Node(Pad)>" in normalise(a)


def test_attribution_blames_the_reference_when_every_backend_disagrees_alike() -> None:
    w = [Verdict("a", WRONG_RESULT, "run", output="y"), Verdict("b", WRONG_RESULT, "run", output="y")]
    assert attribute(w, {"a": "onnxruntime", "b": "tvm"}) == {"a": "reference?", "b": "reference?"}
    # regression: TVM and OpenVINO wrong alike while ONNX Runtime had no kernel were two real bugs
    assert attribute(w, {"a": "tvm", "b": "openvino"}) == {"a": "backend", "b": "backend"}
    gap = Verdict("c", GAP, "load", gap="onnxruntime: no kernel")
    assert attribute([*w, gap], {"a": "tvm", "b": "openvino", "c": "onnxruntime"}) == {"a": "backend", "b": "backend"}
    mixed = [Verdict("a", WRONG_RESULT, "run", output="y"), Verdict("b", OK), Verdict("c", GAP, gap="k")]
    assert attribute(mixed) == {"a": "backend"}


def test_tolerance_follows_the_coarsest_float_computed_on_the_way() -> None:
    """Regression (bench/results/findings.md, seed742): a float16 Mish cast to float32 was one float16
    ulp off in TVM and judged at float32 tolerance: a false alarm."""
    from fuzzer.spec.dtypes import DType
    from tests.fuzzer.search.build import Chain

    c = Chain()
    x = c.input("x", DType.float16, (4,))
    y = c.op("Cast_any", c.op("Mish", x), to=1)
    c.graph.outputs = [y]
    assert c.graph.path_floats() == {y: {"float16", "float32"}}
    r64 = {y: np.array([0.25, 0.5, 1.25, 2.75])}  # exact in float16: the float32 reference has no error
    r32 = {y: r64[y].astype(np.float32)}
    ulp_off = {y: r32[y] + np.array([0, 0, 2.0**-10, 0], dtype=np.float32)}  # one float16 ulp at 1.25
    exp = {y: ("float32", (4,))}
    assert compare(ulp_off, exp, r32, r64).kind == WRONG_RESULT  # the output's own dtype: a false alarm
    assert compare(ulp_off, exp, r32, r64, precision=c.graph.path_floats()).kind == OK
    far = {y: r32[y] * 1.1}
    assert compare(far, exp, r32, r64, precision=c.graph.path_floats()).kind == WRONG_RESULT


def test_tolerance_dtype() -> None:
    assert tolerance_dtype("float32", {"float32"}) == "float32"
    assert tolerance_dtype("float32", {"float64", "bfloat16"}) == "bfloat16"
    assert tolerance_dtype("float64", {"float64"}, widest="float32") == "float32"
    assert tolerance_dtype("float64", {"float16"}, widest="float32") == "float16"
    assert tolerance_dtype("int64", {"float16"}) == "int64"
