"""Convolutions (Conv, ConvTranspose) and the sliding-window geometry they share with the pools.

Window attributes (kernel, strides, dilations, pads) are symbolic ints, so the solver picks values
that give valid output sizes. The torch implementations pad explicitly with `F.pad` and then run
the unpadded torch op, because ONNX pads may differ at the two ends of an axis and torch's may not.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fuzzer.spec.base import Input, OpSpec
from fuzzer.spec.draw import Draw
from fuzzer.spec.registry import register
from fuzzer.spec.sym import Dim, any_of, cdiv, fdiv, ite

AUTO_PADS = ("SAME_UPPER", "SAME_LOWER", "VALID")
DEFAULTS = {"auto_pad": "NOTSET", "group": 1, "ceil_mode": 0, "count_include_pad": 0, "storage_order": 0}


# --- window geometry (symbolic or concrete) ---------------------------------------------------
def prefer(d: Draw, dim: Dim, value: int) -> None:
    """Make the solver try `value` first for a new leaf's dim (leaf dims default to aligned dims)."""
    d.prefer(dim, value)


def draw_window(d: Draw, nsp: int, *, dilations: bool = True, auto_pad_p: float = 0.2) -> dict[str, Any]:
    """Symbolic strides, dilations and pads for `nsp` spatial dims, and a concrete auto_pad."""
    mode = d.pick(AUTO_PADS) if d.coin(auto_pad_p) else "NOTSET"
    a: dict[str, Any] = {"auto_pad": mode, "_terse": d.coin(0.3)}
    # stride > kernel (skipped input) comes from the independent preferred values
    a["strides"] = [d.int("stride", 1, 4, prefer=1 if d.coin(0.4) else None) for _ in range(nsp)]
    if dilations:
        a["dilations"] = [d.int("dilation", 1, 3, prefer=1 if d.coin(0.7) else None) for _ in range(nsp)]
    a["pads"] = d.ints("pad", 2 * nsp, 0, 4) if mode == "NOTSET" else None
    return a


def draw_kernel(d: Draw, nsp: int) -> list:
    """Symbolic kernel sizes, small ones preferred."""
    return [d.int("kernel", 1, 7, prefer=d.randint(1, 5)) for _ in range(nsp)]


def dilations_of(a: dict[str, Any], nsp: int) -> list:
    return a.get("dilations") or [1] * nsp


def extent(k: Dim, dl: Dim) -> Dim:
    """Span of a dilated kernel."""
    return (k - 1) * dl + 1


def resolved_pads(a: dict[str, Any], spatial, kernel) -> list[tuple[Dim, Dim]]:
    """(begin, end) padding per spatial dim with auto_pad applied (ONNX Conv/Pool rules)."""
    nsp, mode = len(spatial), a["auto_pad"]
    dls = dilations_of(a, nsp)
    out = []
    for i, n in enumerate(spatial):
        if mode == "NOTSET":
            out.append((a["pads"][i], a["pads"][i + nsp]))
        elif mode == "VALID":
            out.append((0, 0))
        else:
            s = a["strides"][i]
            total = (cdiv(n, s) - 1) * s + extent(kernel[i], dls[i]) - n
            half = fdiv(total, 2)
            out.append((half, total - half) if mode == "SAME_UPPER" else (total - half, half))
    return out


def window_out(n: Dim, k: Dim, s: Dim, dl: Dim, pb: Dim, pe: Dim, ceil: bool) -> Dim:
    """Number of windows along one axis; in ceil mode a window starting in the end padding is dropped."""
    span = n + pb + pe - extent(k, dl)
    if not ceil:
        return fdiv(span, s) + 1
    o = cdiv(span, s) + 1
    return o - ite((o - 1) * s >= n + pb, 1, 0)


def window_shape(a: dict[str, Any], spatial, kernel) -> list[Dim]:
    pads, dls = resolved_pads(a, spatial, kernel), dilations_of(a, len(spatial))
    ceil = bool(a.get("ceil_mode", 0))
    return [window_out(n, kernel[i], a["strides"][i], dls[i], *pads[i], ceil) for i, n in enumerate(spatial)]


def window_requires(a: dict[str, Any], spatial, kernel, *, pool: bool) -> list:
    """Validity: SAME padding not negative, ceil mode well defined; for pools, no window lies
    wholly in the padding."""
    conds = []
    pads, dls = resolved_pads(a, spatial, kernel), dilations_of(a, len(spatial))
    for i, n in enumerate(spatial):
        pb, pe = pads[i]
        k, dl, s = kernel[i], dls[i], a["strides"][i]
        if a["auto_pad"] in ("SAME_UPPER", "SAME_LOWER"):
            conds.append(pb + pe >= 0)  # stride > kernel would ask for negative (cropping) pads
        if a.get("ceil_mode"):
            span = n + pb + pe - extent(k, dl)
            # ORT and onnx.reference drop a last window that starts in the end padding, ONNX 1.23
            # shape inference keeps it: keep clear of that case until they agree
            conds += [span >= 0, cdiv(span, s) * s < n + pb]
        if pool:
            # pads < kernel (ORT enforces this, stricter than the extent) keeps every window touching
            # the input, and a gap between taps no wider than the input keeps a tap inside it
            conds += [pb < k, pe < k, any_of(k == 1, dl <= n)]
    return conds


