"""bfloat16 at graph inputs/outputs crosses as float32, exactly, and the model in between is unchanged."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from oracles.backends.boundary import bf16_to_f32, f32_to_bf16_bits, widen

BF16 = TensorProto.BFLOAT16
NAMES = ["p", "f", "x", "w", "z"]


def test_bf16_to_f32_is_exact_and_keeps_shape() -> None:
    bits = np.arange(0, 1 << 16, 7, dtype=np.uint16)
    a = bits.view(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(bf16_to_f32(a), a.astype(np.float32))
    np.testing.assert_array_equal(bf16_to_f32(bits), a.astype(np.float32))  # uint16 bits (old environments)
    assert bf16_to_f32(np.asarray(1.5, dtype=ml_dtypes.bfloat16)).shape == ()


def test_f32_to_bf16_rounds_like_ml_dtypes() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.standard_normal(5000).astype(np.float32) * 10.0 ** rng.integers(-40, 39, 5000),
            np.array([1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8), 3.3895e38, np.inf, -np.inf, 0.0, -0.0], np.float32),
        ]
    ).astype(np.float32)
    np.testing.assert_array_equal(f32_to_bf16_bits(x), x.astype(ml_dtypes.bfloat16).view(np.uint16))
    assert np.isnan(f32_to_bf16_bits(np.float32([np.nan])).view(ml_dtypes.bfloat16)).all()
    assert f32_to_bf16_bits(np.asarray(2.0, np.float32)).shape == ()


def bf16_model() -> onnx.ModelProto:
    """x, y: bfloat16 inputs; outputs: a bf16 value used again inside, an input, an initializer, a scalar.

    Only ops ORT's CPU provider has bfloat16 kernels for (it has no bfloat16 arithmetic)."""
    w = numpy_helper.from_array(np.array([0.5, -2.0, 3.0], dtype=ml_dtypes.bfloat16), "w")
    nodes = [
        helper.make_node("Concat", ["x", "w"], ["p"], axis=0),
        helper.make_node("Cast", ["p"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Identity", ["y"], ["z"]),
    ]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes,
        "g",
        [vi("x", BF16, [3]), vi("y", BF16, [])],
        [
            vi("p", BF16, [6]),
            vi("f", TensorProto.FLOAT, [6]),
            vi("x", BF16, [3]),
            vi("w", BF16, [3]),
            vi("z", BF16, []),
        ],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def test_widened_model_runs_in_ort_and_matches_the_original() -> None:
    model = bf16_model()
    onnx.checker.check_model(model, full_check=True)
    wide, boundary = widen(model)
    onnx.checker.check_model(wide, full_check=True)
    assert boundary.inputs == ("x", "y") and boundary.outputs == ("p", "x", "w", "z")
    feeds = {"x": np.array([1.5, 2.25, -3.0], ml_dtypes.bfloat16), "y": np.asarray(0.1, ml_dtypes.bfloat16)}
    want = dict(zip(NAMES, ReferenceEvaluator(model).run(None, feeds)))
    sess = ort.InferenceSession(wide.SerializeToString(), providers=["CPUExecutionProvider"])
    got = boundary.results(dict(zip(NAMES, sess.run(None, boundary.feeds(feeds)))))
    for name, w in want.items():
        assert got[name].dtype == w.dtype and got[name].shape == w.shape, name
        np.testing.assert_array_equal(got[name].astype(np.float32), w.astype(np.float32), err_msg=name)


def test_model_without_bfloat16_is_untouched() -> None:
    model = bf16_model()
    for v in list(model.graph.input) + list(model.graph.output):
        v.type.tensor_type.elem_type = TensorProto.FLOAT
    same, boundary = widen(model)
    assert same is model and not boundary
