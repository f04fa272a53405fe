"""Proxy gradients and the gap helpers' directions: the search is pushed the right way off flat parts,
kinks and exact grid points."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fuzzer.search import search
from fuzzer.search.losses import Need
from fuzzer.search.losses.base import COMFORT, DEPTH, dist_to_int
from fuzzer.search.margins import HAZARD_WEIGHT
from fuzzer.search.proxy import runner
from fuzzer.spec.base import Domain
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get
from tests.fuzzer.search.build import Chain


def grad_of(op: str, x: list[float], dtype=torch.float32, **attrs) -> list[float]:
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (y,) = runner(get(op), attrs, proxy=True)([t.to(dtype)], attrs)
    (g,) = torch.autograd.grad(y.double().sum(), t)
    return g.tolist()


def test_an_exact_grid_point_is_pushed_towards_zero() -> None:
    # Ceil(Erf(x)) in bfloat16 at erf(x) = 1: pushing upwards only drove x deeper into saturation
    x = torch.tensor([1.0, 2.0, -1.0, 0.0, 1.25], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(dist_to_int(x).sum(), x)
    assert g.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    assert dist_to_int(x).tolist() == [0.0, 0.0, 0.0, 0.0, 0.25]


def test_slack_beyond_the_check_margin_pulls_less() -> None:
    need = Need("r", "t", torch.tensor([0.0, 1.5], dtype=torch.float64, requires_grad=True), margin=1.0)
    (g,) = torch.autograd.grad(need.penalty(), need.gap)
    # 1 below the margin: the slope there is 1 + DEPTH (see DEPTH)
    deep = COMFORT + (1 - COMFORT) * (1 + DEPTH)
    assert g.tolist() == pytest.approx([-HAZARD_WEIGHT * deep, -HAZARD_WEIGHT * COMFORT])


def test_an_unreachable_search_margin_does_not_outpull_a_violation() -> None:
    # Reciprocal(Sigmoid(Erf(x))) in bfloat16 asks for sigmoid > 0.88 in the search (out of reach,
    # the check wants 0.44), and pulled x into Erf's saturation, where Ceil(Erf(x)) sits on 1
    c = Chain()
    x = c.input("x", DType.bfloat16, (64,), Domain(0.0, 3.0))
    e = c.op("Erf", x)
    g = c.done(c.op("Ceil", e), c.op("Reciprocal", c.op("Sigmoid", e)))
    assert search(g, 0, steps=50).success


def test_a_flat_op_gives_way_to_a_real_gradient() -> None:
    # Sub(HardSigmoid(x), x) with HardSigmoid saturated at 0: the real slope is -1; the surrogate's
    # full alpha (+1.04) made it +0.04
    c = Chain()
    x = c.input("x", DType.float16, (64,), Domain(-3.0, 3.0))
    hs = c.op("HardSigmoid", x, alpha=1.042, beta=0.524)
    d = c.op("Sub", hs, x)
    g = c.done(c.op("Cosh", c.op("Cosh", c.op("Cosh", d))))
    assert search(g, 0, steps=50).success
    t = torch.tensor([-2.0, -1.0], dtype=torch.float64, requires_grad=True)
    (y,) = runner(get("HardSigmoid"), {"alpha": 1.042, "beta": 0.524}, proxy=True)([t.half()], {})
    (gr,) = torch.autograd.grad((y.double() - t).sum(), t)
    assert (gr < 0).all()


def test_flat_parts_still_get_a_push() -> None:
    assert all(v > 0 for v in grad_of("Relu", [-1.0, -0.5]))
    assert all(v > 0 for v in grad_of("Elu", [-1.0, -0.5], alpha=0.0))
    assert grad_of("Floor", [0.5, -1.5]) == [1.0, 1.0]


def test_abs_at_zero_gets_a_push() -> None:
    # torch's |x|' at 0 is 0: Log(Abs(Elu(Tan(x)))) with alpha = 0 stayed at Log(0)
    assert grad_of("Abs", [0.0, -2.0, 3.0]) == [1.0, -1.0, 1.0]
    c = Chain()
    x = c.weight("x", np.full(8, -1.0), DType.float32, Domain(-3.0, 3.0))
    g = c.done(c.op("Log", c.op("Abs", c.op("Elu", x, alpha=0.0))))
    assert search(g, 0, steps=50).success


def test_reduce_min_moves_every_element_near_the_minimum() -> None:
    # regression (search_bench, seed 128): Log(ReduceMin(x)) over hundreds of elements moved one of
    # them per step
    t = torch.tensor([0.0, 0.1, 1.0, 0.2, 0.5], dtype=torch.float64, requires_grad=True)
    attrs = {"_mode": "all", "_axes": [], "_empty_tensor": False, "keepdims": 0}
    (y,) = runner(get("ReduceMin"), attrs, proxy=True)([t.float()], attrs)
    assert float(y.detach()) == 0.0
    (g,) = torch.autograd.grad(y.double(), t)
    assert g.tolist() == [1.0, 1.0, 0.0, 1.0, 0.0]
    c = Chain()
    x = c.input("x", DType.float32, (64, 9), Domain(-3.0, 3.0))
    g = c.done(c.op("Log", c.op("ReduceMin", x, **attrs)))
    assert search(g, 0, steps=50).success


def test_far_travel_keeps_its_step_sizes_across_redraws() -> None:
    # regression (search_bench, 20 nodes, seed 128): every element of Erf(-Asinh(Gelu(a) - Asinh(b)))
    # must cross 0; the minimum's penalty barely moves while they travel, so the search redraws
    # every few steps, and a fresh optimiser each time kept them at the first step size
    attrs = {"_mode": "all", "_axes": [], "_empty_tensor": False, "keepdims": 0}
    c = Chain()
    a = c.input("a", DType.float32, (61, 9), Domain(0.5, 3.0))
    b = c.input("b", DType.float32, (61, 9), Domain(-3.0, 3.0))
    e = c.op("Erf", c.op("Neg", c.op("Asinh", c.op("Sub", c.op("Gelu", a), c.op("Asinh", b)))))
    m = c.op("ReduceMin", e, **attrs)
    g = c.done(c.op("ReduceLogSum", m, _mode="all", _axes=[], _empty_tensor=False, keepdims=1))
    assert all(search(g, seed, steps=50).success for seed in range(3))


def test_global_max_pool_moves_every_element_near_the_maximum() -> None:
    c = Chain()
    x = c.input("x", DType.float32, (1, 2, 16, 16), Domain(-3.0, 3.0))
    g = c.done(c.op("Log", c.op("Neg", c.op("GlobalMaxPool", x))))
    assert search(g, 0, steps=50).success


def test_max_pool_moves_every_element_of_a_window_near_its_maximum() -> None:
    # regression (search_bench, 20 nodes, seed 66): Acosh(Log(Neg(MaxPool(x)))) needs every element
    # of a window below -e, and the real gradient moved one of them per step
    attrs = {"kernel_shape": [3], "strides": [1], "pads": [0, 0], "dilations": [1], "ceil_mode": 0}
    attrs |= {"auto_pad": "NOTSET", "storage_order": None}
    t = torch.tensor([[[0.0, 0.9, 1.0, -2.0, 0.95]]], dtype=torch.float64, requires_grad=True)
    (y,) = runner(get("MaxPool"), attrs, proxy=True)([t.float()], attrs)
    assert y.detach().flatten().tolist() == [1.0, 1.0, 1.0]
    (g,) = torch.autograd.grad(y.double().sum(), t)
    assert g.flatten().tolist() == [0.0, 2.0, 3.0, 0.0, 1.0]
    c = Chain()
    x = c.input("x", DType.float32, (2, 8, 64), Domain(-3.0, 3.0))
    p = c.op("MaxPool", x, **(attrs | {"dilations": [2], "pads": [2, 2]}))
    g = c.done(c.op("Acosh", c.op("Log", c.op("Neg", p))))
    assert search(g, 0, steps=50).success


def test_elementwise_max_moves_every_operand_near_the_maximum() -> None:
    a = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.9, -3.0, 2.0], dtype=torch.float64, requires_grad=True)
    (y,) = runner(get("Max"), {}, proxy=True)([a.float(), b.float()], {})
    assert y.detach().tolist() == [1.0, 0.0, 2.0]
    ga, gb = torch.autograd.grad(y.double().sum(), [a, b])
    assert ga.tolist() == [1.0, 1.0, 1.0] and gb.tolist() == [1.0, 0.0, 1.0]
    (y,) = runner(get("Min"), {}, proxy=True)([a.float(), b.float()], {})
    ga, gb = torch.autograd.grad(y.double().sum(), [a, b])
    assert ga.tolist() == [1.0, 0.0, 1.0] and gb.tolist() == [1.0, 1.0, 1.0]


def test_a_deep_violation_crosses_a_shallow_one_in_its_way() -> None:
    # regression (search_bench, 20 nodes, seed 66): Acosh(Log(x)) wants log(x) from -2.7 up past 1,
    # Tan(Log(x)) pushes it back down off its pole at -pi/2 with the same slope: stuck until a redraw
    c = Chain()
    x = c.weight("x", np.linspace(0.05, 0.15, 64), DType.float32, Domain(0.05, 3.0))
    lg = c.op("Log", x)
    g = c.done(c.op("Acosh", lg), c.op("Tan", lg))
    assert search(g, 0, steps=15).success
