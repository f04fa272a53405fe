"""Normalizations of near-equal values: the search spreads them (or shrinks a lone value) so that
rounding in the variance cannot make correct backends disagree. Checked with real ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch

from fuzzer.graph.onnx_io import to_onnx
from fuzzer.search import check, search
from fuzzer.spec.dtypes import DType
from tests.fuzzer.search.build import Chain

TOL = 1e-5 + 1e-4  # float32: atol * scale (scale ~1) + rtol * |y| (|y| <= ~1.7)


def ort_error(graph, inputs: dict, weights: dict) -> float:
    """ONNX Runtime's largest distance from the float64 GroupNormalization of the same values."""
    model = to_onnx(graph.__class__(**{**graph.__dict__, "values": {**graph.values, **weights}}))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, inputs)
    x = weights.get("x", inputs.get("x")).astype(np.float64).reshape(2, 4, -1)
    m = x.mean(-1, keepdims=True)
    ref = ((x - m) / np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + 1e-5)).reshape(y.shape)
    return float(np.abs(y - ref).max())


def near_equal_group_norm() -> tuple:
    c = Chain()
    x = c.weight("x", 2.0 + 1e-3 * np.random.default_rng(0).standard_normal((2, 8, 4)))
    y = c.op("GroupNormalization", x, c.weight("s", np.ones(8)), c.weight("b", np.zeros(8)), num_groups=4)
    return c.done(y)


def test_near_equal_values_are_a_knife_edge_and_get_spread() -> None:
    g = near_equal_group_norm()
    start = {n: g.values[n] for n in g.weights}
    assert any(v.reason == "normalization of near-equal values" for v in check(g, {}, start))
    assert ort_error(g, {}, start) > TOL  # the false alarm: ONNX Runtime is 1e-2 off the float64 result
    r = search(g, 0, steps=50)
    assert r.success, [str(v) for v in r.violations]
    assert ort_error(g, {}, r.weights) < TOL


def test_copies_of_one_value_are_kept_small_against_epsilon() -> None:
    """ONNX Runtime's InstanceNormalization of three copies of a value in [-3, 3] is up to 1.2e-4 off the
    bias (a one-ulp error in the mean over sqrt(epsilon)); over one element it is exact."""
    c = Chain()
    x = c.input("x", DType.float32, (3, 2, 1))
    y = c.op(
        "InstanceNormalization",
        c.op("Tile", x, _repeats=[1, 1, 3]),
        c.weight("s", np.ones(2)),
        c.weight("b", np.full(2, 0.5)),
    )
    g = c.done(y)
    big = {"x": np.full((3, 2, 1), 2.5, np.float32)}
    assert any(v.reason == "normalization of near-equal values" for v in check(g, big, dict(g.values)))
    r = search(g, 0, steps=50)
    assert r.success, [str(v) for v in r.violations]
    assert np.abs(r.inputs["x"]).max() ** 2 <= 1e-5 / 1.2e-3  # (var + eps) / mean(x^2) above u / (10 atol)
    one = Chain()
    x1 = one.input("x", DType.float32, (3, 2, 1))
    g1 = one.done(one.op("InstanceNormalization", x1, one.weight("s", np.ones(2)), one.weight("b", np.full(2, 0.5))))
    assert not check(g1, big, dict(g1.values))


def test_spread_values_pass() -> None:
    g = near_equal_group_norm()
    spread = {"x": torch.linspace(-2, 2, 64, dtype=torch.float64).reshape(2, 8, 4).numpy().astype(np.float32)}
    assert not check(g, {}, {**dict(g.values), **spread})


def test_copies_of_an_exact_integer_are_still_a_knife_edge() -> None:
    """Why GroupNormalization of Sign(...)'s all-1s (20 nodes, seed 244) stays a knife edge though
    its statistics are exact: ONNX Runtime's InstanceNormalization computes x * a + (bias - mean * a)
    with a = scale / sqrt(eps), and returns the bias an ulp of a off (-2.2900085 for -2.29)."""
    c = Chain()
    x = c.input("x", DType.float32, (1, 2, 3, 4))
    ones = c.op("Sign", c.op("Exp", x))
    c.op("InstanceNormalization", ones, c.weight("s", [1.5, 0.5]), c.weight("b", [-2.29, 0.7]))
    g = c.done()
    feeds = {"x": np.random.default_rng(1).standard_normal((1, 2, 3, 4)).astype(np.float32)}
    assert any(v.reason == "normalization of near-equal values" for v in check(g, feeds, {}))
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, feeds)
    assert (y != np.array([-2.29, 0.7], np.float32).reshape(1, 2, 1, 1)).any()
