"""Linear algebra: Gemm, MatMul (numpy semantics, 1-D operands, broadcast batches) and Einsum.

Integer operands are multiplied in int64 and wrapped back to their type, which is exact
modular arithmetic like the int kernels; half types are computed in float32 and cast back.
"""

from __future__ import annotations

import string

import numpy as np
import torch

from fuzzer.spec.base import Input, OpSpec, SpecError
from fuzzer.spec.ops.nn_conv import prefer
from fuzzer.spec.registry import register
from fuzzer.spec.sym import any_of, broadcast, is_concrete


def compute_type(t: torch.Tensor) -> torch.dtype:
    if not t.dtype.is_floating_point:
        return torch.int64
    return torch.float32 if t.dtype in (torch.float16, torch.bfloat16) else t.dtype


def f32(v: float | None, default: float) -> float:
    """The value a float attribute carries (ONNX stores float32)."""
    return float(np.float32(default if v is None else v))


# --- Gemm ----------------------------------------------------------------------------------------
class _Gemm(OpSpec):
    """alpha * A' @ B' + beta * C with A', B' optionally transposed; C broadcasts to (M, N)."""

    op_type = "Gemm"
    backward = True

    def leaf_rank(self, k, ins, d):
        return 2 if k == 1 else d.pick([0, 1, 1, 2, 2, 2])

    def backward_ranks(self, out_rank, n_inputs, d):
        return [2, 2, d.pick([0, 1, 2, 2])][:n_inputs] if out_rank == 2 else None

    def attrs(self, d, ins):
        a = {"transA": d.pick([None, 0, 1, 1]), "transB": d.pick([None, 0, 1, 1])}
        if ins[0].dtype.is_int:
            # float alpha/beta on integers are not defined by ONNX; integral values are unambiguous
            a["alpha"], a["beta"] = d.pick([None, 1.0, 2.0, -1.0]), d.pick([None, 1.0, -1.0, 0.0, 3.0])
        else:
            a["alpha"] = d.pick([None, 1.0, 0.5, -1.0, 0.0, d.uniform(-2, 2)])
            a["beta"] = d.pick([None, 1.0, 0.5, -2.0, 0.0, d.uniform(-2, 2)])
        _, k = self._mk(ins[0].shape, a["transA"])
        kb, n = self._mk(ins[1].shape, a["transB"])
        # the new leaf's dims default to A's (aligned), rarely the right contraction
        prefer(d, kb, k if is_concrete(k) else d.randint(1, 32))
        prefer(d, n, d.randint(1, 32))
        return a

    @staticmethod
    def _mk(shape, trans):
        return (shape[1], shape[0]) if trans else (shape[0], shape[1])

    def infer(self, ins, a):
        m, _ = self._mk(ins[0].shape, a["transA"])  # A' is (M, K)
        _, n = self._mk(ins[1].shape, a["transB"])  # B' is (K, N)
        return [(m, n)]

    def requires(self, ins, a):
        _, k = self._mk(ins[0].shape, a["transA"])
        kb, _ = self._mk(ins[1].shape, a["transB"])
        conds = [k == kb]
        if len(ins) > 2:
            out = self.infer(ins, a)[0]
            c = ins[2].shape
            conds += [any_of(x == 1, x == y) for x, y in zip(c, out[2 - len(c) :])]  # unidirectional
        return conds

    def torch(self, xs, a):
        x = xs[0]
        cdt = compute_type(x)
        am, bm = xs[0].to(cdt), xs[1].to(cdt)
        am = am.T if a["transA"] else am
        bm = bm.T if a["transB"] else bm
        alpha, beta = f32(a["alpha"], 1.0), f32(a["beta"], 1.0)
        if not cdt.is_floating_point:
            alpha, beta = int(alpha), int(beta)
        y = (am @ bm) * alpha
        if len(xs) > 2:
            y = y + xs[2].to(cdt) * beta
        return [y.to(x.dtype)]


@register
class Gemm(_Gemm):
    key = "Gemm_noC"  # not the op_type: selecting an op_type selects all its variants
    inputs = (Input("A", ranks=(2,)), Input("B", ranks=(2,)))


@register
class GemmC(_Gemm):
    key = "Gemm_C"
    inputs = (Input("A", ranks=(2,)), Input("B", ranks=(2,)), Input("C", ranks=(0, 1, 2)))


