"""The search as a whole: its contract, determinism, and a property over generated graphs."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate
from fuzzer.graph.torch_run import run_torch
from fuzzer.search import check, search
from fuzzer.spec.base import Domain
from fuzzer.spec.dtypes import DType
from tests.fuzzer.search.build import Chain


def assert_same(a, b) -> None:
    assert a.success == b.success and a.steps == b.steps and a.violations == b.violations
    for x, y in ((a.inputs, b.inputs), (a.weights, b.weights)):
        assert list(x) == list(y)
        for k in x:
            assert x[k].dtype == y[k].dtype
            assert x[k].tobytes() == y[k].tobytes(), k


def hard_graph():
    """A graph that needs many steps and redraws: Reciprocal(Floor(LeakyRelu(Mish(x)))) in float16."""
    c = Chain()
    x = c.input("x", DType.float16, (8, 16), Domain(-3.0, 3.0))
    n = c.input("n", DType.int32, (8, 16), Domain(-3.0, 3.0))
    y = c.op("Floor", c.op("LeakyRelu", c.op("Mish", x), alpha=-0.12))
    return c.done(c.op("Reciprocal", y), c.op("Div", n, n))


def test_same_seed_gives_identical_arrays() -> None:
    g = hard_graph()
    a, b = search(g, 7, steps=150), search(g, 7, steps=150)
    assert a.steps > 0
    assert_same(a, b)
    c = search(g, 8, steps=150)
    assert c.inputs["x"].tobytes() != a.inputs["x"].tobytes()


def test_the_search_leaves_global_rng_state_alone() -> None:
    import torch

    torch.manual_seed(123)
    before = torch.get_rng_state()
    search(hard_graph(), 0, steps=20)
    assert torch.equal(before, torch.get_rng_state())


def test_result_types_and_domains() -> None:
    g = hard_graph()
    r = search(g, 1, steps=200)
    assert r.success, [str(v) for v in r.violations]
    assert set(r.inputs) == set(g.inputs) and set(r.weights) == set(g.weights)
    for name, arr in {**r.inputs, **r.weights}.items():
        t = g.tensors[name]
        assert arr.dtype == t.ttype.dtype.numpy and arr.shape == tuple(t.ttype.shape)
        assert (arr.astype(np.float64) >= t.domain.lo).all() and (arr.astype(np.float64) <= t.domain.hi).all()
    assert r.seconds > 0 and r.redraws >= 1
    assert check(g, r.inputs, r.weights) == []


def test_steps_zero_only_checks() -> None:
    r = search(hard_graph(), 0, steps=0)
    assert r.steps == 0 and not r.success and r.violations


@pytest.mark.parametrize("kw", [{"steps": -1}, {"steps": 1.5}, {"patience": 0}])
def test_bad_arguments_are_named(kw) -> None:
    with pytest.raises(ValueError, match=str(next(iter(kw.values())))):
        search(hard_graph(), 0, **kw)


def no_nan_anywhere(graph, r) -> bool:
    g = dataclasses.replace(graph, values={**graph.values, **r.weights})
    with np.errstate(all="ignore"):
        env = run_torch(g, r.inputs, keep_all=True)
    floats = [v.astype(np.float64) for n, v in env.items() if graph.tensors[n].ttype.dtype.is_float]
    return all(np.isfinite(v).all() for v in floats)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), max_nodes=st.integers(3, 15))
def test_generated_graphs(seed: int, max_nodes: int) -> None:
    """Whatever the graph: the result has the graph's types, a success is NaN/Inf-free under
    fuzzer.graph.torch_run, and the violations reported are exactly what the check finds."""
    graph, _ = generate(GenConfig(max_nodes=max_nodes), seed)
    r = search(graph, seed, steps=40)
    for name, arr in {**r.inputs, **r.weights}.items():
        assert arr.dtype == graph.tensors[name].ttype.dtype.numpy
    assert r.violations == check(graph, r.inputs, r.weights)
    assert r.success == (not r.violations)
    if r.success:
        assert no_nan_anywhere(graph, r)


DIGEST = """
import hashlib, sys
from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate
from fuzzer.search import search
h = hashlib.sha256()
for seed in (3, 11):
    graph, _ = generate(GenConfig(max_nodes=15), seed)
    r = search(graph, seed, steps=60)
    for k, v in sorted({**r.inputs, **r.weights}.items()):
        h.update(k.encode() + v.tobytes())
    h.update(repr((r.success, r.steps, r.violations)).encode())
