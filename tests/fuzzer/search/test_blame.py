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
