"""Layout ops that join, cut or repeat tensors: Concat, Split, Slice, Pad and Tile.

Index-like operands (split sizes, starts/ends/axes/steps, pads, repeats) are constant initializers.
Forward insertion draws them concretely from ins[0]'s shape; backward insertion (see `Layout`) leaves
them symbolic where the output must match a given shape, so Z3 picks values that fit it.
"""

from __future__ import annotations

import numpy as np
import torch

from fuzzer.spec.base import Input, OpSpec, SpecError
from fuzzer.spec.draw import Draw
from fuzzer.spec.dtypes import DType
from fuzzer.spec.families import norm_axis
from fuzzer.spec.ops.layout_shape import Layout, concrete, spell_axes
from fuzzer.spec.registry import register
from fuzzer.spec.sym import Dim, cdiv, eq, ite, prod, smax, smin

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)
# Both cases below are valid ONNX that onnx.reference gets wrong (its Pad hands negative pads to np.pad,
# which rejects them; its Slice uses NumPy slicing, where a start below -dim with a negative step selects
# nothing instead of clamping to 0 as ONNX, ORT and shape inference do). We keep generating them: other
# backends may get them wrong too. tests/fuzzer/opcheck.py knows these reference bugs.
NEGATIVE_PADS = True
LOW_START_NEGATIVE_STEP = True


@register
class Concat(Layout):
    """Joins 1..4 tensors along `axis`; every other dim must agree."""

    op_type = "Concat"
    inputs = (Input("inputs"),)
    arity = (1, 4)
    min_rank = 1
    backward = True

    def input_ranks(self, out_rank, n_inputs, d):
        return None if out_rank == 0 else [out_rank] * n_inputs

    def attrs(self, d, ins):
        r = ins[0].rank
        if any(t.rank != r for t in ins):
            raise SpecError("Concat inputs need one rank")
        # axes along which the concrete inputs (existing tensors) already agree elsewhere
        fixed = [t.shape for t in ins if concrete(t.shape)]
        ok = [ax for ax in range(r) if all(s[j] == fixed[0][j] for s in fixed for j in range(r) if j != ax)]
        if not ok:
            raise SpecError("the chosen inputs differ on two axes")
        ax = d.pick(ok)
        return {"axis": ax - r if d.coin(0.3) else ax}

    def requires(self, ins, a):
        ax = norm_axis(a["axis"], ins[0].rank)
        return [eq(t.shape[j], ins[0].shape[j]) for t in ins[1:] for j in range(ins[0].rank) if j != ax]

    def infer(self, ins, a):
        ax = norm_axis(a["axis"], ins[0].rank)
        s = list(ins[0].shape)
        s[ax] = sum((t.shape[ax] for t in ins[1:]), s[ax])
        return [tuple(s)]

    def torch(self, xs, a):
        return [torch.cat(xs, dim=norm_axis(a["axis"], xs[0].dim()))]


