"""Indexing: Gather, GatherElements, GatherND, ScatterElements, ScatterND.

Index tensors are constant initializers, not graph tensors: their shapes are drawn in `attrs`
(symbolic where the output shape depends on them) and their values in `finalize`, once the data
shape is concrete. Values cover the whole valid range [-s, s-1], negative spellings included.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fuzzer.spec.base import Input, OpSpec, SpecError
from fuzzer.spec.draw import Draw
from fuzzer.spec.dtypes import DType
from fuzzer.spec.families import norm_axis
from fuzzer.spec.registry import register
from fuzzer.spec.sym import Dim, prod

# the generator's default per-tensor cap; preferred index dims are sized to keep outputs under it
# (Draw does not carry max_elems, so a larger preference would only get rejected after solving)
MAX_OUT_RANK = 5  # the default GenConfig.max_rank (Draw does not carry it)
# reductions the schema allows but ORT 1.32's CPU kernels reject at run time ("... data type is not
# supported with ScatterND opset 18 when reduction is 'max'"); narrowed until the op test can tell a
# run-time support gap from a failure
_ALL = ("add", "mul", "max", "min")
ORT_GAPS = {
    ("ScatterElements", DType.float16): ("add", "mul"),
    ("ScatterElements", DType.bfloat16): _ALL,
    ("ScatterElements", DType.bool): ("max", "min"),
    ("ScatterND", DType.float16): _ALL,
    ("ScatterND", DType.bfloat16): _ALL,
    ("ScatterND", DType.bool): ("max", "min"),
}
# onnx.reference's GatherElements demands index dims equal to data's off the axis (the schema's
# formula needs only <=, as torch.gather and ORT do); PARTIAL_DIMS allows the smaller ones
PARTIAL_DIMS = False
# onnx.reference's GatherElements also mishandles axis=-1 (it slices shape[0:]) and axes of length
# 64 (np.choose takes at most 63 choices): such axes are avoided, which needs rank >= 2
REF_GATHER_ELEMENTS = True


def index_dtype(spec: OpSpec, d: Draw, k: int = 1) -> str:
    """int64 or int32 for the index operand at position k, as the schema allows (int64 mostly)."""
    tv = spec.schema(d.opset).inputs[k].type_str
    allowed = spec.type_set(tv, d.opset)
    if DType.int32 in allowed and d.coin(0.3):
        return "int32"
    return "int64"


def small_dims(d: Draw, name: str, n: int, budget: int) -> list[Dim]:
    """n symbolic dims whose preferred values multiply to at most `budget` (>= 1)."""
    out = []
    for i in range(n):
        share = max(1, int(budget ** (1 / (n - i))))
        p = 1 if d.coin(0.15) else d.randint(1, min(share, d.max_dim))
        out.append(d.dim(name, prefer=p))
        budget = max(1, budget // p)
    return out


def spell(rng: np.random.Generator, idx: np.ndarray, size: np.ndarray | int) -> np.ndarray:
    """Index values in [0, size) respelt negative (idx - size) at random, which ONNX allows."""
    p = rng.choice([0.0, 0.3, 1.0], p=[0.4, 0.45, 0.15])
    return np.where(rng.random(idx.shape) < p, idx - size, idx).astype(np.int64)


def positive(idx: torch.Tensor, size) -> torch.Tensor:
    return torch.where(idx < 0, idx + size, idx)


def draw_reduction(spec: OpSpec, d: Draw, dtype: DType) -> str | None:
    """A `reduction` value this opset's schema documents (add/mul from 16, max/min from 18); None = omitted."""
    attr = spec.schema(d.opset).attributes.get("reduction")
    if attr is None:
        return None
    choices = [r for r in ("none", "add", "mul", "max", "min") if f"'{r}'" in attr.description]
    choices = [r for r in choices if r not in ORT_GAPS.get((spec.op_type, dtype), ())]
    red = d.pick(choices)
    return None if red == "none" and d.coin(0.5) else red