def torch_pad(pads: list[tuple[int, int]]) -> list[int]:
    """F.pad's argument (last axis first) for per-axis (begin, end) pads."""
    out: list[int] = []
    for pb, pe in reversed(pads):
        out += [int(pb), int(pe)]
    return out


def compute_dtype(t: torch.Tensor) -> torch.dtype:
    """Half types run in float32 (as ORT accumulates), other floats in their own precision."""
    return torch.float32 if t.dtype in (torch.float16, torch.bfloat16) else t.dtype


def terse(a: dict[str, Any], nsp: int) -> dict[str, Any]:
    """The ONNX attributes, dropping those equal to their default when `_terse` was drawn."""
    out = {k: v for k, v in a.items() if not k.startswith("_") and v is not None}
    if not a.get("_terse"):
        return out
    for key in ("strides", "dilations"):
        if key in out and list(out[key]) == [1] * nsp:
            del out[key]
    if "pads" in out and not any(out["pads"]):
        del out["pads"]
    if "output_padding" in out and not any(out["output_padding"]):
        del out["output_padding"]
    return {k: v for k, v in out.items() if DEFAULTS.get(k, object()) != v}


# --- Conv ---------------------------------------------------------------------------------------
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def draw_group(d: Draw, c: Dim) -> int:
    """A group count dividing the channels: 1 mostly, depthwise sometimes (any divisor when known)."""
    if not isinstance(c, int):
        return 1 if d.coin(0.7) else d.pick([2, 3, 4])  # checked against the symbolic channels
    if d.coin(0.55):
        return 1
    if d.coin(0.4):
        return c
    return d.pick([g for g in range(1, c + 1) if c % g == 0])


class _ConvLike(OpSpec):
    """Shared parts of Conv and ConvTranspose: ranks 3-5 (1-D to 3-D), weights as new leaves."""

    inputs = (Input("X", ranks=(3, 4, 5)), Input("W", role="weight"))
    backward = True

    def backward_ranks(self, out_rank, n_inputs, d):
        if out_rank not in (3, 4, 5):
            return None
        return [out_rank, out_rank, 1][:n_inputs]

    def leaf_rank(self, k, ins, d):
        return ins[0].rank if k == 1 else 1

    def emit(self, e, a):
        attrs = terse(a, len(a["strides"]))
        if not a["_kernel_attr"]:
            attrs.pop("kernel_shape")  # optional: inferred from W
        e.node(self.op_type, e.inputs, e.outputs, **attrs)