# --- MatMul --------------------------------------------------------------------------------------
def matmul_shape(a: tuple, b: tuple) -> tuple[tuple, list]:
    """numpy.matmul's result shape and conditions; 1-D operands get a dim added and removed."""
    if len(a) == 1 and len(b) == 1:
        return (), [a[0] == b[0]]
    a2 = a if len(a) >= 2 else (1, a[0])
    b2 = b if len(b) >= 2 else (b[0], 1)
    batch, conds = broadcast(a2[:-2], b2[:-2])
    out = batch + ((a2[-2],) if len(a) >= 2 else ()) + ((b2[-1],) if len(b) >= 2 else ())
    return out, conds + [a2[-1] == b2[-2]]


@register
class MatMul(OpSpec):
    op_type = "MatMul"
    inputs = (Input("A"), Input("B"))
    min_rank = 1
    backward = True

    def leaf_rank(self, k, ins, d):
        r = ins[0].rank
        return d.pick([1, 2, r, r, d.randint(1, min(5, r + 1))])

    def backward_ranks(self, out_rank, n_inputs, d):
        if out_rank == 0:
            return [1, 1]
        if out_rank == 1:
            return d.pick([[2, 1], [1, 2]])
        options = [[out_rank, out_rank]] * 3 + [[out_rank, d.randint(2, out_rank)], [d.randint(2, out_rank), out_rank]]
        if out_rank < 5:
            options += [[out_rank + 1, 1], [1, out_rank + 1]]
        return d.pick(options)

    def attrs(self, d, ins):
        a, b = ins[0].shape, ins[1].shape
        # the new leaf's contracted dim should meet A's (leaf dims default to right-aligned ones)
        kb = b[0] if len(b) == 1 else b[-2]
        prefer(d, kb, a[-1] if is_concrete(a[-1]) else d.randint(1, 32))
        if len(b) >= 2:
            prefer(d, b[-1], d.randint(1, 32))
        return {}

    def infer(self, ins, a):
        return [matmul_shape(ins[0].shape, ins[1].shape)[0]]

    def requires(self, ins, a):
        return matmul_shape(ins[0].shape, ins[1].shape)[1]

    def torch(self, xs, a):
        x = xs[0]
        cdt = compute_type(x)
        return [torch.matmul(x.to(cdt), xs[1].to(cdt)).to(x.dtype)]


# --- Einsum --------------------------------------------------------------------------------------
@register
class Einsum(OpSpec):
    """A random trace-free equation: contractions, batch dims, transposes, reductions, outer
    products, sometimes an ellipsis, sometimes implicit output."""

    op_type = "Einsum"
    inputs = (Input("Inputs"),)
    arity = (1, 3)
    max_rank = 4

    def leaf_rank(self, k, ins, d):
        return d.pick([ins[0].rank] * 3 + [0, 1, 2, 2, 3, 4])

    def attrs(self, d, ins):
        # ORT rejects upper-case labels in implicit mode (its error message says they are allowed)
        implicit = d.coin(0.25)
        pool = list(string.ascii_lowercase)
        if d.coin(0.2) and not implicit:
            pool += list(string.ascii_uppercase)
        d.rng.shuffle(pool)
        # every ellipsis stands for the same number of dims: numpy would broadcast differing
        # counts, but ONNX shape inference and ORT refuse them
        n_ell = d.randint(1, 2) if d.coin(0.2) and not implicit else 0
        ellipsis = [bool(n_ell) and t.rank >= n_ell and d.coin(0.7) for t in ins]
        n_ell = [n_ell if e else 0 for e in ellipsis]
        shapes = [t.shape[ne:] for t, ne in zip(ins, n_ell)]
        labels = _Labels(d, pool)
        terms = labels.matmul(shapes[0], shapes[1]) if len(ins) > 1 and d.coin(0.5) else None
        terms = terms or [labels.random(shapes[0])]
        terms += [labels.random(shape) for shape in shapes[len(terms) :]]
        counts = {c: sum(c in term for term in terms) for c in labels.dims}
        if implicit and labels.dims:  # onnx.reference cannot parse an equation without any label
            out = None  # the letters used once, sorted
        else:
            # keep most free letters and some shared ones (batch dims), the rest are summed
            if labels.contracted:  # a (batched) matmul: keep the batch letters, mostly in order
                kept = [c for c in labels.dims if c != labels.contracted and d.coin(0.9)]
            else:
                kept = [c for c in labels.dims if d.coin(0.3 if counts[c] > 1 else 0.75)]
            if not labels.contracted or d.coin(0.3):
                d.rng.shuffle(kept)
            out = ("..." if any(ellipsis) else "") + "".join(kept)
        terms = [("..." if e else "") + term for term, e in zip(terms, ellipsis)]
        eq = ",".join(terms) + ("" if out is None else "->" + out)
        return {"equation": eq, "_ell": n_ell}

    def infer(self, ins, a):
        terms, out = _parse(a["equation"])
        named = _letter_dims(ins, terms, a["_ell"])
        if out is None:
            letters = "".join(terms)
            out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        return [tuple(_output(out, named, _ellipsis_shape(ins, a["_ell"])[0]))]

    def requires(self, ins, a):
        terms, _ = _parse(a["equation"])
        named = _letter_dims(ins, terms, a["_ell"])
        conds = [x == dims[0] for dims in named.values() for x in dims[1:]]
        return conds + _ellipsis_shape(ins, a["_ell"])[1]

    def torch(self, xs, a):
        x = xs[0]
        cdt = compute_type(x)
        return [torch.einsum(a["equation"], *[t.to(cdt) for t in xs]).to(x.dtype)]