@register
class Split(OpSpec):
    """Cuts one axis into 1..4 outputs: explicit sizes, `num_outputs` (opset 18+) or equal parts (< 18).

    One spec with a drawn output count (not a key per count): the count is decided by `infer` and
    `out_dtypes` like every other shape fact, and a 1-way split stays possible on any input.
    """

    op_type = "Split"
    inputs = (Input("input"),)
    min_rank = 1

    def attrs(self, d, ins):
        s, r = ins[0].shape, ins[0].rank
        if not concrete(s):
            raise SpecError("Split is drawn from a concrete input shape")
        ax = d.pick([i for i in range(r) if s[i] > 1] or range(r)) if d.coin(0.9) else d.pick(range(r))
        n_dim = s[ax]
        n = d.pick(range(2, min(4, n_dim) + 1)) if n_dim > 1 and d.coin(0.9) else 1
        chunk = -(-n_dim // n)
        if d.opset >= 18 and n_dim - chunk * (n - 1) >= 1 and d.coin(0.5):
            sizes, how = [chunk] * (n - 1) + [n_dim - chunk * (n - 1)], "num_outputs"
        elif d.opset < 18 and n_dim % n == 0 and d.coin(0.4):
            sizes, how = [n_dim // n] * n, "equal"
        else:
            sizes, left = [], n_dim
            for i in range(n - 1):
                sizes.append(d.randint(1, left - (n - 1 - i)))
                left -= sizes[-1]
            sizes = [(sizes + [left])[i] for i in d.perm(n)]
            how = "sizes"
        axis = None if ax == 0 and d.coin(0.3) else (ax - r if d.coin(0.3) else ax)  # None: default 0
        return {"axis": axis, "num_outputs": n if how == "num_outputs" else None, "_sizes": sizes, "_how": how}

    def out_dtypes(self, ins, a, binding, opset):
        return [ins[0].dtype] * len(a["_sizes"])

    def infer(self, ins, a):
        ax = norm_axis(a["axis"] or 0, ins[0].rank)
        return [tuple(n if i == ax else x for i, x in enumerate(ins[0].shape)) for n in a["_sizes"]]

    def emit(self, e, a):
        inputs = list(e.inputs) + ([e.const(a["_sizes"], hint="split")] if a["_how"] == "sizes" else [])
        e.node("Split", inputs, e.outputs, **self.onnx_attrs(a))

    def torch(self, xs, a):
        return list(torch.split(xs[0], a["_sizes"], dim=norm_axis(a["axis"] or 0, xs[0].dim())))


# --- Slice --------------------------------------------------------------------------------------------


def slice_range(n: Dim, start: Dim, end: Dim, step: int) -> tuple[Dim, Dim]:
    """ONNX's effective start and output length on an axis of size n (negatives wrap once, then clamp)."""
    s = ite(start < 0, start + n, start)
    e = ite(end < 0, end + n, end)
    if step > 0:
        s, e = smax(0, smin(s, n)), smax(0, smin(e, n))
        return s, smax(0, cdiv(e - s, step))
    s, e = smax(0, smin(s, n - 1)), smax(-1, smin(e, n - 1))
    return s, smax(0, cdiv(s - e, -step))


def spell_bounds(d: Draw, n: int, step: int) -> tuple[int, int]:
    """A (start, end) pair for a non-empty slice, spelt negative or out of range (clamped) at random."""
    if step > 0:
        s = d.randint(0, n - 1)
        e = d.randint(s + 1, n)
        start = d.pick([s, s - n] + ([-n - d.randint(1, 9), INT64_MIN] if s == 0 else []))
        end = d.pick([e] + ([e - n] if e < n else [n + d.randint(0, 9), INT64_MAX]))
        return start, end
    s = d.randint(0, n - 1)
    e = d.randint(-1, s - 1)
    start = d.pick(
        [s, s - n]
        + ([n + d.randint(0, 9), INT64_MAX] if s == n - 1 else [])
        + ([-n - d.randint(1, 9), INT64_MIN] if s == 0 and LOW_START_NEGATIVE_STEP else [])
    )
    end = d.pick([e, e - n] if e >= 0 else [-n - d.randint(1, 9), INT64_MIN])
    return start, end


@register
class Slice(Layout):
    """Strided slices on some axes; steps may be negative, bounds negative or beyond the dim (clamped)."""

    op_type = "Slice"
    inputs = (Input("data"),)
    min_rank = 1
    backward = True

    def input_ranks(self, out_rank, n_inputs, d):
        return None if out_rank == 0 else [out_rank]

    def attrs(self, d, ins):
        s, r = ins[0].shape, ins[0].rank
        axes = None if d.coin(0.25) else spell_axes(d, d.axes(r, negative=False), r)
        todo = list(range(r)) if axes is None else [norm_axis(x, r) for x in axes]
        unit = d.coin(0.3)  # steps omitted: all 1
        steps, starts, ends = [], [], []
        for ax in todo:
            n = s[ax]
            step = 1 if unit or d.coin(0.4) else d.pick([-1, 1]) * d.randint(1, n + 1 if isinstance(n, int) else 4)
            if isinstance(n, int):
                start, end = spell_bounds(d, n, step)
            else:  # backward: bounds solved to give the target length (INT64 extremes sometimes)
                start = d.int("start", -16, 16)
                end = d.pick([INT64_MAX if step > 0 else INT64_MIN]) if d.coin(0.2) else d.int("end", -16, 64)
            steps.append(step)
            starts.append(start)
            ends.append(end)
        itype = "int32" if d.coin(0.2) else "int64"
        if itype == "int32":  # the same clamping, spelt with int32 extremes
            starts, ends = (
                [max(-(2**31), min(2**31 - 1, v)) if isinstance(v, int) else v for v in vs] for vs in (starts, ends)
            )
        return {"_starts": starts, "_ends": ends, "_axes": axes, "_steps": None if unit else steps, "_itype": itype}

    def _ranges(self, shape, a) -> dict[int, tuple[Dim, Dim, int]]:
        r = len(shape)
        todo = list(range(r)) if a["_axes"] is None else [norm_axis(x, r) for x in a["_axes"]]
        steps = a["_steps"] or [1] * len(todo)
        out = {}
        for ax, st, en, k in zip(todo, a["_starts"], a["_ends"], steps):
            out[ax] = (*slice_range(shape[ax], st, en, k), k)
        return out

    def requires(self, ins, a):
        if LOW_START_NEGATIVE_STEP:
            return []
        r = ins[0].rank
        todo = list(range(r)) if a["_axes"] is None else [norm_axis(x, r) for x in a["_axes"]]
        steps = a["_steps"] or [1] * len(todo)
        return [st >= -ins[0].shape[ax] for ax, st, k in zip(todo, a["_starts"], steps) if k < 0]

    def infer(self, ins, a):
        rng = self._ranges(ins[0].shape, a)
        return [tuple(rng[i][1] if i in rng else x for i, x in enumerate(ins[0].shape))]

    def emit(self, e, a):
        t = a["_itype"]
        inputs = [e.inputs[0], e.const(a["_starts"], t, "starts"), e.const(a["_ends"], t, "ends")]
        if a["_axes"] is not None:
            inputs.append(e.const(a["_axes"], t, "axes"))
        if a["_steps"] is not None:
            inputs += [] if a["_axes"] is not None else [""]  # "" spells an omitted optional input
            inputs.append(e.const(a["_steps"], t, "steps"))
        e.node("Slice", inputs, e.outputs)

    def torch(self, xs, a):
        x = xs[0]
        for ax, (start, length, step) in self._ranges(tuple(x.shape), a).items():
            x = torch.index_select(x, ax, start + step * torch.arange(length))
        return [x]


# --- Pad and Tile --------------------------------------------------------------------------------


def pad_amount(d: Draw, hi: int) -> int:
    """A pad in [0, hi]: zero (the identity edge case) often, else log-binned."""
    return 0 if hi < 1 or d.coin(0.3) else d.randint(1, hi)


def forward_pads(d: Draw, shape: tuple[int, ...], todo: list[int], mode: str) -> list[int]:
    """Concrete begin/end pads for the axes `todo`, keeping the output near the element budget."""
    total, begins, ends = prod(shape), [], []
    for ax in todo:
        n = shape[ax]
        room = max(0, n * d.max_elems // max(1, total) - n)  # how much longer this axis may grow
        hi = min(room, {"reflect": n - 1, "wrap": 2 * n}.get(mode, 8))
        pb = pad_amount(d, hi)
        pe = pad_amount(d, hi - pb)
        if mode == "constant" and NEGATIVE_PADS and n > 1 and d.coin(0.3):
            pb = -d.randint(1, n - 1)
            pe = -d.randint(1, n - 1 + pb) if n - 1 + pb >= 1 and d.coin(0.5) else pe
        begins.append(pb)
        ends.append(pe)
        total = total // n * (n + pb + pe)
    return begins + ends


def pad_value(d: Draw, dt: DType) -> float | int | bool:
    if dt == DType.bool:
        return d.coin()
    if dt.is_int:
        info = np.iinfo(dt.numpy)
        return d.randint(int(info.min), int(info.max)) if d.coin(0.3) else d.randint(max(-5, int(info.min)), 5)
    return d.pick([0.0, 1.0, -1.0]) if d.coin(0.3) else d.uniform(-3, 3)


@register
class Pad(Layout):
    """Pads (or, in constant mode, crops) axes: constant, reflect, edge, or wrap (opset 19+)."""

    op_type = "Pad"
    inputs = (Input("data"),)
    # a scalar has nothing to pad, and onnx.reference fails on it (np.pad gets an empty, float pad_width)
    min_rank = 1
    backward = True

    def input_ranks(self, out_rank, n_inputs, d):
        return None if out_rank == 0 else [out_rank]

    def attrs(self, d, ins):
        s, r = ins[0].shape, ins[0].rank
        mode = d.pick(["constant", "reflect", "edge"] + (["wrap"] if d.opset >= 19 else []))
        axes = spell_axes(d, d.axes(r, negative=False), r) if r and d.opset >= 18 and d.coin(0.3) else None
        todo = list(range(r)) if axes is None else [norm_axis(x, r) for x in axes]
        if concrete(s):
            pads = forward_pads(d, s, todo, mode)
        else:  # backward: pads solved so the output is the target
            lo = -8 if mode == "constant" and NEGATIVE_PADS else 0
            pads = d.ints("pad", 2 * len(todo), lo, 8)
        value = pad_value(d, ins[0].dtype) if mode == "constant" and d.coin(0.7) else None
        return {
            "mode": None if mode == "constant" and d.coin(0.3) else mode,  # None: the default, constant
            "_pads": pads,
            "_axes": axes,
            "_value": value,
            "_dtype": ins[0].dtype.name,
        }

    def _todo(self, r: int, a) -> list[int]:
        return list(range(r)) if a["_axes"] is None else [norm_axis(x, r) for x in a["_axes"]]

    def requires(self, ins, a):
        todo, p, out = self._todo(ins[0].rank, a), a["_pads"], []
        for i, ax in enumerate(todo):
            n, pb, pe = ins[0].shape[ax], p[i], p[len(todo) + i]
            if a["mode"] == "reflect":
                out += [pb <= n - 1, pe <= n - 1]
            elif a["mode"] == "wrap":
                out += [pb <= 2 * n, pe <= 2 * n]
            out.append(n + smin(pb, 0) + smin(pe, 0) >= 1)  # a crop leaves at least one element
        return out

    def infer(self, ins, a):
        todo, p, s = self._todo(ins[0].rank, a), a["_pads"], list(ins[0].shape)
        for i, ax in enumerate(todo):
            s[ax] = s[ax] + p[i] + p[len(todo) + i]
        return [tuple(s)]

    def emit(self, e, a):
        inputs = [e.inputs[0], e.const(a["_pads"], hint="pads")]
        if a["_value"] is not None:
            inputs.append(e.const(a["_value"], DType[a["_dtype"]].numpy, "value"))
        if a["_axes"] is not None:
            inputs += ([] if a["_value"] is not None else [""]) + [e.const(a["_axes"], hint="axes")]
        e.node("Pad", inputs, e.outputs, **self.onnx_attrs(a))

    def torch(self, xs, a):
        x, mode = xs[0], a["mode"] or "constant"
        todo, p = self._todo(x.dim(), a), a["_pads"]
        for i, ax in enumerate(todo):
            n, pb, pe = x.shape[ax], p[i], p[len(todo) + i]
            j = torch.arange(-pb, n + pe)
            if mode == "reflect" and n > 1:
                m = torch.remainder(j, 2 * (n - 1))
                idx = torch.where(m < n, m, 2 * (n - 1) - m)
            elif mode == "wrap":
                idx = torch.remainder(j, n)
            else:  # edge, and constant before masking
                idx = j.clamp(0, n - 1)
            y = torch.index_select(x, ax, idx)
            if mode == "constant":
                inside = ((j >= 0) & (j < n)).reshape([-1] + [1] * (x.dim() - ax - 1))
                fill = torch.tensor(a["_value"] or 0, dtype=torch.float64 if x.dtype.is_floating_point else None)
                y = torch.where(inside, y, fill.to(x.dtype))
            x = y
        return [x]


@register
class Tile(Layout):
    """Repeats the tensor `repeats[i]` times along each axis i (1 keeps the axis)."""

    op_type = "Tile"
    inputs = (Input("input"),)
    backward = True

    def attrs(self, d, ins):
        s, r = ins[0].shape, ins[0].rank
        reps = [1] * r
        if concrete(s):
            budget = max(1, d.max_elems // max(1, prod(s)))
            for ax in d.perm(r):
                reps[ax] = 1 if budget < 2 or d.coin(0.5) else d.randint(2, min(8, budget))
                budget //= reps[ax]
        else:  # backward: the target must divide by the repeats, so keep them small
            reps = [d.pick([1, 1, 1, 2, 3]) for _ in range(r)]
        return {"_repeats": reps}

    def infer(self, ins, a):
        return [tuple(x * k for x, k in zip(ins[0].shape, a["_repeats"]))]

    def emit(self, e, a):
        e.node("Tile", [e.inputs[0], e.const(a["_repeats"], hint="repeats")], e.outputs)

    def torch(self, xs, a):
        return [xs[0].repeat(a["_repeats"]) if a["_repeats"] else xs[0].clone()]
