"""Each loss of the table on a graph of one or two ops: the search ends with values clear of the edge.

Knife edges only matter for values that carry rounding error (see fuzzer.search.exact), so the edge
tests put an inexact op (Sin, Mul by 0.3) in front of the op under test and start the weights on the
edge; hazards (NaN, Inf) are tested on graph inputs directly.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from fuzzer.graph.torch_run import run_torch
from fuzzer.search import check, search
from fuzzer.search.losses import table
from fuzzer.search.margins import EDGE_TOL, pole
from fuzzer.spec.base import Domain
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import all_specs
from tests.fuzzer.search.build import Chain

WIDE = Domain(-3.0, 3.0)


def found(graph, seed: int = 0, steps: int = 200):
    r = search(graph, seed, steps=steps)
    assert r.success, [str(v) for v in r.violations]
    return r


def inexact(c: Chain, values, dtype: DType = DType.float32) -> str:
    """A tensor equal to `values` (nearly) that carries rounding error: 0.3 * (values / 0.3).

    No zeros: 0 * 0.3 is an exact 0.
    """
    w = c.weight("w", np.asarray(values, dtype=np.float64) / 0.3, dtype, Domain(-20.0, 20.0))
    k = c.weight("k", 0.3, dtype)
    return c.op("Mul", w, k)


def value_of(graph, r, name: str) -> np.ndarray:
    """Tensor `name` of `graph` run on the search result (real implementations)."""
    g = dataclasses.replace(graph, values={**graph.values, **r.weights})
    return run_torch(g, r.inputs, keep_all=True)[name].astype(np.float64)


# --- hazards -------------------------------------------------------------------------------------
def test_log_gets_positive_inputs() -> None:
    c = Chain()
    x = c.input("x", DType.float32, (64,), WIDE)
    g = c.done(c.op("Log", x))
    r = found(g)
    assert (r.inputs["x"] >= pole(DType.float32)).all()


def test_log_behind_relu_moves_through_the_proxy() -> None:
    # Relu has no gradient below 0: only the straight-through proxy lets the search lift x
    c = Chain()
    x = c.input("x", DType.float32, (64,), Domain(-3.0, 0.5))
    g = c.done(c.op("Log", c.op("Relu", x)))
    r = found(g)
    assert (r.inputs["x"] > 0).all()


@pytest.mark.parametrize("dtype", [DType.float32, DType.float16, DType.bfloat16])
def test_div_avoids_zero(dtype: DType) -> None:
    # an exact divisor only has to be nonzero; one that carries rounding error keeps a margin
    c = Chain()
    a = c.input("a", dtype, (4,), WIDE)
    b = c.weight("b", [0.0, -0.0, 1.0, 2.0], dtype)
    d = inexact(c, [1e-6, 1e-4, -1e-3, 1.0], dtype)
    g = c.done(c.op("Div", a, b), c.op("Div", a, d))
    r = found(g)
    assert r.weights["b"].dtype == dtype.numpy
    assert (r.weights["b"].astype(np.float64) != 0).all()
    assert (np.abs(value_of(g, r, d)) >= pole(dtype)).all()


def test_integer_divisor_zeros_are_redrawn() -> None:
    # integers take no gradient: the elements that divide by zero are redrawn until none is left
    c = Chain()
    a, b = c.input("a", DType.int32, (256,), WIDE), c.input("b", DType.int32, (256,), WIDE)
    g = c.done(c.op("Div", a, b))
    r = found(g)
    assert (r.inputs["b"] != 0).all()


def test_reciprocal_of_an_integer_cast() -> None:
    c = Chain()
    x = c.input("x", DType.uint8, (9, 8), WIDE)
    g = c.done(c.op("Reciprocal", c.op("Cast_any", x, to=DType.float32.onnx)))
    assert (found(g).inputs["x"] != 0).all()


@pytest.mark.parametrize("op", ["Acos", "Asin", "Atanh"])
def test_unit_interval_ops_stay_inside(op: str) -> None:
    # graph inputs are exact: inside [-1, 1] is enough (open for Atanh); computed values keep a margin
    c = Chain()
    x = c.input("x", DType.float16, (100,), WIDE)
    y = inexact(c, [1.0, -1.0, 0.999, 2.0, -0.3], DType.float16)
    g = c.done(c.op(op, x), c.op(op, y))
    r = found(g)
    assert (np.abs(r.inputs["x"].astype(np.float64)) < 1).all()
    assert (np.abs(value_of(g, r, y)) <= 1 - pole(DType.float16)).all()


def test_acosh_and_sqrt() -> None:
    c = Chain()
    x = inexact(c, [0.5, 1.0, -2.0, 3.0])
    g = c.done(c.op("Acosh", x), c.op("Sqrt", x))
    assert (value_of(g, found(g), x) >= 1 + pole(DType.float32)).all()


def test_exp_overflow_in_float16() -> None:
    c = Chain()
    x = c.weight("x", [1.0, 12.0, 20.0], DType.float16, Domain(-3.0, 30.0))
    g = c.done(c.op("Exp", x))
    r = found(g)
    assert np.exp(r.weights["x"].astype(np.float64)).max() <= 1e4


def test_large_sum_in_float16_shrinks() -> None:
    # 4096 values near 3 sum to 12000, above float16's LIMIT of 1e4
    c = Chain()
    x = c.weight("x", np.full(4096, 2.9), DType.float16)
    s = c.op("ReduceSum", x, _mode="all", _axes=[], _empty_tensor=False, keepdims=0)
    r = found(c.done(s))
    assert abs(r.weights["x"].astype(np.float64).sum()) <= 1e4


def test_reduce_log_sum_of_a_positive_sum() -> None:
    c = Chain()
    x = c.input("x", DType.float32, (4, 6), WIDE)
    g = c.done(c.op("ReduceLogSum", x, _mode="axes", _axes=[1], _empty_tensor=False, keepdims=0))
    r = found(g)
    assert (r.inputs["x"].astype(np.float64).sum(axis=1) > 0).all()


# --- knife edges ---------------------------------------------------------------------------------
def test_round_not_near_a_half() -> None:
    c = Chain()
    y = inexact(c, [0.5, 1.5, -2.5, 0.49999, 1.0, 2.2])
    g = c.done(c.op("Round", y))
    v = value_of(g, found(g), y)
    dist = np.abs(v - np.floor(v) - 0.5)
    assert (dist >= EDGE_TOL[DType.float32][0] * np.abs(v)).all(), v


@pytest.mark.parametrize("op", ["Floor", "Ceil"])
def test_floor_ceil_not_near_an_integer(op: str) -> None:
    c = Chain()
    y = inexact(c, [1.0, -2.0, 1e-6, 2.99999, 0.5])
    g = c.done(c.op(op, y))
    v = value_of(g, found(g), y)
    assert (np.abs(v - np.round(v)) > 1e-4).all(), v


def test_cast_to_int_not_near_an_integer() -> None:
    c = Chain()
    y = inexact(c, [1.0, 2.00001, -1.0, 0.3])
    g = c.done(c.op("Cast_any", y, to=DType.int32.onnx))
    v = value_of(g, found(g), y)
    assert (np.abs(v - np.round(v))[np.abs(v) >= 0.5] > 1e-4).all(), v


def test_sign_not_near_zero() -> None:
    c = Chain()
    y = inexact(c, [1e-9, 1e-7, -1e-7, 1.0])
    g = c.done(c.op("Sign", y))
    assert (np.abs(value_of(g, found(g), y)) > 1e-5).all()


@pytest.mark.parametrize("op", ["Equal", "Greater", "LessOrEqual"])
def test_comparison_of_near_equal_values(op: str) -> None:
    c = Chain()
    a = inexact(c, [1.0, 2.0, -0.5, 0.7])
    b = c.weight("b", [1.00001, 2.00002, -0.50001, 0.1])
    g = c.done(c.op(op, a, b))
    r = found(g)
    va = value_of(g, r, a)
    vb = r.weights["b"].astype(np.float64)
    assert (np.abs(va - vb) > EDGE_TOL[DType.float32][0] * np.maximum(np.abs(va), np.abs(vb))).all()


def test_argmax_has_no_near_ties() -> None:
    c = Chain()
    y = inexact(c, [[1.0, 1.00001, 0.2], [0.5, 0.50001, 0.49999], [3.0, -1.0, 2.99999]])
    g = c.done(c.op("ArgMax", y, axis=1, keepdims=0, select_last_index=0))
    v = np.sort(value_of(g, found(g), y), axis=1)
    assert (v[:, -1] - v[:, -2] > 1e-4).all(), v


def test_topk_has_no_near_ties_up_to_k() -> None:
    c = Chain()
    y = inexact(c, [0.1, 0.10001, 2.0, 2.00001, -1.0, -1.00001])
    g = c.done(*c.op("TopK", y, n_out=2, axis=0, _k=3, largest=1, sorted=1))
    v = np.sort(value_of(g, found(g), y))[::-1]
    assert (v[:3] - v[1:4] > 1e-4).all(), v


def test_hardmax_has_no_near_ties() -> None:
    c = Chain()
    y = inexact(c, [[1.0, 1.00001, 0.0]])
    g = c.done(c.op("Hardmax", y, axis=-1))
    v = np.sort(value_of(g, found(g), y)[0])
    assert v[-1] - v[-2] > 1e-4


def test_mod_away_from_multiples() -> None:
    c = Chain()
    a = inexact(c, [2.0, 4.0000001, 3.0, 1.1])
    b = c.weight("b", [1.0, 2.0, 1.5, 0.5], domain=Domain(0.25, 5.0))
    g = c.done(c.op("Mod", a, b, fmod=1))
    r = found(g)
    q = value_of(g, r, a) / r.weights["b"].astype(np.float64)
    assert (np.abs(q - np.round(q)) > 1e-4).all(), q


def test_thresholded_relu_and_clip_away_from_thresholds() -> None:
    c = Chain()
    y = inexact(c, [1.0, 0.5, -0.5, 2.0])
    t = c.op("ThresholdedRelu", y, alpha=1.0)
    k = c.op("Clip", y, _min=-0.5, _max=0.5, _dtype="float32")
    g = c.done(t, k)
    v = value_of(g, found(g), y)
    assert (np.abs(np.abs(v) - 0.5) > 1e-4).all() and (np.abs(v - 1.0) > 1e-4).all(), v


# --- exact values have no edges ------------------------------------------------------------------
def test_exact_values_are_left_alone() -> None:
    # Round(2.5) of a graph input must give 2 in every backend: a real test, not a knife edge
    c = Chain()
    x = c.weight("x", [2.5, 0.5, -1.5, 1.0])
    g = c.done(c.op("Round", x), c.op("Floor", x), c.op("Equal", x, c.op("Identity", x)))
    r = found(g)
    assert r.steps == 0
    np.testing.assert_array_equal(r.weights["x"], g.values["x"])


def test_cosh_of_hardmax_is_exact_where_it_is_one() -> None:
    # cosh(0) = 1 exactly, so Ceil of it is no edge; cosh(1) = 1.54 is far from one
    c = Chain()
    x = c.input("x", DType.float32, (4, 5), WIDE)
    g = c.done(c.op("Ceil", c.op("Cosh", c.op("Hardmax", x, axis=1))))
    assert found(g).success


def test_infeasible_graph_reports_the_op() -> None:
    # log(-exp(x)) is NaN for every x
    c = Chain()
    x = c.input("x", DType.float32, (3,), WIDE)
    g = c.done(c.op("Log", c.op("Neg", c.op("Exp", x))))
    r = search(g, 0, steps=30)
    assert not r.success
    assert {v.op for v in r.violations} == {"Log"}
    assert any(v.reason == "non-finite output" for v in r.violations)


# --- the table itself ------------------------------------------------------------------------------
def test_every_table_key_names_an_op() -> None:
    specs = all_specs()
    known = set(specs) | {s.op_type for s in specs.values()}
    assert set(table()) <= known, set(table()) - known


def test_the_risky_ops_have_losses() -> None:
    risky = "Log Sqrt Pow Div Reciprocal Mod Acos Asin Acosh Atanh ReduceLogSum Exp Sinh Cosh Tan"
    edges = "Floor Ceil Round Sign Cast CastLike Equal Greater Less ArgMax ArgMin TopK Hardmax Clip ThresholdedRelu"
    assert set((risky + " " + edges).split()) <= set(table())


def test_margins_are_sane() -> None:
    for dt in (DType.float16, DType.bfloat16, DType.float32, DType.float64):
        assert 0 < pole(dt) < 1
        assert 0 < EDGE_TOL[dt][0] < 0.1
    assert math.isfinite(pole(DType.float64))


def test_reduce_prod_partial_products_stay_in_range() -> None:
    """Regression (bench/results/findings.md): 816 float32 factors in [-3.4, 3.4] with a representable
    product, but partial products past float32's range in another order (ONNX Runtime gave NaN)."""
    c = Chain()
    x = c.input("x", DType.float32, (34, 24), Domain(-3.4, 3.4))
    g = c.done(c.op("ReduceProd", x, _mode="axes", _axes=[0, 1], _empty_tensor=False, keepdims=1))
    r = found(g)
    big = np.log(np.maximum(np.abs(r.inputs["x"].astype(np.float64)), 1.0)).sum()
    assert big <= math.log(1e10), big


