"""Interval analysis: infeasible graphs are recognised, feasible ones are not called infeasible."""

from __future__ import annotations

import math

import pytest

from fuzzer.graph.feasibility import infeasible
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
