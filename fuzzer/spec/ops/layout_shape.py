"""Layout ops that move elements without arithmetic: Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
Expand, DepthToSpace, SpaceToDepth and Trilu.

Shape operands (Reshape's shape, Expand's shape, axes, Trilu's k) are constant initializers drawn in
`attrs`; forward insertion draws them from ins[0]'s concrete shape. Backward insertion needs the rank
of the placeholder to produce, which `attrs` cannot see, so `Layout.backward_ranks` leaves it on the Draw.
"""

from __future__ import annotations

import torch

from fuzzer.spec.base import Input, OpSpec, SpecError
from fuzzer.spec.draw import Draw
from fuzzer.spec.families import norm_axis
from fuzzer.spec.registry import register
from fuzzer.spec.sym import Cond, Dim, all_of, broadcast, eq, fdiv, prod


def concrete(shape: tuple[Dim, ...]) -> bool:
    return all(isinstance(s, int) for s in shape)


def target_rank(d: Draw) -> int | None:
    """Rank of the placeholder a backward insertion must produce; None in forward insertion."""
    return d.target.rank if d.target is not None else None


def spell_axes(d: Draw, axes: list[int], rank: int) -> list[int]:
    """Axes (non-negative) respelt negative at random and sometimes shuffled (order is free in ONNX)."""
    out = [a - rank if d.coin(0.3) else a for a in axes]
    if d.coin(0.2):
        out = [out[i] for i in d.perm(len(out))]
    return out


def sample(d: Draw, n: int, k: int, pool: list[int] | None = None) -> list[int]:
    """k distinct items of `pool` (default range(n)), sorted; chosen through the Draw."""
    pool = list(range(n)) if pool is None else pool
    order = d.perm(len(pool))
    if order == list(range(len(pool))):  # d.perm's identity edge case would always take the first k
        order = order[::-1] if d.coin(0.5) else order
    return sorted(pool[i] for i in order[:k])


def unsqueeze_dims(shape: tuple[Dim, ...], axes: list[int]) -> tuple[Dim, ...]:
    out = len(shape) + len(axes)
    ones = {norm_axis(x, out) for x in axes}
    rest = iter(shape)
    return tuple(1 if i in ones else next(rest) for i in range(out))


class Layout(OpSpec):
    """A spec whose backward `attrs` reads the target rank (`Draw.target`).

    Subclasses give `input_ranks(out_rank, n_inputs, d)` (None = this target rank is impossible).
    """

    def backward_ranks(self, out_rank: int, n_inputs: int, d: Draw) -> list[int] | None:
        if not self.backward:
            return None
        return self.input_ranks(out_rank, n_inputs, d)

    def input_ranks(self, out_rank: int, n_inputs: int, d: Draw) -> list[int] | None:
        return [out_rank] * n_inputs


# --- Reshape and Flatten: forward only (products of symbolic dims would make the solver nonlinear) ---


def prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out + ([n] if n > 1 else [])


def reshape_dims(shape: tuple[int, ...], target: list[int], allowzero: int | None) -> tuple[int, ...]:
    """The output shape ONNX gives `target` (0 copies the input dim unless allowzero, -1 is inferred)."""
    dims = [shape[i] if t == 0 and not allowzero else t for i, t in enumerate(target)]
    if -1 in dims:
        known = prod(x for x in dims if x != -1)
        dims[dims.index(-1)] = prod(shape) // known
    return tuple(dims)