class _Conv(_ConvLike):
    op_type = "Conv"

    def attrs(self, d, ins):
        x, w = ins[0], ins[1]
        nsp, c = x.rank - 2, x.shape[1]
        group = draw_group(d, c)
        a = {"group": group, "_kernel_attr": d.coin(0.7), **draw_window(d, nsp)}
        a["kernel_shape"] = list(w.shape[2:])  # the kernel is W's spatial shape
        for k in w.shape[2:]:
            prefer(d, k, d.randint(1, 5))
        if isinstance(c, int):
            prefer(d, w.shape[1], c // group)
            prefer(d, w.shape[0], group * (d.pick([1, 2]) if group == c else d.randint(1, 8)))
        return a

    def infer(self, ins, a):
        x, w = ins[0], ins[1]
        return [(x.shape[0], w.shape[0], *window_shape(a, x.shape[2:], w.shape[2:]))]

    def requires(self, ins, a):
        x, w, g = ins[0], ins[1], a["group"]
        conds = [w.shape[1] * g == x.shape[1], w.shape[0] % g == 0]
        conds += window_requires(a, x.shape[2:], w.shape[2:], pool=False)
        if a["auto_pad"].startswith("SAME"):
            conds += [dl == 1 for dl in a["dilations"]]  # ORT rejects dilated SAME (the doc allows it)
        if len(ins) > 2:
            conds.append(ins[2].shape[0] == w.shape[0])
        return conds

    def torch(self, xs, a):
        x, w = xs[0], xs[1]
        cdt = compute_dtype(x)
        b = xs[2].to(cdt) if len(xs) > 2 else None
        pads = resolved_pads(a, list(x.shape[2:]), list(w.shape[2:]))
        xp = F.pad(x.to(cdt), torch_pad(pads))
        nsp = x.dim() - 2
        y = CONV[nsp](xp, w.to(cdt), b, stride=a["strides"], dilation=dilations_of(a, nsp), groups=a["group"])
        return [y.to(x.dtype)]


@register
class Conv(_Conv):
    """Conv without bias."""

    key = "Conv_noB"  # not "Conv": selecting an op_type selects all its variants


@register
class ConvBias(_Conv):
    key = "Conv_B"
    inputs = (*_Conv.inputs, Input("B", ranks=(1,), role="weight"))


# --- ConvTranspose ------------------------------------------------------------------------------
def convt_pads(a: dict[str, Any], spatial, kernel) -> list[tuple[Dim, Dim]]:
    """(begin, end) cropping per axis of the full transposed convolution (ONNX ConvTranspose rules)."""
    nsp, mode = len(spatial), a["auto_pad"]
    out_shape = a.get("output_shape")
    if mode == "VALID" or (mode == "NOTSET" and out_shape is None):
        return [(0, 0)] * nsp if mode == "VALID" else [(a["pads"][i], a["pads"][i + nsp]) for i in range(nsp)]
    out = []
    dls = dilations_of(a, nsp)
    for i, n in enumerate(spatial):
        s = a["strides"][i]
        target = out_shape[i] if out_shape is not None else n * s
        total = s * (n - 1) + a["output_padding"][i] + extent(kernel[i], dls[i]) - target
        half = fdiv(total, 2)
        out.append((half, total - half) if mode == "SAME_UPPER" else (total - half, half))
    return out


class _ConvTranspose(_ConvLike):
    op_type = "ConvTranspose"

    def attrs(self, d, ins):
        x, w = ins[0], ins[1]
        nsp, c = x.rank - 2, x.shape[1]
        # onnx.reference 1.23 gets group > 1 wrong (wrong weight slices and bias) unless the op is
        # depthwise with one output channel per group and no bias; ORT handles all groups
        depthwise = len(ins) == 2 and isinstance(c, int) and c > 1 and d.coin(0.25)
        a = {"group": c if depthwise else 1, "_kernel_attr": d.coin(0.7), **draw_window(d, nsp)}
        a["kernel_shape"] = list(w.shape[2:])
        for k in w.shape[2:]:
            prefer(d, k, d.randint(1, 5))
        a["output_padding"] = [d.int("out_pad", 0, 3, prefer=0 if d.coin(0.6) else None) for _ in range(nsp)]
        a["output_shape"] = None
        if a["auto_pad"].startswith("SAME") and d.coin(0.5):
            # with NOTSET, onnx.reference ignores output_shape's implied pads, so only SAME_* here
            a["output_shape"] = [d.int("out_shape", 1, d.max_dim) for _ in range(nsp)]
        if isinstance(c, int):
            prefer(d, w.shape[0], c)
            prefer(d, w.shape[1], 1 if depthwise else d.randint(1, 8))
        return a

    def infer(self, ins, a):
        x, w = ins[0], ins[1]
        spatial, kernel = x.shape[2:], w.shape[2:]
        dls = dilations_of(a, len(spatial))
        pads = convt_pads(a, spatial, kernel)
        out = []
        for i, n in enumerate(spatial):
            full = a["strides"][i] * (n - 1) + a["output_padding"][i] + extent(kernel[i], dls[i])
            out.append(full - pads[i][0] - pads[i][1])
        return [(x.shape[0], w.shape[1] * a["group"], *out)]

    def requires(self, ins, a):
        x, w, g = ins[0], ins[1], a["group"]
        conds = [w.shape[0] == x.shape[1], x.shape[1] % g == 0]
        if isinstance(g, int) and g > 1:
            conds.append(w.shape[1] == 1)  # see attrs: what onnx.reference handles
        for i, (pb, pe) in enumerate(convt_pads(a, x.shape[2:], w.shape[2:])):
            op = a["output_padding"][i]
            # the ONNX doc allows op < stride or dilation, but ORT and onnx.reference need op < stride
            conds += [pb >= 0, pe >= 0, op < a["strides"][i]]
            if a["auto_pad"].startswith("SAME") and a["output_shape"] is None:
                # ONNX shape inference sizes SAME as n * stride + output_padding, the doc as n * stride
                conds.append(op == 0)
            if a["output_shape"] is not None:
                # ONNX shape inference gives up on an output_shape smaller than the input
                conds.append(a["output_shape"][i] >= x.shape[2 + i])
        if len(ins) > 2:
            conds.append(ins[2].shape[0] == w.shape[1] * g)
        return conds

    def torch(self, xs, a):
        x, w = xs[0], xs[1]
        cdt, nsp = compute_dtype(x), x.dim() - 2
        y = CONV_T[nsp](x.to(cdt), w.to(cdt), stride=a["strides"], dilation=dilations_of(a, nsp), groups=a["group"])
        # the full result, extended by output_padding at the end, then cropped by the pads
        pads = convt_pads(a, list(x.shape[2:]), list(w.shape[2:]))
        y = F.pad(y, torch_pad([(0, op) for op in a["output_padding"]]))
        y = F.pad(y, torch_pad([(-pb, -pe) for pb, pe in pads]))
        if len(xs) > 2:
            y = y + xs[2].to(cdt).reshape(1, -1, *[1] * nsp)
        return [y.to(x.dtype)]


@register
class ConvTranspose(_ConvTranspose):
    """ConvTranspose without bias."""

    key = "ConvTranspose_noB"


@register
class ConvTransposeBias(_ConvTranspose):
    key = "ConvTranspose_B"
    inputs = (*_ConvTranspose.inputs, Input("B", ranks=(1,), role="weight"))
