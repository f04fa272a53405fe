"""Interval analysis: infeasible graphs are recognised, feasible ones are not called infeasible."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fuzzer.generate.values import ValueFacts
from fuzzer.graph.feasibility import facts, infeasible
from fuzzer.graph.ranges import ranges
from fuzzer.search import search
from fuzzer.spec.base import Domain
from fuzzer.spec.dtypes import DType
from tests.fuzzer.search.build import Chain

WIDE = Domain(-3.0, 3.0)


def chain(*ops: str, domain: Domain = WIDE, **attrs):
    c = Chain()
    t = c.input("x", DType.float32, (2, 3), domain)
    for op in ops:
        t = c.op(op, t, **attrs) if op in ("LogSoftmax", "Softmax") else c.op(op, t)
    return c.done()


@pytest.mark.parametrize(
    "ops",
    [("Exp", "Neg", "Log"), ("Acosh", "Neg", "Acosh"), ("Cosh", "Atanh"), ("Sin", "Softsign", "Acosh")],
)
def test_infeasible_chains(ops) -> None:
    g = chain(*ops)
    assert list(infeasible(g)) == [len(ops) - 1], ranges(g)


def test_log_of_log_softmax_over_one_element() -> None:
    c = Chain()
    x = c.input("x", DType.float32, (2, 1), WIDE)
    g = c.done(c.op("Log", c.op("LogSoftmax", x, axis=1)))
    assert list(infeasible(g)) == [1]


@pytest.mark.parametrize("ops", [("Exp", "Log"), ("Sin", "Acos"), ("Cosh", "Acosh"), ("Tanh", "Atanh"), ("Acosh",)])
def test_feasible_chains(ops) -> None:
    assert infeasible(chain(*ops)) == {}


@pytest.mark.parametrize("op, attrs", [("Hardmax", {"axis": 1}), ("LayerNormalization_noB", {"axis": -1, "_axis": 1})])
def test_what_must_hold_a_zero_or_straddle_it(op: str, attrs) -> None:
    # Hardmax holds zeros (Reciprocal of it is infinite); a normalization without bias holds a value
    # <= 0 (Log of it is not finite)
    c = Chain()
    x = c.input("x", DType.float32, (2, 3), WIDE)
    positive = Domain(0.1, 3.0)  # a scale of one sign (mixed signs could make every output positive)
    args = (x, c.weight("s", [1.0, 2.0, 0.5], domain=positive)) if op.startswith("Layer") else (x,)
    y = c.op(op, *args, **attrs)
    g = c.done(c.op("Reciprocal", y), c.op("Log", y))
    got = infeasible(g)
    assert (1 in got) == (op == "Hardmax") and 2 in got, got


def test_ranges_follow_the_ops() -> None:
    rs = ranges(chain("Exp", "Neg", "Abs", "Sqrt", domain=Domain(0.0, 1.0)))
    lo, hi = rs["y4"]
    assert lo == pytest.approx(1.0) and hi == pytest.approx(math.sqrt(math.e))


def test_search_skips_what_is_infeasible_and_says_so() -> None:
    g = chain("Exp", "Neg", "Log")
    r = search(g, 0, steps=300)
    assert not r.success and r.steps == 0
    assert len(r.infeasible) == 1 and r.infeasible[0].startswith("Log: Log of y2: ")


def test_a_convolution_output_its_kernel_never_reaches_is_an_exact_zero() -> None:
    # pads of 2 on each side with a 1-tap kernel: the outer outputs are 0 whatever x and w are
    c = Chain()
    x = c.input("x", DType.float32, (1, 1, 4), WIDE)
    w = c.weight("w", [[[0.5]]])
    conv = dict(group=1, auto_pad="NOTSET", strides=[1], dilations=[1], pads=[2, 2], kernel_shape=[1], _terse=False)
    y = c.op("Conv_noB", x, w, _kernel_attr=True, **conv)
    g = c.done(c.op("Acosh", c.op("Neg", y)), c.op("Exp", y))
    assert list(infeasible(g)) == [2]


def test_a_normalization_over_one_element_is_its_bias() -> None:
    # regression (search_bench seed 8): Log(Tanh(LayerNormalization over a (1, 1) tensor)) is Log(0)
    c = Chain()
    x = c.input("x", DType.float32, (3, 1), WIDE)
    y = c.op("LayerNormalization_noB", x, c.weight("s", [2.0]), axis=-1, _axis=1, epsilon=1e-5)
    g = c.done(c.op("Log", c.op("Tanh", y)))
    assert list(infeasible(g)) == [2] and ranges(g)[y] == (0.0, 0.0)


def test_the_padding_holds_the_fill_value() -> None:
    # regression (search_bench seed 59): Atanh(Exp(Pad(x, value 2.5))) holds atanh(e^2.5)
    c = Chain()
    x = c.input("x", DType.float32, (2, 3), Domain(-0.5, 0.5))
    pad = dict(mode="constant", _pads=[0, 1, 0, 0], _axes=None, _value=2.5, _dtype="float32")
    g = c.done(c.op("Atanh", c.op("Exp", c.op("Pad", x, **pad))))
    assert list(infeasible(g)) == [2]
    pad["_pads"] = [0, 0, 0, 0]
    c = Chain()
    x = c.input("x", DType.float32, (2, 3), Domain(-0.5, 0.5))
    assert infeasible(c.done(c.op("Atanh", c.op("Exp", c.op("Pad", x, **pad))))) == {}


@pytest.mark.parametrize(
    "ops",
    [
        ("Erf", "HardSwish", "Acosh"),
        ("Sin", "Gelu", "Acosh"),
        ("Sin", "Mish", "Acosh"),
        ("Exp", "Reciprocal", "Neg", "Log"),
    ],
)
def test_infeasible_through_valleys_and_poles(ops) -> None:
    # regression (search_bench, 30 nodes, seed 249): Acosh of a HardSwish of an Erf, always below 1
    assert list(infeasible(chain(*ops))) == [len(ops) - 1]


def test_min_max_and_mod_ranges() -> None:
    c = Chain()
    x = c.input("x", DType.float32, (2, 3), Domain(-3.0, 3.0))
    y = c.input("y", DType.float32, (2, 3), Domain(0.5, 1.0))
    lo, hi, mod = c.op("Min", x, y), c.op("Max", x, y), c.op("Mod", x, y, fmod=0)
    rs = ranges(c.done())
    assert rs[lo] == (-3.0, 1.0) and rs[hi] == (0.5, 3.0) and rs[mod] == (0.0, 1.0)


def test_an_index_along_one_element_is_zero() -> None:
    # regression (search_bench, 20 nodes, seed 31): Mod by an ArgMin along an axis of length 1
    c = Chain()
    x = c.input("x", DType.float32, (3, 1), WIDE)
    i = c.op("ArgMin", x, axis=1, keepdims=1, select_last_index=0)
    g = c.done(c.op("Reciprocal", c.op("Cast_any", c.op("Sign", i), to=1)))
    assert list(infeasible(g)) == [3]


def test_an_average_pool_stays_within_its_input() -> None:
    # regression (search_bench, 30 nodes, seed 184): Acosh of an AveragePool of values below 1
    c = Chain()
    x = c.input("x", DType.float32, (1, 1, 4, 4), Domain(0.1, 0.9))
    pool = dict(auto_pad="NOTSET", ceil_mode=0, strides=[1, 1], dilations=[1, 1], kernel_shape=[2, 2], _terse=False)
    g = c.done(c.op("Acosh", c.op("AveragePool", x, pads=[1, 1, 0, 0], count_include_pad=0, **pool)))
    assert list(infeasible(g)) == [1]
    c = Chain()
    x = c.input("x", DType.float32, (1, 1, 4, 4), Domain(0.1, 0.9))
    y = c.op("AveragePool", x, pads=[1, 1, 0, 0], count_include_pad=1, **pool)
    assert ranges(c.done())[y] == (0.0, 0.9)


def test_a_power_of_a_positive_base() -> None:
    # regression (search_bench, 30 nodes, seed 120): Acosh of a ThresholdedRelu of a root of a power
    # of values in (0.5, 0.67), always below the threshold
    c = Chain()
    x = c.input("x", DType.float32, (2, 3), Domain(0.5, 0.9))
    y = c.input("y", DType.float32, (2, 3), Domain(0.5, 2.0))
    p = c.op("Pow", x, y)
    g = c.done(c.op("Acosh", p))
    assert list(infeasible(g)) == [1]
    lo, hi = ranges(g)[p]
    assert math.isclose(lo, 0.5**2) and math.isclose(hi, 0.9**0.5)


# --- reductions and sums of products ---------------------------------------------------------------
def reduce_attrs(mode: str = "axes", axes=(0,), keepdims: int = 1) -> dict:
    return {"_mode": mode, "_axes": list(axes) if mode == "axes" else [], "_empty_tensor": False, "keepdims": keepdims}


@pytest.mark.parametrize(
    "op, mode, want",
    [
        ("ReduceSum", "axes", (4.0, 8.0)),
        ("ReduceSum", "noop", (1.0, 2.0)),
        ("ReduceL1", "all", (12.0, 24.0)),  # 12 elements of |x| in [1, 2]
        ("ReduceSumSquare", "axes", (4.0, 16.0)),
        ("ReduceSumSquare", "noop", (1.0, 4.0)),
        ("ReduceL2", "axes", (2.0, 4.0)),  # sqrt(4 * [1, 4])
        ("ReduceLogSum", "axes", (math.log(4.0), math.log(8.0))),
        ("ReduceLogSumExp", "axes", (1.0 + math.log(4.0), 2.0 + math.log(4.0))),
        ("ReduceProd", "axes", (1.0, 16.0)),
    ],
)
def test_reductions_of_n_elements(op: str, mode: str, want) -> None:
    c = Chain()
    x = c.input("x", DType.float32, (4, 3), Domain(1.0, 2.0))
    y = c.op(op, x, **reduce_attrs(mode, keepdims=0))
    assert ranges(c.done())[y] == pytest.approx(want)


def test_reductions_of_values_of_both_signs() -> None:
    c = Chain()
    x = c.input("x", DType.float32, (4, 3), Domain(-3.0, 2.0))
    ys = [c.op(op, x, **reduce_attrs()) for op in ("ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceProd")]
    rs = ranges(c.done())
    assert [rs[y] for y in ys] == [(-12.0, 8.0), (0.0, 36.0), (0.0, 12.0), (-81.0, 81.0)]


@pytest.mark.parametrize(
    "ops",
    [("Asin", "ReduceLogSum", "Acos"), ("Atan", "Log", "Relu", "ReduceSumSquare", "Acosh")],
)
def test_infeasible_through_reductions(ops) -> None:
    # regressions (search_bench seed 339: Acos of a log of a sum of 8 values >= 1.01, always > 2;
    # seed 77: Acosh of a square of a log of an Atan, always < 0.21)
    c = Chain(opset=21)
    t = c.input("x", DType.float64, (8, 1), Domain(0.847, 0.99))
    for op in ops:
        mode = "noop" if op == "ReduceSumSquare" else "axes"
        t = c.op(op, t, **reduce_attrs(mode, (0, 1))) if op.startswith("Reduce") else c.op(op, t)
    assert list(infeasible(c.done())) == [len(ops) - 1]


def test_an_integer_sum_that_may_wrap_takes_any_value() -> None:
    c = Chain()
    x = c.input("x", DType.uint8, (2, 3), Domain(0.0, 3.0))
    y = c.input("y", DType.uint8, (2, 3), Domain(0.0, 3.0))
    d, s = c.op("Sub", x, y), c.op("ReduceSum", x, **reduce_attrs())
    rs = ranges(c.done())
    assert rs[d] == (0.0, 255.0) and rs[s] == (0.0, 6.0)


def test_sums_of_products() -> None:
    c = Chain()
    a = c.input("a", DType.float32, (2, 3), Domain(1.0, 2.0))
    b = c.input("b", DType.float32, (3, 4), Domain(-1.0, 0.5))
    mm = c.op("MatMul", a, b)
    gemm = c.op(
        "Gemm_C", a, b, c.input("c", DType.float32, (4,), Domain(0.0, 1.0)), transA=0, transB=0, alpha=2.0, beta=-1.0
    )
    rs = ranges(c.done())
    assert rs[mm] == (-6.0, 3.0) and rs[gemm] == (-13.0, 6.0)


def test_a_convolution_may_sum_fewer_terms() -> None:
    # padding: an output may sum nothing, so 0 is in its range even for positive inputs
    c = Chain()
    x = c.input("x", DType.float32, (1, 2, 4), Domain(1.0, 2.0))
    w = c.weight("w", np.full((3, 2, 2), 0.5, dtype=np.float32), domain=Domain(0.5, 1.0))
    conv = dict(group=1, auto_pad="NOTSET", strides=[1], dilations=[1], pads=[1, 1], kernel_shape=[2], _terse=False)
    y = c.op("Conv_noB", x, w, _kernel_attr=True, **conv)
    assert ranges(c.done())[y] == (0.0, 8.0)  # at most 2 * 2 terms of at most 2 * 1


def test_zeros_go_through_sums_of_products_and_quotients() -> None:
    # regression (search_bench seed 319): Reciprocal(ReduceL2(MatMul(Abs(a), LogSoftmax over one
    # element))): the LogSoftmax is 0, so the MatMul and its norm are too
    c = Chain()
    a = c.input("a", DType.float32, (5, 1, 1, 1, 1), WIDE)
    z = c.op("LogSoftmax", c.input("b", DType.float32, (1, 1, 1, 1, 11), WIDE), axis=3)
    mm = c.op("MatMul", c.op("Abs", a), z)
    norm = c.op("ReduceL2", mm, **reduce_attrs("axes", (0, -3, 4)))
    q = c.op("Div", mm, c.input("d", DType.float32, (1,), WIDE))
    g = c.done(c.op("Reciprocal", norm), q)
    rs = ranges(g)
    assert rs[mm] == rs[norm] == rs[q] == (0.0, 0.0)
    assert list(infeasible(g)) == [5]


def test_index_and_selection_ranges() -> None:
    c = Chain()
    x = c.input("x", DType.float32, (4, 5), Domain(2.0, 3.0))
    vals, idx = c.op("TopK", x, n_out=2, axis=1, _k=2, largest=1, sorted=1)
    shrunk = c.op("Shrink", x, lambd=2.5, bias=1.0)
    i = c.input("i", DType.int32, (4,), Domain(-7.0, 7.0))
    q = c.op("Div", i, c.input("j", DType.int32, (4,), Domain(2.0, 3.0)))
    rs = ranges(c.done())
    assert rs[vals] == (2.0, 3.0) and rs[idx] == (0.0, 4.0)
    assert rs[shrunk] == (0.0, 2.0)  # 0, or x - 1 for x above 2.5
    assert rs[q] == (-3.0, 3.0)  # truncated towards 0


def test_monotone_witnesses_follow_the_direction_of_the_function() -> None:
    # HardSigmoid with alpha < 0 falls; LeakyRelu with alpha 0 is flat below 0 (0 * -inf is 0)
    c = Chain()
    x = c.input("x", DType.float32, (2, 3), WIDE)
    h = c.op("HardSigmoid", x, alpha=-0.6, beta=-0.3)
    lr = c.op("LeakyRelu", c.op("Exp", x), alpha=0.0)
    flat = c.op("HardSigmoid", x, alpha=0.0, beta=-0.1)  # regression (property test): NaN witnesses
    fs = facts(c.done())
    assert fs[flat].range == (0.0, 0.0) and fs[flat].witnesses == (0.0, 0.0)
    assert not fs[h].zero  # regression: its witnesses said some value is <= 0 (the flat top read as a rise)
    assert not any(math.isnan(w) for w in fs[lr].witnesses)


def test_clip_and_leaves_round_like_their_dtype() -> None:
    c = Chain()
    x = c.input("x", DType.float64, (3,), Domain(-3.0, 0.5))
    y = c.op("Clip", x, _min=0.936, _max=None, _dtype="float64")
    b = c.input("b", DType.bfloat16, (3,), Domain(-0.9999, 3.0))
    rs = ranges(c.done())
    assert rs[y][0] <= 0.936 <= rs[y][1] and rs[b][0] == -1.0  # -0.9999 is -1 in bfloat16


def test_a_one_hot_holds_its_on_value() -> None:
    # regression (search_bench seed 77): Acosh(HardSwish(OneHot with on value 0)) is acosh(0)
    c = Chain()
    i = c.input("i", DType.int32, (5, 1), Domain(-5.0, 5.0))
    h = c.op("OneHot", i, axis=1, _depth=8, _dtype="float32", _depth_type="int32", _values=[1.73, 0.0])
    g = c.done(c.op("Acosh", c.op("HardSwish", h)))
    assert facts(g)[h].witnesses == (0.0, 1.73) and list(infeasible(g)) == [2]


def test_a_thresholded_relu_with_a_negative_threshold_passes_what_lies_above_it() -> None:
    # regression (search_bench, 30 nodes, seed 449): Log(Floor(ThresholdedRelu(alpha -0.645) of
    # values in [0.549, 0.99])) is log(0); a negative alpha had no rule
    c = Chain()
    x = c.input("x", DType.float32, (1, 2), Domain(0.549, 0.99))
    t = c.op("ThresholdedRelu", x, alpha=-0.645)
    g = c.done(c.op("Log", c.op("Floor", t)))
    assert ranges(g)[t] == pytest.approx((0.549, 0.99)) and list(infeasible(g)) == [2]
    c = Chain()
    t = c.op("ThresholdedRelu", c.input("x", DType.float32, (4,), Domain(-3.0, 0.5)), alpha=-0.5)
    assert ranges(c.done())[t] == (-0.5, 0.5)


@pytest.mark.parametrize("dtype, overflows", [(DType.float16, True), (DType.float32, False)])
def test_a_product_that_overflows_everywhere(dtype: DType, overflows: bool) -> None:
    # regression (search_bench, 30 nodes, seed 85): a float16 ReduceProd of 72 values >= cosh(1) is
    # at least 3.7e13, beyond float16's 65504, for any leaves; the generator does not build it
    c = Chain()
    x = c.input("x", dtype, (1, 8, 6, 9), WIDE)
    p = c.op("ReduceProd", c.op("Cosh", c.op("Cosh", x)), **reduce_attrs("axes", (1, 3)))
    g = c.done()
    assert list(infeasible(g)) == ([2] if overflows else [])
    v = ValueFacts(g)
    for node in g.nodes:
        v.added(node)
    assert v.finite(p) != overflows