@register
class Reshape(OpSpec):
    """Reshape to a random factorisation of the element count, spelt with 0 (copy) and -1 (infer)."""

    op_type = "Reshape"
    inputs = (Input("data"),)

    def attrs(self, d, ins):
        shape = ins[0].shape
        if not concrete(shape):
            raise SpecError("Reshape draws its target from a concrete input shape")
        n = prod(shape)
        rank = d.pick(([0] if n == 1 else []) + [1, 2, 2, 3, 3, 4, 4, 5])
        keep = d.pick(range(min(rank, ins[0].rank) + 1)) if d.coin(0.3) else 0  # copy a prefix of dims
        if keep == rank and prod(shape[keep:]) > 1:
            keep -= 1  # leave a slot for the remaining factors
        dims = list(shape[:keep]) + [1] * (rank - keep)
        for p in prime_factors(prod(shape[keep:])):
            dims[d.pick(range(keep, rank))] *= p
        allowzero = d.pick([None, 0, 1]) if d.opset >= 14 else None
        target = list(dims)
        if not allowzero:  # with allowzero=1 a 0 would be a literal empty dim, which we never produce
            for i in range(min(rank, ins[0].rank)):
                if dims[i] == shape[i] and d.coin(0.4):
                    target[i] = 0
        if rank and d.coin(0.5):
            target[d.pick(range(rank))] = -1
        return {"allowzero": allowzero, "_shape": target}

    def infer(self, ins, a):
        return [reshape_dims(ins[0].shape, a["_shape"], a["allowzero"])]

    def emit(self, e, a):
        shape = e.const(a["_shape"], hint="shape")
        e.node("Reshape", [e.inputs[0], shape], e.outputs, **self.onnx_attrs(a))

    def torch(self, xs, a):
        return [xs[0].reshape(reshape_dims(tuple(xs[0].shape), a["_shape"], a["allowzero"]))]


def flatten_dims(shape: tuple[Dim, ...], axis: int | None) -> tuple[Dim, Dim]:
    ax = norm_axis(1 if axis is None else axis, len(shape))
    return (prod(shape[:ax]), prod(shape[ax:]))


@register
class Flatten(OpSpec):
    """2-D view: dims before `axis` multiply into rows, the rest into columns; axis in [-r, r]."""

    op_type = "Flatten"
    inputs = (Input("input"),)

    def attrs(self, d, ins):
        r = ins[0].rank
        axis = d.pick(range(-r, r + 1))
        return {"axis": None if axis == 1 and d.coin(0.5) else axis}  # None: the default, 1

    def infer(self, ins, a):
        return [flatten_dims(ins[0].shape, a["axis"])]

    def torch(self, xs, a):
        return [xs[0].reshape(flatten_dims(tuple(xs[0].shape), a["axis"]))]


# --- Transpose, Squeeze, Unsqueeze, Expand: also backward -----------------------------------------


@register
class Transpose(Layout):
    """Permutes dims; `perm` may be the identity or omitted (then dims are reversed)."""

    op_type = "Transpose"
    inputs = (Input("data"),)
    backward = True

    def attrs(self, d, ins):
        r = ins[0].rank
        return {"perm": None if r == 0 or d.coin(0.2) else d.perm(r)}

    def infer(self, ins, a):
        perm = a["perm"] if a["perm"] is not None else list(range(ins[0].rank))[::-1]
        return [tuple(ins[0].shape[p] for p in perm)]

    def torch(self, xs, a):
        perm = a["perm"] if a["perm"] is not None else list(range(xs[0].dim()))[::-1]
        return [xs[0].permute(perm)]


@register
class Squeeze(Layout):
    """Removes size-1 dims: the given axes, or every size-1 dim when axes are omitted."""

    op_type = "Squeeze"
    inputs = (Input("data"),)
    backward = True

    def input_ranks(self, out_rank, n_inputs, d):
        k = d.pick([1, 1, 2])
        return None if out_rank + k > d.max_rank else [out_rank + k]

    def attrs(self, d, ins):
        r, out = ins[0].rank, target_rank(d)
        if out is not None:  # backward: drop exactly r - out dims, constrained to size 1
            return {"_axes": spell_axes(d, sample(d, r, r - out), r)}
        ones = [i for i, s in enumerate(ins[0].shape) if s == 1]
        if not ones or d.coin(0.25):
            return {"_axes": None}  # empty axes would be ambiguous (ORT squeezes all, onnx.reference none)
        return {"_axes": spell_axes(d, sample(d, len(ones), d.randint(1, len(ones)), ones), r)}

    def _kept(self, shape, a) -> list[int]:
        r = len(shape)
        if a["_axes"] is None:
            return [i for i, s in enumerate(shape) if not (isinstance(s, int) and s == 1)]
        drop = {norm_axis(x, r) for x in a["_axes"]}
        return [i for i in range(r) if i not in drop]

    def requires(self, ins, a):
        if a["_axes"] is None:
            return [concrete(ins[0].shape)]  # which dims are 1 must be known
        return [eq(ins[0].shape[norm_axis(x, ins[0].rank)], 1) for x in a["_axes"]]

    def infer(self, ins, a):
        return [tuple(ins[0].shape[i] for i in self._kept(ins[0].shape, a))]

    def emit(self, e, a):
        inputs, attrs = list(e.inputs), {}
        self.axes_operand(e, inputs, attrs, a["_axes"])
        e.node("Squeeze", inputs, e.outputs, **attrs)

    def torch(self, xs, a):
        s = tuple(xs[0].shape)
        return [xs[0].reshape([s[i] for i in self._kept(s, a)])]