def test_too_large_to_stay_clear_of_the_grid_shrinks() -> None:
    # regression (search_bench, 20 nodes, seed 463): Floor of a float16 sum above 45, where every
    # value is near an integer; just above an integer, the push off it (upwards) cancelled the push
    # towards 0 exactly, and the sum stayed too large
    import torch

    from fuzzer.search.trace import run

    attrs = {"_mode": "all", "_axes": [], "_empty_tensor": False, "keepdims": 1}
    c = Chain()
    x = c.input("x", DType.float16, (48,), WIDE)
    g = c.done(c.op("Floor", c.op("ReduceSum", c.op("Abs", x), **attrs)))
    m = torch.full((48,), 60.3 / 48, dtype=torch.float64, requires_grad=True)
    run(g, {"x": m.half()}, proxy=True).penalty().backward()
    assert (m.grad > 0).all()


def test_a_float_exponent_of_a_negative_integer_base_goes_to_a_whole_number() -> None:
    # regression (search_bench, 30 nodes, seed 178): Pow(BitwiseOr(...), x) with a negative int64
    # base and a float x in [0, 3] is NaN unless x is whole; without a gradient only redraws of the
    # base (and uniform redraws of x, never whole) could fix it
    c = Chain()
    b = c.weight("b", np.array([-2, -3, -1]), DType.int64, Domain(-3.0, -1.0))
    x = c.input("x", DType.float64, (3,), Domain(0.0, 3.0))
    r = found(c.done(c.op("Pow", b, x)), steps=50)
    assert all(float(v) == round(float(v)) for v in r.inputs["x"])


