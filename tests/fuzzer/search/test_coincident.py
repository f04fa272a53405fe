"""Exactly equal compared values: copies of one source are equal in every backend, values of two
sources only by rounding. Regression: a float16 Add whose sum (2.6044921875, halfway between two
float16 neighbours) rounded onto the value it was compared with; ONNX Runtime and OpenVINO rounded the
other way, and Less came out True there: three false alarms in one campaign."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from fuzzer.graph.onnx_io import to_onnx
from fuzzer.search import check
from fuzzer.spec.dtypes import DType
from tests.fuzzer.search.build import Chain

A, B, C = np.float16(1.267), np.float16(1.338), np.float16(2.605)


def test_a_sum_rounding_onto_the_compared_value_is_a_knife_edge() -> None:
    c = Chain()
    a, b, x = (c.input(n, DType.float16, (1,)) for n in ("a", "b", "x"))
    g = c.done(c.op("Less", c.op("Add", a, b), x))
    feeds = {"a": np.array([A]), "b": np.array([B]), "x": np.array([C])}
    assert np.float16(A + B) == C  # equal after float16 rounding, not in exact arithmetic
    assert any(v.reason == "Less of near-equal values" for v in check(g, feeds, {}))
    # the disagreement itself, with real ONNX Runtime: numpy's (and our reference's) float16 sum is
    # equal to x, so Less is False; ONNX Runtime's rounds down and says True
    assert not bool(np.float16(A + B) < C)
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    assert sess.run(None, feeds)[0].tolist() == [True]


def test_copies_of_one_source_may_be_equal() -> None:
    c = Chain()
    x = c.input("x", DType.float16, (3, 3))
    g = c.done(c.op("Less", c.op("Exp", x), c.op("Exp", c.op("Transpose", x, perm=[1, 0]))))
    v = np.array([[0.1, 0.7, -0.4], [1.3, 0.25, 0.9], [-0.8, 0.45, 0.6]], np.float16)
    assert not check(g, {"x": v}, {})  # the diagonal is equal in every backend


def test_a_selection_may_equal_what_it_selected() -> None:
    """Max(a, b) is exactly a wherever a is the larger, in every backend; so is Relu(a) where a > 0."""
    c = Chain()
    a, b = c.input("a", DType.float16, (6,)), c.input("b", DType.float16, (6,))
    c.op("Greater", c.op("Max", a, b), a)
    c.op("LessOrEqual", c.op("Relu", c.op("Exp", a)), c.op("Exp", a))
    g = c.done()
    feeds = {"a": np.linspace(-1, 1, 6).astype(np.float16), "b": np.linspace(1, -1, 6).astype(np.float16)}
    assert not check(g, feeds, {})


def test_identities_and_selecting_scatters_copy() -> None:
    """Regression (20 nodes, seed 595): Elu(s) is s where s > 0, a one-input Sum is its input, and a
    ScatterND with reduction min holds copies of its data and updates; equal to what they copy in
    every backend, so not knife edges. 456 such elements were left for the search to pull apart."""
    c = Chain()
    x = c.input("x", DType.float32, (2, 3))
    s = c.op("Exp", x)
    c.op("Greater", c.op("Elu", s), s)
    c.op("Less", c.op("Sum", s), s)
    top = c.op("ReduceMax", s, _mode="all", _axes=[], _empty_tensor=False, keepdims=1)
    scattered = c.op("ScatterND", c.op("Add", s, s), s, _k=1, reduction="min", _idx=[[0], [1]])
    c.op("LessOrEqual", top, scattered)
    g = c.done()
    assert not check(g, {"x": np.array([[0.1, 0.7, -0.4], [1.3, 0.25, 0.9]], np.float32)}, {})


def test_a_multiple_by_structure_is_exact_and_one_by_rounding_is_an_edge() -> None:
    """Mod(x, Neg(x)) is an exact 0 in every backend (20 nodes, seed 537, could not be cleaned);
    Mod of a float16 sum that rounds onto a multiple of the divisor is a knife edge."""
    c = Chain()
    x = c.op("Exp", c.input("x", DType.float16, (1,)))  # inexact
    g = c.done(c.op("Mod", x, c.op("Neg", x), fmod=1))
    assert not check(g, {"x": np.array([0.37], np.float16)}, {})
    c = Chain()
    a, b, x = (c.input(n, DType.float16, (1,)) for n in ("a", "b", "x"))
    g = c.done(c.op("Mod", c.op("Add", a, b), x, fmod=1))
    feeds = {"a": np.array([A]), "b": np.array([B]), "x": np.array([C])}
    assert any(v.reason == "dividend near a multiple of the divisor" for v in check(g, feeds, {}))


def test_values_equal_in_float64_too_are_equal_by_structure() -> None:
    """Regression (30 nodes, seed 271): Elu with alpha 0 makes an exact 0 of a negative x, and Sin
    of it is 0 again; GreaterOrEqual(Sin(y), y) there is equal in every backend, not a knife edge."""
    c = Chain()
    y = c.op("Elu", c.op("Neg", c.op("Exp", c.input("x", DType.float32, (4,)))), alpha=0.0)
    g = c.done(c.op("GreaterOrEqual", c.op("Sin", y), y))
    assert not check(g, {"x": np.array([0.1, -0.7, 1.3, 0.25], np.float32)}, {})
