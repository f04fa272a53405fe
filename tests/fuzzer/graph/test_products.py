"""Ranges of sums of products: how many terms an Einsum output sums."""

from __future__ import annotations

from fuzzer.graph.feasibility import infeasible
from fuzzer.graph.ranges import einsum_terms, ranges
from fuzzer.spec.base import Domain
from fuzzer.spec.dtypes import DType
from tests.fuzzer.search.build import Chain


def test_einsum_terms_are_the_dims_summed_over() -> None:
    assert einsum_terms("ij,jk->ik", [[2, 3], [3, 4]], [0, 0]) == 3
    assert einsum_terms("kcvn,,->nkv", [[3, 2, 2, 64], [], []], [0, 0, 0]) == 2
    assert einsum_terms("ij,jk", [[2, 3], [3, 4]], [0, 0]) == 3  # implicit: ik kept, j summed
    assert einsum_terms("...ab,...b->...", [[5, 2, 3], [5, 3]], [1, 1]) == 6  # a and b, not the ellipsis
    assert einsum_terms("ab->ab", [[2, 3]], [0]) == 1


def test_sinh_of_a_large_einsum_overflows() -> None:
    # regression (search_bench, 20 nodes, seed 608): an Einsum summing 2 products of values in
    # [1, 1.3] and two scalars near 7.5 is >= 112, and Sinh of it overflows float32; Einsum had no range
    c = Chain()
    x = c.input("x", DType.float32, (3, 2, 2, 4), Domain(1.0, 1.3))
    s = c.input("s", DType.float32, (), Domain(7.0, 8.0))
    e = c.op("Einsum", x, s, s, equation="kcvn,,->nkv", _ell=[0, 0, 0])
    g = c.done(c.op("Sinh", e))
    assert ranges(g)[e] == (2 * 1.0 * 7.0 * 7.0, 2 * 1.3 * 8.0 * 8.0)
    assert list(infeasible(g)) == [1]
