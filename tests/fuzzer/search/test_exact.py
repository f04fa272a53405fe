"""Exactness: which values every correct backend computes bit for bit the same."""

from __future__ import annotations

import pytest
import torch

from fuzzer.graph.model import Node
from fuzzer.search import search
from fuzzer.search.exact import exact_outputs
from fuzzer.spec.base import Domain
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import get
from tests.fuzzer.search.build import Chain

F32 = DType.float32
T, F = torch.tensor(True), torch.tensor(False)


def masks(op: str, xs: list[torch.Tensor], exact: list[torch.Tensor], **attrs) -> torch.Tensor:
    ys = get(op).torch(xs, attrs)
    node = Node(op, [f"x{i}" for i in range(len(xs))], ["y"], attrs)
    dts = [[F32] * len(xs), [F32] * len(ys)]
    return exact_outputs(node, xs, ys, exact, dts)[0].broadcast_to(ys[0].shape)


def test_step_functions_resolve() -> None:
    assert bool(masks("Floor", [torch.tensor([0.3, 1.7])], [F]).all())


def test_elementwise_arithmetic_is_exact_on_small_integers_only() -> None:
    x = torch.tensor([0.0, 2.0, 0.5])
    assert masks("Cosh", [x], [T]).tolist() == [True, False, False]  # cosh(0) = 1
    assert masks("Add", [x, torch.tensor(1.0)], [T, T]).tolist() == [True, True, False]
    assert not bool(masks("Add", [x, torch.tensor(1.0)], [F, T]).any())


def test_fills_of_moving_ops_are_exact() -> None:
    x = torch.ones(3, 3)
    got = masks("Trilu", [x], [F], upper=1, _k=0)
    assert got.tolist() == [[False] * 3, [True, False, False], [True, True, False]]


def test_linear_ops_are_exact_where_no_term_reaches() -> None:
    x = torch.tensor([[1.5, 0.0], [0.0, 0.0]])
    w = torch.tensor([[0.3, 0.0], [0.7, 0.0]])
    assert masks("MatMul", [x, w], [F, F]).tolist() == [[False, True], [True, True]]


def test_robust_selections() -> None:
    x = torch.tensor([-1.0, -1e-7, 2.0])
    assert masks("Relu", [x], [F]).tolist() == [True, False, False]
    one, y = torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.5, 1.00000001, 3.0])
    assert masks("Min", [one, y], [T, F]).tolist() == [False, False, True]


def test_zero_keeping_functions_of_an_exact_zero_are_exact() -> None:
    x = torch.tensor([0.0, 0.5])
    for op in ("Gelu", "Softsign", "Tanh", "Erf"):
        assert masks(op, [x], [T]).tolist() == [True, False], op
    assert masks("Gelu", [x], [F]).tolist() == [False, False]


def test_cast_like_takes_only_the_type_of_its_target() -> None:
    # regression (search_bench, 30 nodes, seed 35): the target's mask of shape (1,) made the mask of a
    # scalar output (1,), which the next op could not broadcast
    got = masks("CastLike_any", [torch.tensor(1.0), torch.ones(1)], [T, F])
    assert got.shape == () and bool(got)


def test_gemm_outputs_no_term_reaches_are_exact_even_with_cancelling_coefficients() -> None:
    a, b = torch.tensor([[1.5, 0.0], [0.0, 0.0]]), torch.tensor([[0.3, 0.0], [0.7, 0.0]])
    c = torch.tensor([1.0, 0.0])
    got = masks("Gemm_C", [a, b, c], [F, F, F], transA=0, transB=0, alpha=1.0, beta=-1.0)
    assert got.tolist() == [[False, True], [False, True]]  # [0][0] is 1 * 0.45 - 1 * 1, not 1 - 1


def test_a_convolution_over_padding_only_is_an_exact_zero_downstream() -> None:
    # regression (search_bench seed 359): Sqrt(Softsign(Sin(Gelu(Conv over a 1x1 input whose only
    # output is a pad)))) is sqrt(0), exact in every backend; Gelu and Softsign lost the exactness
    c = Chain()
    x = c.input("x", F32, (1, 1, 1, 1), Domain(-3.0, 3.0))
    w = c.input("w", F32, (1, 1, 1, 1), Domain(-3.0, 3.0))
    conv = dict(group=1, auto_pad="NOTSET", strides=[2, 2], dilations=[3, 3], pads=[0, 1, 0, 0], _terse=True)
    y = c.op("Conv_noB", x, w, _kernel_attr=False, kernel_shape=[1, 1], **conv)
    for op in ("Gelu", "Sin", "Softsign", "Sqrt"):
        y = c.op(op, y)
    r = search(c.done(), 359, steps=5)
    assert r.success, [str(v) for v in r.violations]


CROP = {  # roi outside the image along axis 2 at the start, and along axis 3 at the end
    "mode": "linear",
    "_mode": "linear",
    "coordinate_transformation_mode": "tf_crop_and_resize",
    "extrapolation_value": 2.976,
    "_ax": [2, 3],
    "axes": [2, 3],
    "_roi": [(-0.5, 0.25), (0.5, 1.5)],
    "_scales": None,
    "_sizes": [3, 6],
    "_in": [1, 1, 4, 4],
}


