"""Pooling: MaxPool, AveragePool, LpPool (1-D to 3-D windows) and their global forms.

The torch implementations cut the padded input into windows with `Tensor.unfold` and reduce them,
one path for every pool: torch's own pools want symmetric pads no larger than half the kernel and
have no dilated average, so they cannot express all ONNX attributes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from fuzzer.spec.base import Input, OpSpec
from fuzzer.spec.ops.nn_conv import (
    compute_dtype,
    dilations_of,
    draw_kernel,
    draw_window,
    extent,
    resolved_pads,
    terse,
    torch_pad,
    window_requires,
    window_shape,
)
from fuzzer.spec.registry import register
from fuzzer.spec.sym import all_of, any_of, cdiv, not_


def windows(x: torch.Tensor, a: dict[str, Any], fill: float, *, tail: float | None = None) -> torch.Tensor:
    """The pooling windows of x as (N, C, *out, taps), pads filled with `fill`.

    In ceil mode the last window may run past the end padding; those taps are filled with `tail`
    (default `fill`) so the caller can mask them.
    """
    spatial, kernel = list(x.shape[2:]), a["kernel_shape"]
    pads, outs = resolved_pads(a, spatial, kernel), window_shape(a, spatial, kernel)
    dls, strides = dilations_of(a, len(spatial)), a["strides"]
    over = []
    for i, n in enumerate(spatial):
        need = (outs[i] - 1) * strides[i] + extent(kernel[i], dls[i])
        over.append((0, max(0, need - (n + pads[i][0] + pads[i][1]))))
    x = F.pad(x, torch_pad(pads), value=fill)
    x = F.pad(x, torch_pad(over), value=fill if tail is None else tail)
    for i in range(len(spatial)):
        x = x.unfold(2 + i, extent(kernel[i], dls[i]), strides[i])[..., :: dls[i]].narrow(2 + i, 0, outs[i])
    return x.flatten(-len(spatial))


def reference_maxpool_ok(a: dict[str, Any], x) -> list:
    """Keep MaxPool within what onnx.reference 1.23 computes right (a stopgap; see the report).

    With all strides and dilations 1 it takes a generic path that pads only 2-D inputs (with NaN,
    failing for int8/uint8 even with zero pads) and adds the pads twice in ceil mode; otherwise a
    port of ORT's loops, which sizes SAME_LOWER outputs as floor(n / stride).
    """
    nsp = x.rank - 2
    unit = all_of(*[v == 1 for v in a["strides"] + a["dilations"]])
    pads = a["pads"] or [0] * (2 * nsp)
    no_pads = all_of(*[p == 0 for p in pads])
    same = a["auto_pad"].startswith("SAME")
    if nsp == 2:
        # it also reads 2-D pads as (top, bottom, left, right): right only when x1_end == x2_begin
        generic_ok = all_of(any_of(not a["ceil_mode"], no_pads), pads[1] == pads[2], not x.dtype.is_int)
    else:
        generic_ok = all_of(no_pads, not same)
    return [any_of(not_(unit), generic_ok), any_of(unit, a["auto_pad"] != "SAME_LOWER")]


def reference_ceil_ok(a: dict[str, Any], x, overhang: int) -> list:
    """Bound the ceil-mode overhang past the end padding to what onnx.reference 1.23 gets right.

    Its AveragePool/LpPool put half of an overhang of 2+ at the start, shifting every window, and
    its LpPool scales a window's mean by the full kernel size, wrong for any overhang (a stopgap
    until it is fixed; see the report).
    """
    if not a.get("ceil_mode"):
        return []
    spatial, kernel = x.shape[2:], a["kernel_shape"]
    pads, dls = resolved_pads(a, spatial, kernel), dilations_of(a, len(spatial))
    conds = []
    for i, n in enumerate(spatial):
        span = n + pads[i][0] + pads[i][1] - extent(kernel[i], dls[i])
        conds.append(cdiv(span, a["strides"][i]) * a["strides"][i] - span <= overhang)
    return conds


class _Pool(OpSpec):
    """A windowed pool over the spatial dims of (N, C, D1[, D2[, D3]]); N and C are kept."""

    inputs = (Input("X", ranks=(3, 4, 5)),)
    backward = True
    dilations_since: ClassVar[int] = 1
    ceil_since: ClassVar[int] = 1

    def backward_ranks(self, out_rank, n_inputs, d):
        return [out_rank] if out_rank in (3, 4, 5) else None

    def attrs(self, d, ins):
        nsp = ins[0].rank - 2
        a = draw_window(d, nsp, dilations=d.opset >= self.dilations_since)
        a["kernel_shape"] = draw_kernel(d, nsp)
        if d.opset >= self.ceil_since:
            # ceil_mode with auto_pad is left undefined by the doc (onnx.reference rejects it)
            a["ceil_mode"] = int(a["auto_pad"] == "NOTSET" and d.coin(0.35))
        return a

    def infer(self, ins, a):
        x = ins[0]
        return [(x.shape[0], x.shape[1], *window_shape(a, x.shape[2:], a["kernel_shape"]))]

    def requires(self, ins, a):
        conds = window_requires(a, ins[0].shape[2:], a["kernel_shape"], pool=True)
        if a["auto_pad"] != "NOTSET":
            # ORT sizes SAME pads by the undilated kernel, onnx.reference's auto_pad paths ignore dilations
            conds += [dl == 1 for dl in a.get("dilations") or []]
        return conds

    def emit(self, e, a):
        e.node(self.op_type, e.inputs, e.outputs, **terse(a, len(a["kernel_shape"])))


@register
class MaxPool(_Pool):
    op_type = "MaxPool"

    def attrs(self, d, ins):
        a = super().attrs(d, ins)
        a["storage_order"] = d.pick([0, 1]) if d.coin(0.2) else None  # only orders the Indices output
        return a

    def requires(self, ins, a):
        return super().requires(ins, a) + reference_maxpool_ok(a, ins[0])

    def torch(self, xs, a):
        x = xs[0]
        # int8/uint8 are exact in float32, which has the -inf that padding needs
        xf = x if x.dtype.is_floating_point else x.to(torch.float32)
        return [windows(xf, a, float("-inf")).amax(-1).to(x.dtype)]


@register
class AveragePool(_Pool):
    op_type = "AveragePool"
    dilations_since = 19

    def attrs(self, d, ins):
        a = super().attrs(d, ins)
        a["count_include_pad"] = int(d.coin(0.5))
        return a

    def requires(self, ins, a):
        return super().requires(ins, a) + reference_ceil_ok(a, ins[0], 1)

    def torch(self, xs, a):
        x = xs[0]
        total = windows(x.to(compute_dtype(x)), a, 0.0).sum(-1)
        # divisor: taps on the input, plus those on the pads with count_include_pad, never the
        # ceil-mode overhang past the end padding
        ones = torch.ones((1, 1, *x.shape[2:]), dtype=total.dtype)
        count = windows(ones, a, float(a["count_include_pad"]), tail=0.0).sum(-1)
        return [(total / count).to(x.dtype)]


@register
class LpPool(_Pool):
    op_type = "LpPool"
    dilations_since = 18
    ceil_since = 18

    def attrs(self, d, ins):
        a = super().attrs(d, ins)
        a["p"] = d.pick([1, 2, 2, 3])
        return a

    def requires(self, ins, a):
        return super().requires(ins, a) + reference_ceil_ok(a, ins[0], 0)

    def torch(self, xs, a):
        x = xs[0]
        p = a["p"]
        total = windows(x.to(compute_dtype(x)).abs().pow(p), a, 0.0).sum(-1)
        return [total.pow(1.0 / p).to(x.dtype)]


# --- global pools --------------------------------------------------------------------------------
class _GlobalPool(OpSpec):
    """A pool over all spatial dims: (N, C, D...) -> (N, C, 1...)."""

    inputs = (Input("X", ranks=(3, 4, 5)),)

    def infer(self, ins, a):
        x = ins[0]
        return [(x.shape[0], x.shape[1], *[1] * (x.rank - 2))]

    def torch(self, xs, a):
        x = xs[0]
        dims = list(range(2, x.dim()))
        return [self.reduce(x.to(compute_dtype(x)), dims, a).to(x.dtype)]


@register
class GlobalMaxPool(_GlobalPool):
    op_type = "GlobalMaxPool"
    # onnx.reference 1.23 reduces the last two axes instead of the spatial ones, right only for
    # 2-D; a stopgap until it is fixed (see the report): ranks 3 and 5 are valid ONNX
    inputs = (Input("X", ranks=(4,)),)

    def reduce(self, x, dims, a):
        return x.amax(dim=dims, keepdim=True)


@register
class GlobalAveragePool(_GlobalPool):
    op_type = "GlobalAveragePool"

    def reduce(self, x, dims, a):
        return x.mean(dim=dims, keepdim=True)


@register
class GlobalLpPool(_GlobalPool):
    op_type = "GlobalLpPool"

    def attrs(self, d, ins):
        p = d.pick([1, 2, 2, 3])
        # p defaults to 2: sometimes leave it out
        return {"p": None if p == 2 and d.coin(0.3) else p, "_p": p}

    def reduce(self, x, dims, a):
        p = a["_p"]
        return x.abs().pow(p).sum(dim=dims, keepdim=True).pow(1.0 / p)