@register
class Unsqueeze(Layout):
    """Inserts size-1 dims at `axes`, which index the output (negative counts from its end)."""

    op_type = "Unsqueeze"
    inputs = (Input("data"),)
    backward = True

    def input_ranks(self, out_rank, n_inputs, d):
        return None if out_rank == 0 else [out_rank - d.pick(range(1, min(2, out_rank) + 1))]

    def attrs(self, d, ins):
        r, out = ins[0].rank, target_rank(d)
        if out is None:
            out = r + d.randint(1, max(1, min(3, d.max_rank - r)))
        return {"_axes": spell_axes(d, sample(d, out, out - r), out)}

    def infer(self, ins, a):
        return [unsqueeze_dims(ins[0].shape, a["_axes"])]

    def emit(self, e, a):
        inputs, attrs = list(e.inputs), {}
        self.axes_operand(e, inputs, attrs, a["_axes"])
        e.node("Unsqueeze", inputs, e.outputs, **attrs)

    def torch(self, xs, a):
        return [xs[0].reshape(unsqueeze_dims(tuple(xs[0].shape), a["_axes"]))]


@register
class Expand(Layout):
    """Bidirectional broadcast to a constant `shape`, which may be longer or shorter than the input."""

    op_type = "Expand"
    inputs = (Input("input"),)
    backward = True

    def input_ranks(self, out_rank, n_inputs, d):
        return [out_rank if d.coin(0.5) else d.pick(range(out_rank + 1))]

    def attrs(self, d, ins):
        s, r, out = ins[0].shape, ins[0].rank, target_rank(d)
        if out is not None:  # backward: shape dims solved so that broadcast(input, shape) is the target
            return {"_shape": [d.int("shape", 1, d.max_dim, prefer=1 if i >= out - r else None) for i in range(out)]}
        if d.coin(0.3):  # a shorter (or equal) shape that only broadcasts against the input's dims
            k = d.pick(range(r + 1))
            return {"_shape": [d.pick([1, s[i]]) for i in range(r - k, r)]}
        grow = d.randint(0, max(0, d.max_rank - r))
        budget = max(1, d.max_elems // max(1, prod(s)))
        shape = []
        for x in [1] * grow + list(s):
            if x == 1 and not d.coin(0.3):
                v = d.randint(1, min(d.max_dim, budget))
                budget = max(1, budget // v)
            else:
                v = 1 if d.coin(0.4) else x
            shape.append(v)
        return {"_shape": shape}

    def infer(self, ins, a):
        return [broadcast(ins[0].shape, tuple(a["_shape"]))[0]]

    def requires(self, ins, a):
        return broadcast(ins[0].shape, tuple(a["_shape"]))[1]

    def emit(self, e, a):
        e.node("Expand", [e.inputs[0], e.const(a["_shape"], hint="shape")], e.outputs)

    def torch(self, xs, a):
        return [torch.broadcast_to(xs[0], broadcast(tuple(xs[0].shape), tuple(a["_shape"]))[0])]


# --- DepthToSpace, SpaceToDepth ---------------------------------------------------------------------


def block_choices(dims: list[Dim], square: bool) -> list[int]:
    """Block sizes dividing every dim (b*b if square); any small size when the dims are symbolic."""
    if not all(isinstance(x, int) for x in dims):
        return [1, 2, 2, 2, 3, 4]
    ok = [b for b in range(2, 9) if all(x % (b * b if square else b) == 0 for x in dims)]
    return [1] + ok * 4  # a real block when one exists, the identity block now and then


def divisible(x: Dim, b: int) -> Cond:
    return eq(fdiv(x, b) * b, x)


@register
class DepthToSpace(Layout):
    """Moves channel blocks into b x b spatial tiles; DCR (default) or CRD channel order."""

    op_type = "DepthToSpace"
    inputs = (Input("input", ranks=(4,)),)
    backward = True

    def input_ranks(self, out_rank, n_inputs, d):
        return [4] if out_rank == 4 else None

    def attrs(self, d, ins):
        ok = block_choices([ins[0].shape[1]], square=True)
        return {"blocksize": d.pick(ok), "mode": d.pick([None, "DCR", "CRD"])}

    def requires(self, ins, a):
        return [divisible(ins[0].shape[1], a["blocksize"] ** 2)]

    def infer(self, ins, a):
        n, c, h, w = ins[0].shape
        b = a["blocksize"]
        return [(n, fdiv(c, b * b), h * b, w * b)]

    def torch(self, xs, a):
        x, b = xs[0], a["blocksize"]
        n, c, h, w = x.shape
        if a["mode"] == "CRD":
            y = x.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3)
        else:
            y = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
        return [y.reshape(n, c // (b * b), h * b, w * b)]


@register
class SpaceToDepth(Layout):
    """Moves b x b spatial tiles into channels (the inverse of DepthToSpace in DCR mode)."""

    op_type = "SpaceToDepth"
    inputs = (Input("input", ranks=(4,)),)
    backward = True

    def input_ranks(self, out_rank, n_inputs, d):
        return [4] if out_rank == 4 else None

    def attrs(self, d, ins):
        return {"blocksize": d.pick(block_choices(list(ins[0].shape[2:]), square=False))}

    def requires(self, ins, a):
        b = a["blocksize"]
        return [all_of(divisible(ins[0].shape[2], b), divisible(ins[0].shape[3], b))]

    def infer(self, ins, a):
        n, c, h, w = ins[0].shape
        b = a["blocksize"]
        return [(n, c * b * b, fdiv(h, b), fdiv(w, b))]

    def torch(self, xs, a):
        x, b = xs[0], a["blocksize"]
        n, c, h, w = x.shape
        y = x.reshape(n, c, h // b, b, w // b, b).permute(0, 3, 5, 1, 2, 4)
        return [y.reshape(n, c * b * b, h // b, w // b)]


# --- Trilu -------------------------------------------------------------------------------------------


@register
class Trilu(Layout):
    """Keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims, zeroing the rest."""

    op_type = "Trilu"
    inputs = (Input("input"),)
    min_rank = 2
    backward = True

    def input_ranks(self, out_rank, n_inputs, d):
        return None if out_rank < 2 else [out_rank]

    def attrs(self, d, ins):
        h, w = ins[0].shape[-2:]
        m = max(h, w) + 2 if isinstance(h, int) and isinstance(w, int) else 10
        k = None if d.coin(0.25) else d.randint(-m, m)
        if k is not None and d.coin(0.05):
            k = d.pick([-(2**40), 2**40])  # far outside the matrix: everything or nothing survives
        return {"upper": d.pick([None, 0, 1]), "_k": k}

    def emit(self, e, a):
        inputs = list(e.inputs) + ([e.const(a["_k"], hint="k")] if a["_k"] is not None else [])
        e.node("Trilu", inputs, e.outputs, **self.onnx_attrs(a))

    def torch(self, xs, a):
        x = xs[0]
        h, w = x.shape[-2:]
        diff = torch.arange(w).reshape(1, w) - torch.arange(h).reshape(h, 1)
        k = 0 if a["_k"] is None else a["_k"]
        keep = diff >= k if a["upper"] in (None, 1) else diff <= k
        return [torch.where(keep, x, torch.zeros((), dtype=x.dtype))]
