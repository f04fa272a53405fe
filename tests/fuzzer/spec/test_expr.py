"""Expression trees evaluate exactly as Z3 does on the same terms."""

from __future__ import annotations

import pytest
import z3
from hypothesis import given
from hypothesis import strategies as st

from fuzzer.spec.expr import Undefined, Var, evaluate, to_z3
from fuzzer.spec.sym import any_of, cdiv, fdiv, ite, smax, smin

X, Y = Var("x"), Var("y")


def exprs():
    leaf = st.sampled_from([X, Y]) | st.integers(-9, 9)

    def extend(inner):
        return (
            st.builds(lambda a, b: a + b, inner, inner)
            | st.builds(lambda a, b: a - b, inner, inner)
            | st.builds(lambda a, b: a * b, inner, inner)
            | st.builds(lambda a, b: fdiv(a, b), inner, st.integers(1, 7))
            | st.builds(lambda a, b: smax(a, b), inner, inner)
            | st.builds(lambda a, b: smin(a, b), inner, inner)
            | st.builds(lambda a, b: cdiv(a, b), inner, st.integers(1, 5))
        )

    return st.recursive(leaf, extend, max_leaves=8)


@given(e=exprs(), x=st.integers(-20, 20), y=st.integers(-20, 20))
def test_evaluate_agrees_with_z3(e, x, y) -> None:
    ctx = z3.Context()
    memo: dict = {}
    term = to_z3(e, ctx, memo)
    subs = [(to_z3(X, ctx, memo), z3.IntVal(x, ctx)), (to_z3(Y, ctx, memo), z3.IntVal(y, ctx))]
    want = z3.simplify(z3.substitute(term, *subs)).as_long() if hasattr(term, "sort") else term
    assert evaluate(e, {X.uid: x, Y.uid: y}) == want


def test_conditions_and_division_by_zero() -> None:
    env = {X.uid: 3, Y.uid: 0}
    assert evaluate(any_of(X == 1, Y == 0), env) is True
    assert evaluate(ite(X > 2, X, Y), env) == 3
    with pytest.raises(Undefined):
        evaluate(X / Y, env)
    with pytest.raises(TypeError, match="no truth value"):
        bool(X == 3)