def test_powers_of_an_integer_one_or_zero_are_exact() -> None:
    # regression (search_bench, seed 457): Pow(ReduceProd(b), x) with b in {-1, 0, 1} and a float x:
    # 1^x and 0^x are exact in every backend, yet were held off the integer they are
    c = Chain()
    b = c.weight("b", np.array([1, 0, 1, 1]), DType.int64, Domain(0.0, 1.0))
    x = c.input("x", DType.float32, (4,), Domain(0.5, 2.5))
    found(c.done(c.op("Pow", b, x)), steps=50)


@pytest.mark.parametrize("op", ["Sin", "Cos", "Tan"])
def test_periodic_functions_get_moderate_arguments(op: str) -> None:
    """Regression (bench/results/findings-3.json): OpenVINO's Tan of a float64 2.8e11, computed in
    float32, came out 2.67 away; argument reduction in float32 loses |x| * 2^-24."""
    c = Chain()
    w = c.weight("w", np.full((4,), 2.8e5), DType.float64, domain=Domain(-3e5, 3e5))
    g = c.done(c.op(op, w))
    assert any("large argument" in v.reason for v in check(g, {}, dict(g.values)))
    r = found(g, steps=100)
    assert np.abs(r.weights["w"]).max() <= 1e3


def test_a_zero_by_rounding_is_pushed_to_its_own_side() -> None:
    # regression (search_bench, 20 nodes, seed 333): Pow(LogSoftmax(...), -1) and Reciprocal of the
    # same: the largest element of a saturated LogSoftmax is 0 in float32, -1e-13 in float64, and the
    # push up off 0 drove its slice further into saturation
    c = Chain()
    x = c.input("x", DType.float32, (16, 2), Domain(-3.0, 3.0))
    w = c.weight("w", [10.0], DType.float32, Domain(10.0, 10.0))
    g = c.done(c.op("Reciprocal", c.op("LogSoftmax", c.op("Mul", x, w), axis=1)))
    assert sum(search(g, seed, steps=50).success for seed in range(10)) == 10
