"""Exactness: which values every correct backend computes bit for bit the same."""

from __future__ import annotations

import torch

from fuzzer.graph.model import Node
from fuzzer.search.exact import exact_outputs
from fuzzer.spec.dtypes import DType

F32 = DType.float32
T, F = torch.tensor(True), torch.tensor(False)


def masks(op: str, xs: list[torch.Tensor], exact: list[torch.Tensor], **attrs) -> torch.Tensor:
    from fuzzer.spec.registry import get

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
