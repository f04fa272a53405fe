"""Symbolic integer expressions for shape rules: cheap Python trees, turned into Z3 only to solve.

A spec's rules run on `Expr` values while an insertion has unknowns. Building these trees costs a few
Python objects; building Z3 terms directly cost tens of microseconds each through ctypes and needed a
Z3 context per model up front. Most insertions are settled by evaluating the trees at the preferred
values (`evaluate`), so Z3 sees only the conflicts (`to_z3`). Semantics follow Z3's integer theory:
division and remainder are Euclidean (equal to floor division for positive divisors).
"""

from __future__ import annotations

import itertools

import z3

_ids = itertools.count()


class Expr:
    """An integer- or bool-valued expression node. Hashing is by identity, like a fresh variable."""

    __slots__ = ("op", "args")
    is_bool = False

    def __init__(self, op: str, args: tuple):
        self.op = op
        self.args = args

    # arithmetic ---------------------------------------------------------------------------
    def __add__(self, o):
        return _int("+", self, o)

    def __radd__(self, o):
        return _int("+", o, self)

    def __sub__(self, o):
        return _int("-", self, o)

    def __rsub__(self, o):
        return _int("-", o, self)

    def __mul__(self, o):
        return _int("*", self, o)

    def __rmul__(self, o):
        return _int("*", o, self)

    def __neg__(self):
        return _int("-", 0, self)

    def __truediv__(self, o):
        return _int("div", self, o)

    def __rtruediv__(self, o):
        return _int("div", o, self)

    __floordiv__ = __truediv__
    __rfloordiv__ = __rtruediv__

    def __mod__(self, o):
        return _int("mod", self, o)

    def __rmod__(self, o):
        return _int("mod", o, self)

    # comparisons ---------------------------------------------------------------------------
    def __eq__(self, o):  # noqa: D105  (a symbolic condition, like Z3's)
        return BoolExpr("==", (self, o))

    def __ne__(self, o):
        return BoolExpr("!=", (self, o))

    def __lt__(self, o):
        return BoolExpr("<", (self, o))

    def __le__(self, o):
        return BoolExpr("<=", (self, o))

    def __gt__(self, o):
        return BoolExpr("<", (o, self))

    def __ge__(self, o):
        return BoolExpr("<=", (o, self))

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError("a symbolic expression has no truth value; use fuzzer.spec.sym helpers (ite, any_of, ...)")

    def __repr__(self) -> str:
        return f"({self.op} {' '.join(map(repr, self.args))})"


class Var(Expr):
    """A named unknown integer."""

    __slots__ = ("name", "uid")

    def __init__(self, name: str):
        super().__init__("var", ())
        self.name = name
        self.uid = next(_ids)

    def __repr__(self) -> str:
        return self.name


class BoolExpr(Expr):
    __slots__ = ()
    is_bool = True

    def __invert__(self):
        return BoolExpr("not", (self,))


def _int(op: str, a, b) -> Expr:
    return Expr(op, (a, b))


def ite(c, a, b) -> Expr:
    return Expr("ite", (c, a, b)) if not (_is_bool(a) or _is_bool(b)) else BoolExpr("ite", (c, a, b))


def and_(*cs) -> BoolExpr:
    return BoolExpr("and", cs)


def or_(*cs) -> BoolExpr:
    return BoolExpr("or", cs)


def not_(c) -> BoolExpr:
    return BoolExpr("not", (c,))


def _is_bool(x) -> bool:
    return isinstance(x, bool) or (isinstance(x, Expr) and x.is_bool)


class Undefined(ArithmeticError):
    """Evaluation hit a division by zero (Z3 leaves it unspecified; we treat it as not satisfied)."""


def evaluate(x, env: dict[int, int]):
    """Value of `x` with each Var's uid looked up in `env` (KeyError for an unknown Var)."""
    if not isinstance(x, Expr):
        return x
    op, args = x.op, x.args
    if op == "var":
        return env[x.uid]
    if op == "ite":
        return evaluate(args[1], env) if evaluate(args[0], env) else evaluate(args[2], env)
    if op == "and":
        return all(evaluate(a, env) for a in args)
    if op == "or":
        return any(evaluate(a, env) for a in args)
    if op == "not":
        return not evaluate(args[0], env)
    a, b = evaluate(args[0], env), evaluate(args[1], env)
    return _BINARY[op](a, b)


def _ediv(a: int, b: int) -> int:
    if b == 0:
        raise Undefined("division by zero")
    return a // b if b > 0 else -(a // -b)


_BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "div": _ediv,
    "mod": lambda a, b: a - b * _ediv(a, b),
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def to_z3(x, ctx: z3.Context, memo: dict):
    """The Z3 term of `x` in `ctx`; `memo` maps node ids (and Var uids) to terms already built."""
    if isinstance(x, bool):
        return z3.BoolVal(x, ctx)
    if isinstance(x, int):
        return z3.IntVal(x, ctx)
    key = id(x) if x.op != "var" else ("v", x.uid)
    hit = memo.get(key)
    if hit is not None:
        return hit
    op, args = x.op, x.args
    if op == "var":
        t = z3.Int(x.name, ctx)  # names are unique within one insertion; uids vary by process history
    elif op == "ite":
        t = z3.If(*(to_z3(a, ctx, memo) for a in args))
    elif op in ("and", "or"):
        parts = [to_z3(a, ctx, memo) for a in args]
        t = (z3.And if op == "and" else z3.Or)(*parts) if parts else z3.BoolVal(op == "and", ctx)
    elif op == "not":
        t = z3.Not(to_z3(args[0], ctx, memo))
    else:
        a, b = to_z3(args[0], ctx, memo), to_z3(args[1], ctx, memo)
        t = {
            "+": lambda: a + b,
            "-": lambda: a - b,
            "*": lambda: a * b,
            "div": lambda: a / b,
            "mod": lambda: a % b,
            "==": lambda: a == b,
            "!=": lambda: a != b,
            "<": lambda: a < b,
            "<=": lambda: a <= b,
        }[op]()
    memo[key] = t
    return t
