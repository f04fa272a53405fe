"""Integer results that backends may rightly compute apart, found reading the findings benchmark:
reductions whose exact total leaves the dtype (NumPy and torch wrap, ONNX Runtime's CPU kernels
saturate), and powers of an inexact float exponent truncated to an integer near a whole number."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from fuzzer.graph.onnx_io import to_onnx
from fuzzer.graph.torch_run import run_torch
from fuzzer.search import check, search
from fuzzer.spec.base import Domain
from fuzzer.spec.dtypes import DType
from tests.fuzzer.search.build import Chain

ALL = {"_mode": "all", "_axes": [], "_empty_tensor": False, "keepdims": 1}
# the values of a finding of the findings benchmark (seed 500536): the product is 6.0e10
FOUND = np.array([-8, 38, 2, 14, -9, 13, -8, 9, 28, -30], dtype=np.int32)


def graph(op: str, dtype: DType = DType.int32, n: int = 10):
    c = Chain()
    return c.done(c.op(op, c.input("x", dtype, (n,), Domain(-40.0, 40.0)), **ALL))


def ort_run(g, feeds: dict) -> np.ndarray:
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def test_an_overflowing_product_is_a_violation_and_the_search_keeps_it_inside() -> None:
    """Regression: ONNX Runtime gave 2147483647 (saturated), our reference 102731776 (wrapped), and
    the campaign reported a wrong result of ONNX Runtime."""
    g = graph("ReduceProd")
    feeds = {"x": FOUND}
    assert [v.reason for v in check(g, feeds, {})] == ["ReduceProd total outside int32"]
    assert int(ort_run(g, feeds).item()) == 2**31 - 1 != int(run_torch(g, feeds)[g.outputs[0]].item())
    r = search(g, 0, steps=100)
    assert r.success and abs(np.prod(r.inputs["x"].astype(np.float64))) < 2**31
    assert ort_run(g, r.inputs).tobytes() == run_torch(g, r.inputs)[g.outputs[0]].tobytes()


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceL1", "ReduceSumSquare", "ReduceL2"])
def test_sums_leaving_int8_are_violations_and_small_ones_are_not(op: str) -> None:
    g = graph(op, DType.int8, 4)
    big, small = np.array([100, 90, 80, 70], np.int8), np.array([3, -2, 1, 2], np.int8)
    assert [v.reason for v in check(g, {"x": big}, {})] == [f"{op} total outside int8"]
    assert check(g, {"x": small}, {}) == []


def test_the_overflow_need_is_left_out_only_where_it_is_inert() -> None:
    """losses.generic leaves out the overflow Need of an output far below LIMIT (no penalty, no
    violation either way) and keeps it nearer: a float32 output of 5e9 (LIMIT 1e10) still gets it."""
    import torch

    from fuzzer.graph.model import Node
    from fuzzer.search.losses.base import OpView
    from fuzzer.search.losses.generic import INERT, generic

    node = Node("Identity", ["x"], ["y"], {})
    f32 = [DType.float32]
    for value, kept in ((1e3, False), (INERT[DType.float32] * 0.99, False), (5e9, True), (2e10, True)):
        y = torch.tensor([value], dtype=torch.float32)
        needs = generic(OpView(node, [y], [y], f32, f32, [torch.tensor(False)]))
        assert [n.reason for n in needs] == (["overflow"] if kept else []), value


def test_a_power_of_an_inexact_float16_exponent_near_an_integer_is_a_knife_edge() -> None:
    """Regression (findings benchmark, seed 500444): Pow(5, Gelu(1.58)) in float16, truncated to
    int64. Gelu(1.58) = 1.48975 lies between two float16 values, 5 ** 1.49 = 11.006 and
    5 ** 1.4893 = 10.997; ONNX Runtime gave 10, our reference 11."""
    c = Chain()
    e = c.op("Gelu", c.input("x", DType.float16, (1,)), approximate="tanh")
    g = c.done(c.op("Pow", c.input("b", DType.int64, (1,)), e))
    feeds = {"x": np.array([1.58], np.float16), "b": np.array([5], np.int64)}
    assert [v.reason for v in check(g, feeds, {})] == ["power truncated near an integer"]
    assert int(ort_run(g, feeds).item()) == 10 and int(run_torch(g, feeds)[g.outputs[0]].item()) == 11
    assert check(g, {"x": np.array([1.0], np.float16), "b": np.array([5], np.int64)}, {}) == []  # 5 ** 0.84
