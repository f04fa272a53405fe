"""Points (exact values a tensor surely holds) and outputs that are a bias alone."""

from __future__ import annotations

import torch

from fuzzer.generate.values import ValueFacts
from fuzzer.graph.feasibility import capped, facts, infeasible, input_requirement
from fuzzer.spec.base import Domain
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get
from tests.fuzzer.search.build import Chain

WIDE = Domain(-3.0, 3.0)
F64, F32, F16 = DType.float64, DType.float32, DType.float16
CONV = dict(group=1, _kernel_attr=True, auto_pad="NOTSET", _terse=False, kernel_shape=[1])


def value_facts(c: Chain) -> ValueFacts:
    v = ValueFacts(c.graph)
    for node in c.graph.nodes:
        v.added(node)
    return v


def test_cos_of_a_hardmax_is_one_and_atanh_of_it_infinite() -> None:
    # regression (search_bench, 20 nodes, seed 663): Atanh(Cos(Asinh(Hardmax(Exp(x))))) along an
    # axis of 2 holds atanh(cos(asinh(0))) = atanh(1) for any x; witnesses are lost at Cos
    c = Chain()
    h = c.op("Hardmax", c.op("Exp", c.input("x", F64, (3, 2), WIDE)), axis=1)
    cos = c.op("Cos", c.op("Asinh", h))
    g = c.done(c.op("Atanh", cos))
    fs = facts(g)
    assert fs[h].points == {0.0, 1.0} and fs[cos].points == {
        1.0,
        float(torch.tensor(1.0, dtype=torch.float64).asinh().cos()),
    }
    assert list(infeasible(g)) == [4]
    assert not value_facts(c).fits(cos, input_requirement("Atanh", 0))


def test_a_hardmax_along_one_element_is_all_ones() -> None:
    c = Chain()
    h = c.op("Hardmax", c.input("x", F32, (3, 1), WIDE), axis=1)
    g = c.done(c.op("Log", c.op("Neg", h)))
    assert facts(g)[h].points == {1.0} and list(infeasible(g)) == [2]


def test_points_are_rounded_as_the_dtype_rounds_them() -> None:
    # a float16 Pad of 2.57 holds 2.5703125; Exp of it is float16's exp of that
    c = Chain()
    x = c.input("x", F16, (2, 3), WIDE)
    pad = c.op("Pad", x, mode="constant", _pads=[0, 1, 0, 0], _axes=None, _value=2.57, _dtype="float16")
    e = c.op("Exp", pad)
    c.done()
    fs = facts(c.graph)
    fill = float(torch.tensor(2.57, dtype=torch.float16))
    assert fs[pad].points == {fill}
    assert fs[e].points == {float(torch.tensor(fill, dtype=torch.float16).exp())}


def test_constants_and_one_hots_hold_their_values() -> None:
    c = Chain()
    k = c.op("ConstantOfShape", _shape=[2, 2], _omit=False, _value=-1.5, _dtype="float32")
    i = c.input("i", DType.int64, (4,), Domain(0.0, 2.0))
    hot = c.op("OneHot", i, axis=1, _depth=3, _dtype="float32", _depth_type="int64", _values=[0.25, 2.0])
    miss = c.op("OneHot", i, axis=1, _depth=2, _dtype="float32", _depth_type="int64", _values=[0.25, 2.0])
    g = c.done(c.op("Sqrt", k), c.op("Acos", hot))
    fs = facts(g)
    assert fs[k].points == {-1.5} and fs[hot].points == {0.25, 2.0}
    assert fs[miss].points == {0.25}  # index 2 may miss a depth of 2: all off then
    assert list(infeasible(g)) == [3, 4]


def test_points_go_through_layout_and_concat_but_not_slices() -> None:
    c = Chain()
    h = c.op("Hardmax", c.input("x", F32, (2, 3), WIDE), axis=1)
    t = c.op("Transpose", h, perm=[1, 0])
    cat = c.op("Concat", c.op("Exp", c.input("y", F32, (2, 3), WIDE)), h, axis=0)
    s = c.op("Slice", h, _starts=[0], _ends=[1], _axes=[1], _steps=[1], _itype="int64")
    c.done()
    fs = facts(c.graph)
    assert fs[t].points == fs[cat].points == {0.0, 1.0} and fs[s].points == frozenset()


def test_points_are_capped_keeping_zero_and_the_extremes() -> None:
    got = capped(frozenset(float(v) for v in range(-5, 10)))
    assert len(got) == 6 and {-5.0, 9.0, 0.0} <= got
    c = Chain()
    r = c.op("Range", _shape=[20], _neg=False, _exact=True, _start=-4.0, _limit=16.0, _delta=1.0, _dtype="float32")
    c.done()
    assert {-4.0, 15.0, 0.0} <= facts(c.graph)[r].points