def scatter_torch(data: torch.Tensor, dim: int, idx: torch.Tensor, upd: torch.Tensor, red: str) -> torch.Tensor:
    """torch.scatter(_reduce) with ONNX reduction names; bool reduces as uint8 (add=or, mul=and)."""
    if red == "none":
        return torch.scatter(data, dim, idx, upd)
    if data.dtype == torch.bool:
        return scatter_torch(data.to(torch.uint8), dim, idx, upd.to(torch.uint8), red).bool()
    how = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}[red]
    return torch.scatter_reduce(data, dim, idx, upd, reduce=how, include_self=True)


@register
class Gather(OpSpec):
    """out = data indexed along `axis` by an index tensor of rank 0..3."""

    op_type = "Gather"
    inputs = (Input("data"),)
    min_rank = 1

    def attrs(self, d, ins):
        x = ins[0]
        axis = d.axis(x.rank)
        q = d.pick(range(0, min(3, MAX_OUT_RANK - x.rank + 1) + 1))
        rest = prod(s for i, s in enumerate(x.shape) if i != norm_axis(axis, x.rank))
        ishape = small_dims(d, "idx", q, max(1, d.max_elems // max(1, rest)))
        return {"axis": axis, "_ishape": ishape, "_itype": index_dtype(self, d)}

    def infer(self, ins, a):
        s, ax = ins[0].shape, norm_axis(a["axis"], ins[0].rank)
        return [tuple(s[:ax]) + tuple(a["_ishape"]) + tuple(s[ax + 1 :])]

    def finalize(self, rng, ins, a):
        size = ins[0].shape[norm_axis(a["axis"], ins[0].rank)]
        idx = rng.integers(0, size, size=tuple(a["_ishape"]))
        return {**a, "_idx": spell(rng, idx, size).tolist()}

    def emit(self, e, a):
        idx = e.const(a["_idx"], dtype=a["_itype"], hint="indices")
        e.node("Gather", [e.inputs[0], idx], e.outputs, axis=a["axis"])

    def torch(self, xs, a):
        x = xs[0]
        ax = norm_axis(a["axis"], x.dim())
        idx = positive(torch.tensor(a["_idx"], dtype=torch.int64), x.shape[ax])
        out = torch.index_select(x, ax, idx.reshape(-1))
        return [out.reshape(x.shape[:ax] + idx.shape + x.shape[ax + 1 :])]


@register
class GatherElements(OpSpec):
    """out[i..] = data[i.. with axis coordinate replaced by indices[i..]]; out has the indices' shape."""

    op_type = "GatherElements"
    inputs = (Input("data"),)
    min_rank = 2 if REF_GATHER_ELEMENTS else 1  # rank 1 has no other axis to fall back to below

    def attrs(self, d, ins):
        x = ins[0]
        axis = d.axis(x.rank)
        if REF_GATHER_ELEMENTS:
            fits = [i for i in range(x.rank) if x.shape[i] < 64] or list(range(x.rank))
            axis = d.pick(fits) if x.shape[norm_axis(axis, x.rank)] >= 64 else axis
            axis = x.rank - 1 if axis == -1 else axis
        ax = norm_axis(axis, x.rank)
        # off the axis index dims may be smaller than the data's (see PARTIAL_DIMS); along it any
        # length is fine (repeats)
        ishape = [d.dim("idx", prefer=s if d.coin(0.5) else None) if PARTIAL_DIMS else s for s in x.shape]
        ishape[ax] = d.dim("idx", prefer=d.randint(1, 2 * x.shape[ax]))
        return {"axis": axis, "_ishape": ishape, "_itype": index_dtype(self, d)}

    def infer(self, ins, a):
        return [tuple(a["_ishape"])]

    def requires(self, ins, a):
        ax = norm_axis(a["axis"], ins[0].rank)
        return [i <= s for k, (i, s) in enumerate(zip(a["_ishape"], ins[0].shape)) if k != ax]

    def finalize(self, rng, ins, a):
        size = ins[0].shape[norm_axis(a["axis"], ins[0].rank)]
        idx = rng.integers(0, size, size=tuple(a["_ishape"]))
        return {**a, "_idx": spell(rng, idx, size).tolist()}

    def emit(self, e, a):
        idx = e.const(a["_idx"], dtype=a["_itype"], hint="indices")
        e.node("GatherElements", [e.inputs[0], idx], e.outputs, axis=a["axis"])

    def torch(self, xs, a):
        x = xs[0]
        ax = norm_axis(a["axis"], x.dim())
        idx = positive(torch.tensor(a["_idx"], dtype=torch.int64), x.shape[ax])
        return [torch.gather(x, ax, idx)]


@register
class GatherND(OpSpec):
    """Gathers slices of data addressed by k-tuples (the last index dim), after `batch_dims` shared dims."""

    op_type = "GatherND"
    inputs = (Input("data"),)
    min_rank = 1

    def attrs(self, d, ins):
        x = ins[0]
        b = 1 if x.rank >= 2 and d.coin(0.3) else 0
        k = d.pick(range(1, x.rank - b + 1))
        # output rank = q - 1 + r - b - k with q = b + m + 1 index dims
        m = d.pick(range(0, max(0, min(2, MAX_OUT_RANK - (x.rank - k))) + 1))
        rest = prod(x.shape[b + k :]) * prod(x.shape[:b])
        mids = small_dims(d, "idx", m, max(1, d.max_elems // max(1, rest)))
        return {"batch_dims": b, "_ishape": list(x.shape[:b]) + mids + [k]}

    def infer(self, ins, a):
        b, ish = a["batch_dims"], a["_ishape"]
        return [tuple(ish[:-1]) + tuple(ins[0].shape[b + ish[-1] :])]

    def finalize(self, rng, ins, a):
        b, ish = a["batch_dims"], tuple(a["_ishape"])
        sizes = np.asarray(ins[0].shape[b : b + ish[-1]], dtype=np.int64)
        idx = (rng.random(ish) * sizes).astype(np.int64)
        return {**a, "_idx": spell(rng, idx, sizes).tolist()}

    def emit(self, e, a):
        idx = e.const(a["_idx"], dtype=np.int64, hint="indices")
        e.node("GatherND", [e.inputs[0], idx], e.outputs, batch_dims=a["batch_dims"])

    def torch(self, xs, a):
        x, b = xs[0], a["batch_dims"]
        idx = torch.tensor(a["_idx"], dtype=torch.int64)
        k = idx.shape[-1]
        idx = positive(idx, torch.tensor(x.shape[b : b + k]))
        batch = math.prod(x.shape[:b])
        xb = x.reshape((batch,) + x.shape[b:])
        ib = idx.reshape(batch, -1, k)
        rows = torch.arange(batch).reshape(batch, 1)
        out = xb[(rows,) + tuple(ib[..., j] for j in range(k))]
        return [out.reshape(idx.shape[:-1] + x.shape[b + k :])]


@register
class ScatterElements(OpSpec):
    """Copies data, then writes (or reduces) updates at positions whose axis coordinate comes from indices."""

    op_type = "ScatterElements"
    inputs = (Input("data"), Input("updates"))
    min_rank = 1

    def attrs(self, d, ins):
        x, u = ins
        if u.rank != x.rank:
            raise SpecError("updates must have the rank of data")
        return {
            "axis": d.axis(x.rank),
            "reduction": draw_reduction(self, d, ins[0].dtype),
            "_itype": index_dtype(self, d),
        }

    def requires(self, ins, a):
        (x, u), ax = ins, norm_axis(a["axis"], ins[0].rank)
        # with reduction none the positions along the axis must be distinct, so they must fit
        dup_ok = a["reduction"] not in (None, "none")
        return [i <= s for k, (i, s) in enumerate(zip(u.shape, x.shape)) if k != ax or not dup_ok]

    def finalize(self, rng, ins, a):
        x, u = ins
        ax = norm_axis(a["axis"], x.rank)
        size = x.shape[ax]
        shape = tuple(u.shape)
        if a["reduction"] in (None, "none"):
            lines = np.moveaxis(np.empty(shape), ax, -1).shape
            keys = rng.random(lines[:-1] + (size,))
            idx = np.moveaxis(np.argsort(keys, axis=-1)[..., : shape[ax]], -1, ax)
        else:
            # a narrow range now and then makes duplicates common
            hi = size if rng.random() < 0.6 else max(1, size // 4)
            idx = rng.integers(0, hi, size=shape)
        return {**a, "_idx": spell(rng, idx, size).tolist()}

    def emit(self, e, a):
        idx = e.const(a["_idx"], dtype=a["_itype"], hint="indices")
        e.node(self.op_type, [e.inputs[0], idx, e.inputs[1]], e.outputs, **self.onnx_attrs(a))

    def torch(self, xs, a):
        x, u = xs
        ax = norm_axis(a["axis"], x.dim())
        idx = positive(torch.tensor(a["_idx"], dtype=torch.int64), x.shape[ax])
        return [scatter_torch(x, ax, idx, u, a["reduction"] or "none")]


@register
class ScatterND(OpSpec):
    """Copies data, then writes (or reduces) updates slices at the k-tuples in indices."""

    op_type = "ScatterND"
    inputs = (Input("data"), Input("updates"))
    min_rank = 1

    def leaf_rank(self, k, ins, d):
        # updates rank = m + r - k for m index batch dims (0..2) and k in [1, r]
        r = ins[0].rank
        return d.pick(range(0, min(r + 2, MAX_OUT_RANK) + 1))

    def attrs(self, d, ins):
        x, u = ins
        ks = [k for k in range(1, x.rank + 1) if 0 <= u.rank - x.rank + k <= 2]
        if not ks:
            raise SpecError("no tuple length fits these ranks")
        k = d.pick(ks)
        return {"_k": k, "reduction": draw_reduction(self, d, ins[0].dtype)}

    def requires(self, ins, a):
        (x, u), k = ins, a["_k"]
        m = u.rank - x.rank + k
        conds = [us == xs for us, xs in zip(u.shape[m:], x.shape[k:])]
        if a["reduction"] in (None, "none"):
            conds.append(prod(u.shape[:m]) <= prod(x.shape[:k]))  # distinct tuples must exist
        return conds

    def finalize(self, rng, ins, a):
        (x, u), k = ins, a["_k"]
        m = u.rank - x.rank + k
        lead, n = tuple(x.shape[:k]), math.prod(u.shape[:m])
        total = math.prod(lead)
        if a["reduction"] in (None, "none"):
            flat = rng.permutation(total)[:n]
        else:
            flat = rng.integers(0, total if rng.random() < 0.6 else max(1, total // 4), size=n)
        idx = np.stack(np.unravel_index(flat, lead), axis=-1).reshape(tuple(u.shape[:m]) + (k,))
        return {**a, "_idx": spell(rng, idx, np.asarray(lead)).tolist()}

    def emit(self, e, a):
        idx = e.const(a["_idx"], dtype=np.int64, hint="indices")
        e.node(self.op_type, [e.inputs[0], idx, e.inputs[1]], e.outputs, **self.onnx_attrs(a))

    def torch(self, xs, a):
        x, u = xs
        k = a["_k"]
        idx = torch.tensor(a["_idx"], dtype=torch.int64).reshape(-1, k)
        lead = x.shape[:k]
        idx = positive(idx, torch.tensor(lead))
        flat = torch.zeros(idx.shape[0], dtype=torch.int64)
        for j in range(k):
            flat = flat * lead[j] + idx[:, j]
        rest = x.shape[k:]
        xf = x.reshape((math.prod(lead),) + rest)
        uf = u.reshape((idx.shape[0],) + rest)
        where = flat.reshape((-1,) + (1,) * len(rest)).expand(uf.shape)
        out = scatter_torch(xf, 0, where, uf, a["reduction"] or "none")
        return [out.reshape(x.shape)]
