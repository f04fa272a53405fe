"""Exact ties of ArgMax/ArgMin/TopK/Hardmax: copies of one value are tied in every backend and broken
by the ONNX tie rule; values tied only after rounding are a knife edge, as a backend may round the
other way. Judged by the values in float64 (trace.Wide): equal there too, the tie is a copy."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from fuzzer.graph.onnx_io import to_onnx
from fuzzer.graph.torch_run import run_torch
from fuzzer.search import check
from fuzzer.spec.dtypes import DType
from tests.fuzzer.search.build import Chain

# a float16 sum that rounds onto C in numpy and our reference, and below it in ONNX Runtime
A, B, C = np.float16(1.267), np.float16(1.338), np.float16(2.605)
ARG = {"axis": 0, "keepdims": 0, "select_last_index": 0}


def test_a_sum_rounded_onto_its_neighbour_is_a_tie_edge() -> None:
    """Regression: every exact tie was taken as a copy, so this model passed the search and its
    ArgMax differed between our reference (index 0, the first of the tie) and ONNX Runtime (1)."""
    c = Chain()
    a, b, x = (c.input(n, DType.float16, (1,)) for n in ("a", "b", "x"))
    g = c.done(c.op("ArgMax", c.op("Concat", c.op("Add", a, b), x, axis=0), **ARG))
    feeds = {"a": np.array([A]), "b": np.array([B]), "x": np.array([C])}
    assert any(v.reason == "ArgMax tie or near-tie" for v in check(g, feeds, {}))
    ours = run_torch(g, feeds)[g.outputs[0]]
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    assert int(ours) == 0 and int(sess.run(None, feeds)[0]) == 1


def test_copies_of_one_value_may_tie() -> None:
    c = Chain()
    x = c.input("x", DType.float32, (3,))
    c.op("ArgMax", c.op("Concat", x, c.op("Identity", x), axis=0), **ARG)
    c.op("TopK", c.op("Relu", x), c.weight("k", [2], DType.int64), n_out=2, axis=0, largest=1, sorted=1, _k=2)
    g = c.done()
    assert not check(g, {"x": np.array([0.7, -1.5, -0.25], np.float32)}, {})  # Relu's two 0s tie


def test_a_saturation_by_rounding_is_a_tie_edge() -> None:
    """tanh(9) and tanh(10) are both 1.0 in float32, not in float64: a backend's tanh may give
    0.99999994 for one of them."""
    c = Chain()
    x = c.input("x", DType.float32, (2,))
    g = c.done(c.op("ArgMin", c.op("Tanh", x), **ARG))
    assert any(v.reason == "ArgMin tie or near-tie" for v in check(g, {"x": np.array([9.0, 10.0], np.float32)}, {}))