def cropped(c: Chain, bias: str) -> str:
    """A ConvTranspose whose pads crop every position an input reaches: inputs reach 0 and 3 of 5
    (stride 3, output padding 1), the pads keep position 4 only, so every output is the bias."""
    x = c.input("x", F32, (2, 3, 2), WIDE)
    w = c.input("w", F32, (3, 3, 1), WIDE)
    attrs = dict(strides=[3], dilations=[1], pads=[4, 0], output_padding=[1], output_shape=None, **CONV)
    return c.op("ConvTranspose_B", x, w, bias, **attrs)


def test_a_transposed_convolution_that_is_its_bias_everywhere() -> None:
    # regression (search_bench, 20 nodes, seed 578): Asin(Softplus(ConvTranspose_B(x, w,
    # Cosh(Erf(b))))) is asin of values >= softplus(1) = 1.31 for any values
    c = Chain()
    bias = c.op("Cosh", c.op("Erf", c.input("b", F32, (3,), WIDE)))
    y = cropped(c, bias)
    soft = c.op("Softplus", y)
    g = c.done(c.op("Asin", soft))
    assert facts(g)[y].range == facts(g)[bias].range
    assert list(infeasible(g)) == [4]
    assert not value_facts(c).fits(soft, input_requirement("Asin", 0))
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):  # and it is the bias, exactly
        x, w, b = (torch.randn(s, generator=gen) for s in ((2, 3, 2), (3, 3, 1), (3,)))
        (out,) = get("ConvTranspose_B").torch([x, w, b], g.nodes[2].attrs)
        assert torch.equal(out, b.reshape(1, 3, 1).expand(2, 3, 1))


def test_outputs_over_padding_only_hold_the_bias() -> None:
    # Conv_B with kernel 1 and pads 1: the two end positions see only padding, so they are the
    # bias; with a Hardmax bias they hold 0 and 1, and Reciprocal of the output is infinite
    c = Chain()
    x, w = c.input("x", F32, (1, 1, 3), WIDE), c.input("w", F32, (2, 1, 1), WIDE)
    bias = c.op("Hardmax", c.input("b", F32, (2,), WIDE), axis=0)
    y = c.op("Conv_B", x, w, bias, strides=[1], dilations=[1], pads=[1, 1], **CONV)
    inner = c.op("Conv_B", x, w, bias, strides=[1], dilations=[1], pads=[0, 0], **CONV)
    g = c.done(c.op("Reciprocal", y), c.op("Reciprocal", inner))
    fs = facts(g)
    assert fs[y].points == {0.0, 1.0} and fs[y].range[1] > 1.0  # not all bias: the range is wider
    assert fs[inner].points == frozenset()
    assert list(infeasible(g)) == [3]


def test_bias_only_outputs_that_miss_a_channel_give_no_points() -> None:
    # a grouped Conv_B whose second input channel is a structural zero (padding): output channel 1
    # is its bias element alone, channel 0 is not, so the bias's 0 and 1 need not both be there
    c = Chain()
    a = c.input("a", F32, (1, 1, 3), WIDE)
    x = c.op("Pad", a, mode="constant", _pads=[0, 0, 0, 0, 1, 0], _axes=None, _value=None, _dtype="float32")
    w = c.input("w", F32, (2, 1, 1), WIDE)
    bias = c.op("Hardmax", c.input("b", F32, (2,), WIDE), axis=0)
    y = c.op("Conv_B", x, w, bias, strides=[1], dilations=[1], pads=[0, 0], **{**CONV, "group": 2})
    c.done()
    assert facts(c.graph)[y].points == frozenset()
    x2 = c.op("Pad", a, mode="constant", _pads=[0, 0, 0, 0, 1, 0], _axes=None, _value=None, _dtype="float32")
    both = c.op("Conv_B", x2, w, bias, strides=[1], dilations=[1], pads=[1, 0], **{**CONV, "group": 2})
    c.done()
    assert facts(c.graph)[both].points == {0.0, 1.0}  # position 0 of channel 0 sees only padding


def test_a_sum_may_be_positive_where_an_element_is_zero() -> None:
    # regression (search_bench seed 196, 20 and 30 nodes, found by the search cleaning a graph said
    # to be infeasible): ReduceLogSum's requirement binds the sums, so Hardmax's 0 proves nothing
    c = Chain()
    h = c.op("Hardmax", c.input("x", F32, (2, 3), WIDE), axis=1)
    g = c.done(c.op("ReduceLogSum", h, _mode="axes", _axes=[1], _empty_tensor=False, keepdims=1))
    assert facts(g)[h].zero and infeasible(g) == {}
    assert value_facts(c).fits(h)


def test_a_one_hot_holds_its_off_value_even_where_indices_miss() -> None:
    c = Chain()
    i = c.input("i", DType.int8, (15, 30), Domain(-5.0, 5.0))
    hot = c.op("OneHot", i, axis=1, _depth=2, _dtype="float32", _depth_type="int64", _values=[0.0, 2.87])
    g = c.done(c.op("Log", hot))
    assert facts(g)[hot].points == {0.0} and list(infeasible(g)) == [1]