print(h.hexdigest())
"""


@pytest.mark.slow
def test_same_result_in_any_process() -> None:
    """No dependence on hash seeds or on what ran before in the process."""
    root = Path(__file__).resolve().parents[3]
    digests = set()
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
        r = subprocess.run(
            [sys.executable, "-c", DIGEST], capture_output=True, text=True, env=env, cwd=root, timeout=300
        )
        assert r.returncode == 0, r.stderr
        digests.add(r.stdout.strip())
    assert len(digests) == 1


def test_an_infinite_gradient_keeps_its_sign() -> None:
    # at Asin's or Acosh's end of the domain the derivative is infinite; zeroing it left elements
    # saturated there (Asin(Asin(HardSigmoid(x))) at HardSigmoid = 1) without a way back
    import torch

    from fuzzer.search.trace import finite_grad

    big = torch.finfo(torch.float16).max
    g = torch.tensor([math.inf, -math.inf, math.nan, 2.0], dtype=torch.float16)
    assert finite_grad(g).tolist() == [big, -big, 0.0, 2.0]


@pytest.mark.parametrize("seed", [57, 193])
def test_models_needing_several_redraws_are_cleaned_in_50_steps(seed: int) -> None:
    # regression (search_bench, 30 nodes, 50 steps): with a patience of 10 the budget ran out
    graph, _ = generate(GenConfig(max_nodes=30), seed)
    assert search(graph, seed, steps=50).success


def test_integer_redraws_climb_from_the_best_values() -> None:
    # regression (search_bench, 20 nodes, seed 382): every element of Relu(Pad(b)) must be nonzero,
    # so every element of the int8 b in {1, 2, 3}; each redraw started from the last one's values
    # and redrew all of b, so it took (7/3)^7 tries
    c = Chain()
    a = c.input("a", DType.int8, (8, 1), Domain(-3.0, 3.0))
    b = c.input("b", DType.int8, (7, 1), Domain(-3.0, 3.0))
    pad = c.op("Pad", b, mode="reflect", _pads=[0, 0, 1, 0], _axes=None, _value=None, _dtype="int8")
    g = c.done(c.op("Mod", a, c.op("Relu", pad), fmod=1))
    assert all(search(g, seed, steps=50).success for seed in range(5))


def test_hardmax_passes_a_gradient() -> None:
    # regression (search_bench, seed 439): Acosh(CumSum(Hardmax(x))) needs the maximum of each
    # slice at its last index; without a gradient through Hardmax, x was redrawn at random
    c = Chain()
    x = c.input("x", DType.float32, (6, 3, 3, 1), Domain(1.01, 3.0))
    h = c.op("Hardmax", x, axis=-4)
    g = c.done(c.op("Acosh", c.op("CumSum", h, _axis=-4, _axis_dtype="int64", exclusive=0, reverse=1)))
    r = search(g, 0, steps=50)
    assert r.success and r.redraws == 0


def test_integer_redraws_undo_what_made_things_worse() -> None:
    # Relu(Reshape(b)) from (2, 3) to (3, 2) looks like a Transpose to positional blame, which so
    # redraws the wrong elements; only keeping the best values and trying elsewhere gets there
    c = Chain()
    a = c.input("a", DType.int8, (3, 2), Domain(-3.0, 3.0))
    b = c.input("b", DType.int8, (2, 3), Domain(-3.0, 3.0))
    t = c.op("Reshape", b, _shape=[3, 2], allowzero=0)
    g = c.done(c.op("Mod", a, c.op("Relu", t), fmod=1))
    assert sum(search(g, seed, steps=50).success for seed in range(20)) >= 6


def test_confirms_only_a_pass_that_computed_the_same_bits() -> None:
    """check.confirms spares the final check a judged pass when the real implementations compute
    the trace's tensors bit for bit; one differing bit (a signed zero) or raising node says no."""
    import torch

    from fuzzer.search.check import confirms, identical
    from fuzzer.search.leaves import Leaves
    from fuzzer.search.trace import run

    g = hard_graph()
    r = search(g, 1, steps=200)
    assert r.success
    leaves = Leaves(g, torch.Generator().manual_seed(0))
    leaves.load({**r.inputs, **r.weights})
    trace = run(g, leaves.real(), proxy=True)
    assert not trace.violations() and confirms(g, trace, r.inputs, r.weights)
    out = g.outputs[0]
    assert not identical(torch.tensor([0.0]), torch.tensor([-0.0])) and identical(torch.tensor(1.5), torch.tensor(1.5))
    mangled = dataclasses.replace(trace, env={**trace.env, out: trace.env[out].detach().clone()})
    first = mangled.env[out].view(-1)[:1]
    first.copy_(torch.nextafter(first, torch.full_like(first, math.inf)))
    assert not confirms(g, mangled, r.inputs, r.weights)
    assert not confirms(g, dataclasses.replace(trace, raised={0: "raised"}), r.inputs, r.weights)


def test_a_search_clean_at_once_makes_no_optimiser_and_no_analysis(monkeypatch) -> None:
    """Most searches are clean at step 0: they neither build the optimiser nor run the interval
    analysis, which cost more than the step itself; a search that moves does both, and its result
    is what it was when both were made up front (see test_same_seed_gives_identical_arrays)."""
    import torch

    from fuzzer.search import descent

    made = {"opt": 0, "analysis": 0}
    real_rprop, real_infeasible = torch.optim.Rprop, descent.infeasible

    class Rprop(real_rprop):
        def __init__(self, *a, **k) -> None:
            made["opt"] += 1
            super().__init__(*a, **k)

    def analysis(graph):
        made["analysis"] += 1
        return real_infeasible(graph)

    monkeypatch.setattr(torch.optim, "Rprop", Rprop)
    monkeypatch.setattr(descent, "infeasible", analysis)
    c = Chain()
    easy = c.done(c.op("Sqrt", c.input("x", DType.float32, (4,), Domain(1.0, 2.0))))
    assert search(easy, 0, steps=50).steps == 0 and made == {"opt": 0, "analysis": 0}
    assert search(hard_graph(), 1, steps=200).steps > 0 and made["opt"] >= 1 and made["analysis"] == 1


@pytest.mark.parametrize("seed", range(8))
def test_outputs_of_a_success_are_torch_runs_outputs_bit_for_bit(seed: int) -> None:
    """A campaign takes SearchResult.outputs as its float32 torch reference instead of running the
    graph again (tensorsmith.produce): they must be what fuzzer.graph.torch_run gives, bit for bit."""
    graph, _ = generate(GenConfig(max_nodes=12), seed)
    r = search(graph, seed, steps=40)
    if not r.success:
        assert r.outputs is None
        return
    assert r.outputs is not None and list(r.outputs) == graph.outputs
    want = run_torch(dataclasses.replace(graph, values={**graph.values, **r.weights}), r.inputs)
    for n, v in want.items():
        assert r.outputs[n].dtype == v.dtype and r.outputs[n].shape == v.shape
        assert r.outputs[n].tobytes() == v.tobytes(), n
