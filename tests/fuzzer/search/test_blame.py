"""Blame: which leaf elements a violation is redrawn through."""

from __future__ import annotations

import torch

from fuzzer.search.blame import positional


def test_broadcast_positions() -> None:
    mask = torch.tensor([[True, False, False], [False, False, True]])
    assert positional((2, 3), mask).tolist() == mask.tolist()
    assert positional((3,), mask).tolist() == [True, False, True]
    assert positional((2, 1), mask).tolist() == [[True], [True]]


def test_squeezed_leaves_map_element_for_element() -> None:
    mask = torch.tensor([True, False, True])
    assert positional((1, 3, 1), mask).reshape(-1).tolist() == [True, False, True]


def test_unrelated_shapes_blame_everything() -> None:
    assert bool(positional((4,), torch.tensor([True, False, True])).all())


def test_leaves_through_an_added_or_dropped_axis_map_by_their_dims() -> None:
    # regression (search_bench, 30 nodes, seeds 27 and 310): the whole index leaf of a OneHot, or
    # the whole second factor of a MatMul, was redrawn, so no redraw ever fixed every element
    mask = torch.zeros(3, 2, 4, dtype=torch.bool)
    mask[1, 0, 2] = True  # OneHot(indices (3, 4), axis=1)
    assert positional((3, 4), mask).nonzero().tolist() == [[1, 2]]
    mask = torch.zeros(2, 1, 5, 7, dtype=torch.bool)
    mask[1, 0, 3, 4] = True  # MatMul(x (2, 1, 5, 7, 1), y (2, 1, 5, 1, 1)), squeezed
    assert positional((2, 1, 5, 1, 1), mask).nonzero().tolist() == [[1, 0, 3, 0, 0]]
    got = positional((3, 4, 5), torch.tensor([False, True, False, False]))  # ReduceSum over axes 0, 2
    assert got[:, 1, :].all() and int(got.sum()) == 15


def test_padded_or_sliced_leaves_blame_the_elements_within_the_shift() -> None:
    # regression (seed 382): Relu(Pad(b)) with b (7, 1) and the output (8, 1) blamed all of b
    mask = torch.zeros(8, 1, dtype=torch.bool)
    mask[0] = mask[5] = True
    assert positional((7, 1), mask).reshape(-1).tolist() == [True, False, False, False, True, True, False]
    mask = torch.zeros(8, dtype=torch.bool)
    mask[2] = True  # Slice(b (11,), starts 0..3)
    assert positional((11,), mask).nonzero().reshape(-1).tolist() == [2, 3, 4, 5]
    mask = torch.zeros(4, 6, dtype=torch.bool)
    mask[1, 5] = True  # Concat along axis 0
    assert positional((3, 6), mask).nonzero().tolist() == [[0, 5], [1, 5]]


def test_transposed_and_reshaped_leaves_map_element_for_element() -> None:
    mask = torch.zeros(1, 4, 3, dtype=torch.bool)
    mask[0, 1, 2] = True  # Transpose of a (3, 1, 4) leaf: the dims differ in size
    assert positional((3, 1, 4), mask).nonzero().tolist() == [[2, 0, 1]]
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[1, 0] = True  # Reshape of a (3, 4) leaf: the order of the elements is kept
    assert positional((3, 4), mask).nonzero().tolist() == [[1, 2]]


def test_gradient_blame_behind_a_mixing_op_takes_the_largest_gradients() -> None:
    # Acos(Relu(LayerNorm(x))): every element has a gradient, and redrawing all of them for a few
    # violated ones started the search over
    from fuzzer.search.blame import by_gradient

    x = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    penalty = (x * torch.tensor([0.1, -3.0, 0.2, 2.0, 0.0, 0.1], dtype=torch.float64)).sum()
    assert by_gradient(penalty, {"x": x})["x"].tolist() == [True, True, True, True, False, True]
    penalty = (x * torch.tensor([0.1, -3.0, 0.2, 2.0, 0.0, 0.1], dtype=torch.float64)).sum()
    assert by_gradient(penalty, {"x": x}, most=2)["x"].tolist() == [False, True, False, True, False, False]