def test_extrapolated_outputs_of_a_crop_resize_are_exact() -> None:
    """Regression: Floor(Resize) whose every output was the float16 extrapolation value 2.977, near
    3 by the edge tolerance, could not be cleaned (20 nodes, seed 636). Checked against ONNX Runtime:
    exactly the outputs called exact are the fill."""
    import numpy as np
    import onnxruntime as ort

    from fuzzer.graph.onnx_io import to_onnx

    x = torch.linspace(-1, 1, 16).reshape(1, 1, 4, 4)
    got = masks("Resize", [x], [F], **CROP)
    assert bool(got.any()) and not bool(got.all())
    c = Chain()
    g = c.done(c.op("Resize", c.input("x", F32, (1, 1, 4, 4)), **CROP))
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": x.numpy()})
    assert ((y == np.float32(2.976)) == got.numpy()).all()


def test_an_integer_crop_resize_is_exact() -> None:
    """Regression: the extrapolation rule filled an integer input with NaN and raised."""
    x = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4)
    node = Node("Resize", ["x"], ["y"], CROP)
    (y,) = get("Resize").torch([x], CROP)
    assert bool(exact_outputs(node, [x], [y], [F], [[DType.uint8], [DType.uint8]])[0].all())


def test_reciprocal_of_one_is_exact() -> None:
    """Regression: Ceil(Reciprocal(Cast(bool))) must see an exact 1 (20 nodes, seed 557: 168 Ceil
    elements at 1.0 could not be cleaned)."""
    assert masks("Reciprocal", [torch.tensor([1.0, -1.0, 2.0, 3.0])], [T]).tolist() == [True, True, False, False]


def test_identity_branches_of_exact_inputs_are_exact() -> None:
    """Regression (30 nodes, seed 260): Celu of exact positive values, cast to uint8, was a knife
    edge at every integer; Celu(x) is x for x >= 0 in every backend."""
    x = torch.tensor([0.37, 2.0, -0.5])
    for op in ("Elu", "Celu", "LeakyRelu"):
        assert masks(op, [x], [T]).tolist() == [True, True, False]
        assert not bool(masks(op, [x], [F]).any())
    assert masks("PRelu", [x, torch.tensor(0.3)], [T, F]).tolist() == [True, True, False]


def test_layer_normalization_of_one_element_and_lrn_of_zero_are_exact() -> None:
    """Regression (30 nodes, seed 283): Ceil(LRN(LayerNormalization over an axis of length 1)) is
    Ceil of an exact 0. ONNX Runtime returns exactly the bias (0 without one) there, float32 and
    float16, optimized or not."""
    x = torch.tensor([[[[0.3], [1.7], [2.2]]]])
    ln = {"axis": -1, "_axis": 3, "epsilon": 0.5}
    assert bool(masks("LayerNormalization_noB", [x, torch.tensor([1.7])], [F, T], **ln).all())
    assert bool(masks("LayerNormalization_B", [x, torch.tensor([1.7]), torch.tensor([0.1])], [F, F, T], **ln).all())
    assert not bool(masks("LayerNormalization_B", [x, torch.tensor([1.7]), torch.tensor([0.1])], [F, F, F], **ln).any())
    z = torch.tensor([[[[0.0], [1.7], [0.0]]]])
    lrn = {"size": 3, "alpha": 0.5, "beta": 1.0, "bias": 1.0}
    assert masks("LRN", [z], [T], **lrn).flatten().tolist() == [True, False, True]


def eager_masks(graph, env) -> dict[str, torch.Tensor]:
    """Every tensor's exactness, node after node (how the search computed them before
    trace.Exactness made it lazy)."""
    out = {n: T for n in graph.inputs + graph.weights}
    for node in graph.nodes:
        xs, ys = [env[n] for n in node.inputs], [env[n] for n in node.outputs]
        dts = [[graph.tensors[n].ttype.dtype for n in ns] for ns in (node.inputs, node.outputs)]
        out.update(zip(node.outputs, exact_outputs(node, xs, ys, [out[n] for n in node.inputs], dts)))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_exactness_asked_for_in_any_order_is_the_eager_pass(seed: int) -> None:
    """trace.Exactness computes a mask when a loss first asks, with those it depends on: the last
    tensor first (all of its ancestors at once) or each in turn gives what the eager pass gives."""
    from fuzzer.generate.config import GenConfig
    from fuzzer.generate.generator import generate
    from fuzzer.search.leaves import Leaves
    from fuzzer.search.trace import Exactness, forward

    graph, _ = generate(GenConfig(max_nodes=25), seed)
    with torch.no_grad():
        env, _ = forward(graph, Leaves(graph, torch.Generator().manual_seed(seed)).real(), proxy=False)
    want = eager_masks(graph, env)
    names = [o for node in graph.nodes for o in node.outputs]
    for order in (names, names[::-1]):
        lazy = Exactness(graph, env)
        for n in order:
            assert torch.equal(lazy.tensor(n), want[n]), (seed, n)
    last = graph.nodes[-1]
    seen = Exactness(graph, env).of(last)
    assert len(seen) == len(last.inputs) and all(torch.equal(m, want[n]) for m, n in zip(seen, last.inputs))
