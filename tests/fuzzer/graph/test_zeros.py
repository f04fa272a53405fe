"""Structural zeros: elements that are exactly 0 whatever the leaves, carried through later ops."""

from __future__ import annotations

import torch

from fuzzer.generate.values import ValueFacts
from fuzzer.graph.feasibility import facts, infeasible, input_requirement
from fuzzer.graph.zeros import masks_of
from fuzzer.spec.base import Domain
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get
from tests.fuzzer.search.build import Chain

WIDE = Domain(-3.0, 3.0)
F32 = DType.float32
POOL = dict(auto_pad="NOTSET", _terse=False, strides=[1], ceil_mode=0, storage_order=None)


def holes(c: Chain, n: int = 5) -> str:
    """A ConvTranspose (stride 2, dilation 2) whose odd outputs no input reaches: 12 long, odd ones 0."""
    x = c.input("x", F32, (1, 2, n), WIDE)
    w = c.input("w", F32, (2, 2, 2), WIDE)
    conv = dict(group=1, auto_pad="NOTSET", _terse=False, strides=[2], dilations=[2], pads=[0, 0])
    return c.op(
        "ConvTranspose_noB", x, w, _kernel_attr=True, kernel_shape=[2], output_padding=[1], output_shape=None, **conv
    )


def mask(c: Chain, name: str) -> list:
    g = c.graph
    producer = {o: n for n in g.nodes for o in n.outputs}
    m = masks_of(name, g, producer.get, {}, lambda t: False)
    return [] if m is None else m.flatten().tolist()


def test_a_max_pool_that_keeps_parities_apart_keeps_the_holes() -> None:
    # regression (search_bench seed 66): Log(Neg(MaxPool(ConvTranspose))) with dilation 2 is log(0)
    c = Chain()
    t = holes(c)
    pooled = c.op("MaxPool", t, dilations=[2], pads=[2, 2], kernel_shape=[3], **POOL)
    g = c.done(c.op("Log", c.op("Neg", pooled)))
    assert mask(c, pooled)[:4] == [False, True, False, True]
    assert list(infeasible(g)) == [3]
    v = ValueFacts(g)
    for node in g.nodes:
        v.added(node)
    assert not v.fits(g.nodes[2].outputs[0])


def test_a_max_pool_that_mixes_parities_has_none() -> None:
    c = Chain()
    pooled = c.op("MaxPool", holes(c), dilations=[1], pads=[1, 1], kernel_shape=[3], **POOL)
    g = c.done(c.op("Log", c.op("Neg", pooled)))
    assert mask(c, pooled) == [] and infeasible(g) == {}


def test_what_cancels_or_picks_a_minimum_is_not_simulated() -> None:
    # Sub of two holed tensors is 0 only where both are; min(0, x) is not 0; Gemm's beta = -alpha
    # would cancel alpha * 1 + beta * 1 in a naive run on ones
    c = Chain()
    t = holes(c)
    sub = c.op("Sub", t, c.op("Relu", c.input("y", F32, (1, 2, 12), WIDE)))
    both = c.op("Sub", t, c.op("Neg", t))
    low = c.op("ReduceMin", t, _mode="axes", _axes=[2], _empty_tensor=False, keepdims=1)
    a, b = c.input("a", F32, (2, 3), WIDE), c.input("b", F32, (3, 2), WIDE)
    gemm = c.op("Gemm_C", a, b, c.input("gc", F32, (2,), WIDE), transA=0, transB=0, alpha=1.0, beta=-1.0)
    c.done()
    assert mask(c, sub) == [] and mask(c, both)[:2] == [False, True]
    assert mask(c, low) == [] and mask(c, gemm) == []


def test_zeros_go_through_layout_and_zero_keeping_ops() -> None:
    c = Chain()
    t = holes(c)
    s = c.op("Slice", c.op("Gelu", t), _starts=[1], _ends=[2], _axes=[2], _steps=[1], _itype="int64")
    m = c.op("Mul", t, c.input("y", F32, (1, 2, 12), WIDE))
    e = c.op("Exp", t)  # exp(0) = 1: no zeros
    g = c.done(c.op("Reciprocal", s), c.op("Reciprocal", m), c.op("Reciprocal", e))
    assert mask(c, s) == [True, True] and mask(c, e) == []
    assert list(infeasible(g)) == [5, 6]
    assert facts(g)[s].zero and not facts(g)[e].zero


def test_a_reduction_of_all_zeros_is_zero_but_not_of_some() -> None:
    c = Chain()
    t = holes(c)
    odd = c.op("Slice", t, _starts=[1], _ends=[12], _axes=[2], _steps=[2], _itype="int64")
    some = c.op("ReduceSum", t, _mode="axes", _axes=[2], _empty_tensor=False, keepdims=1)
    alls = c.op("ReduceL2", odd, _mode="axes", _axes=[2], _empty_tensor=False, keepdims=1)
    c.done()
    assert mask(c, some) == [] and mask(c, alls) == [True, True]


def test_masks_hold_on_random_values() -> None:
    # the holes are zeros for any x and w
    c = Chain()
    t = holes(c)
    pooled = c.op("MaxPool", t, dilations=[2], pads=[2, 2], kernel_shape=[3], **POOL)
    c.done()
    want = torch.tensor(mask(c, pooled)).reshape(1, 2, 12)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        x, w = torch.randn(1, 2, 5, generator=gen), torch.randn(2, 2, 2, generator=gen)
        conv_node, pool_node = c.graph.nodes
        y = get(conv_node.op).torch([x, w], conv_node.attrs)[0]
        p = get(pool_node.op).torch([y], pool_node.attrs)[0]
        assert bool((p[want] == 0).all())


def test_the_generator_does_not_feed_holes_to_a_log() -> None:
    c = Chain()
    t = holes(c)
    v = ValueFacts(c.graph)
    for node in c.graph.nodes:
        v.added(node)
    assert not v.fits(t, input_requirement("Log", 0)) and v.fits(t, input_requirement("Sqrt", 0))
