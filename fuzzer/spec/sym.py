"""Arithmetic that works on both concrete ints and symbolic expressions (`fuzzer.spec.expr`).

Shape rules are written once with these helpers; the generator evaluates them on symbolic unknowns
(solved with Z3 when needed) and the same rule yields plain ints when every operand is concrete.
"""

from __future__ import annotations

from fuzzer.spec import expr as E

Dim = int | E.Expr
Cond = bool | E.BoolExpr


def is_concrete(x: object) -> bool:
    return isinstance(x, (int, bool))


def not_(c: Cond) -> Cond:
    return (not c) if isinstance(c, bool) else E.not_(c)


def fdiv(a: Dim, b: Dim) -> Dim:
    """Floor division; symbolic division is Euclidean (as in Z3), equal to floor for b > 0."""
    if is_concrete(a) and is_concrete(b):
        return a // b
    return a / b


def cdiv(a: Dim, b: Dim) -> Dim:
    """Ceiling division for b > 0."""
    return fdiv(a + b - 1, b)


def smax(a: Dim, b: Dim) -> Dim:
    if is_concrete(a) and is_concrete(b):
        return max(a, b)
    return E.ite(a >= b, a, b)


def smin(a: Dim, b: Dim) -> Dim:
    if is_concrete(a) and is_concrete(b):
        return min(a, b)
    return E.ite(a <= b, a, b)


def ite(c: Cond, a: Dim, b: Dim) -> Dim:
    if isinstance(c, bool):
        return a if c else b
    return E.ite(c, a, b)


def eq(a: Dim, b: Dim) -> Cond:
    if is_concrete(a) and is_concrete(b):
        return a == b
    return a == b  # Expr overloads == to build a symbolic condition


def any_of(*cs: Cond) -> Cond:
    if any(c is True for c in cs):
        return True
    rest = [c for c in cs if c is not False]
    if not rest:
        return False
    return rest[0] if len(rest) == 1 else E.or_(*rest)


def all_of(*cs: Cond) -> Cond:
    if any(c is False for c in cs):
        return False
    rest = [c for c in cs if c is not True]
    if not rest:
        return True
    return rest[0] if len(rest) == 1 else E.and_(*rest)


def prod(dims) -> Dim:
    out: Dim = 1
    for d in dims:
        out = out * d
    return out


def broadcast(a: tuple, b: tuple) -> tuple[tuple, list]:
    """Multidirectional (NumPy) broadcast of two shapes: the result and its validity conditions."""
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out, conds = [], []
    for x, y in zip(a, b):
        if is_concrete(x) and is_concrete(y):
            if x != y and x != 1 and y != 1:
                conds.append(False)
            out.append(y if x == 1 else x)
        elif is_concrete(x) and x == 1:
            out.append(y)
        elif is_concrete(y) and y == 1:
            out.append(x)
        else:
            conds.append(any_of(x == y, x == 1, y == 1))
            out.append(ite(x == 1, y, x))
    return tuple(out), conds