class _Labels:
    """Letters for the dims of einsum operands; a shared letter asks its dims to be equal."""

    def __init__(self, d, pool: list[str]):
        self.d, self.pool = d, pool
        self.dims: dict[str, object] = {}  # letter -> the first dim it names, in creation order
        self.contracted = ""  # the contracted letter of a matmul pattern

    def new(self, dim) -> str:
        if not self.pool:
            raise SpecError("einsum ran out of letters")
        c = self.pool.pop()
        self.dims[c] = dim
        return c

    def random(self, shape) -> str:
        """Each dim shares a compatible letter of an earlier operand half of the time."""
        used: list[str] = []
        for dim in shape:
            shared = [c for c in self.dims if c not in used and _same_ok(self.dims[c], dim)]
            used.append(self.d.pick(shared) if shared and self.d.coin(0.5) else self.new(dim))
        return "".join(used)

    def matmul(self, a, b) -> list[str] | None:
        """(batch)ij,(batch)jk with right-aligned batch letters shared; None if it cannot fit."""
        if len(a) < 2 or len(b) < 2 or not _same_ok(a[-1], b[-2]):
            return None
        ta = "".join(self.new(dim) for dim in a)
        batch_a = ta[:-2]
        tb = []
        for p, dim in enumerate(b[:-2]):
            q = len(batch_a) - (len(b) - 2) + p  # the aligned batch position of a
            same = 0 <= q and _same_ok(a[q], dim) and self.d.coin(0.8)
            tb.append(batch_a[q] if same else self.new(dim))
        self.contracted = ta[-1]
        return [ta, "".join(tb) + ta[-1] + self.new(b[-1])]


def _same_ok(a, b) -> bool:
    """Whether two dims may carry one letter: equal when both are known."""
    return not (is_concrete(a) and is_concrete(b)) or a == b


def _parse(eq: str) -> tuple[list[str], str | None]:
    lhs, _, rhs = eq.partition("->")
    return [t.replace("...", "") for t in lhs.split(",")], (rhs if "->" in eq else None)


def _letter_dims(ins, terms, n_ell) -> dict[str, list]:
    named: dict[str, list] = {}
    for t, term, ne in zip(ins, terms, n_ell):
        for c, dim in zip(term, t.shape[ne:]):
            named.setdefault(c, []).append(dim)
    return named


def _ellipsis_shape(ins, n_ell) -> tuple[tuple, list]:
    shape, conds = (), []
    for t, ne in zip(ins, n_ell):
        shape, c = broadcast(shape, t.shape[:ne])
        conds += c
    return shape, conds


def _output(out: str, named: dict[str, list], ell: tuple) -> list:
    before, has_ell, after = out.partition("...")
    return [named[c][0] for c in before] + (list(ell) if has_ell else []) + [named[c][0] for c in after]
