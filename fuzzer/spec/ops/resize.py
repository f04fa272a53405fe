"""Resize: nearest, linear and cubic resampling with every ONNX coordinate transformation mode.

torch.nn.functional.interpolate matches only some of ONNX's modes, so the semantics are written out:
each resized axis becomes a gather (nearest) or a weight matrix (linear, cubic, antialias) built
from the exact rational source coordinate of every output index, applied one axis at a time.

Implementations compute coordinates in float32 or float64, and a coordinate that is exactly on a
rounding edge (nearest's rounding, the range test of tf_crop_and_resize) can land on either side.
So scales, and the ratios sizes / in where a rounding step follows them, are multiples of 1/8 (exact
in both); the remaining inexact cases are rejected when a coordinate sits on an edge (`fragile`).
"""

from __future__ import annotations

import math
from fractions import Fraction as Q

import numpy as np
import torch

from fuzzer.spec.base import Input, OpSpec, SpecError
from fuzzer.spec.dtypes import DType
from fuzzer.spec.registry import register
from fuzzer.spec.sym import Dim, all_of, fdiv, ite

DEN = 8  # scales are multiples of 1/DEN (see module docstring)
CTMS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize", "half_pixel_symmetric")
NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
POLICIES = ("not_larger", "not_smaller")  # the keep_aspect_ratio_policy values other than stretch


# --- where ORT or onnx.reference diverge from the schema: the random choice is narrowed -------
# (each flag names the case; setting it False restores the full choice)
# pytorch_half_pixel maps a length-1 output to 0 (the schema); onnx.reference uses -0.5 (which only
# cubic and antialias filters can tell apart), and only when in * scale is exactly 1, not when the
# output length is: narrowed to outputs of length >= 2 there, and to in * scale = 1 otherwise
REF_PT_HALF_PIXEL = True
# onnx.reference's Resize transposes by the `axes` attribute as written, so negative axes break it
REF_NEG_AXES = True
# with scales, ORT, onnx.reference and ONNX shape inference size a tf_crop_and_resize output as
# floor(in * scale), not the schema's floor(in * (end - start) * scale): windows of length 1 agree
ROI_SPAN_1 = True
# ORT treats an axis whose output length equals its input length as untouched, ignoring the crop
# window of tf_crop_and_resize (onnx.reference and the schema crop it): such axes are avoided
ORT_CROP_SCALE_1 = True
# ORT's cubic kernel takes 2-D or 4-D inputs only (and fails, rather than reporting a support gap)
ORT_CUBIC_4D = True
# align_corners and tf_crop_and_resize divide by (length_resized - 1); onnx.reference uses the
# fractional in * scale there, not the output length: narrowed to whole in * scale meanwhile
REF_WIDTH = True
# onnx.reference picks a filter's taps and its weights from two different roundings of the source
# coordinate, so a coordinate that is whole but computed an ulp above it (inexact sizes / in) uses
# taps shifted by one: such size ratios are rejected (in finalize) meanwhile
REF_WINDOW = True
# onnx.reference computes cubic weights in float32 (cubic_coeff_a is a NumPy float32), off by 1e-7
# relative, beyond float64's tolerance: no float64 cubic meanwhile
REF_CUBIC_F64 = True
# linear/cubic on integer types: ONNX does not say how results round to integers (ORT truncates,
# onnx.reference rounds half to even and saturates): floats only meanwhile
INT_INTERP = False


def f32(v: float) -> float:
    return float(np.float32(v))


# --- coordinates and weights (exact rationals; the schema's formulas) ------------------------


def source_coord(x: int, ctm: str, n_in: int, n_out: int, scale: Q, roi: tuple[Q, Q] | None) -> Q:
    """x_original of output index x, per coordinate_transformation_mode (scale is the effective one)."""
    if ctm == "align_corners":
        return Q(0) if n_out == 1 else Q(x * (n_in - 1), n_out - 1)
    if ctm == "asymmetric":
        return x / scale
    if ctm == "pytorch_half_pixel":
        return Q(0) if n_out == 1 else (x + Q(1, 2)) / scale - Q(1, 2)
    if ctm == "half_pixel":
        return (x + Q(1, 2)) / scale - Q(1, 2)
    if ctm == "half_pixel_symmetric":
        adjustment = n_out / (scale * n_in)
        return Q(n_in, 2) * (1 - adjustment) + (x + Q(1, 2)) / scale - Q(1, 2)
    start, end = roi
    if n_out == 1:
        return (start + end) * (n_in - 1) / 2
    return start * (n_in - 1) + x * (end - start) * (n_in - 1) / (n_out - 1)


def nearest_index(c: Q, how: str) -> int:
    fl = math.floor(c)
    if how == "floor" or c == fl:
        return fl
    if how == "ceil":
        return fl + 1
    half = c - fl == Q(1, 2)
    if how == "round_prefer_floor":
        return fl if half else round(c)
    return fl + 1 if half else round(c)


def cubic_kernel(s: float, A: float) -> float:
    s = abs(s)
    if s <= 1:
        return (A + 2) * s**3 - (A + 3) * s**2 + 1
    if s < 2:
        return A * s**3 - 5 * A * s**2 + 8 * A * s - 4 * A
    return 0.0


def taps(c: Q, a: dict, scale: Q) -> tuple[int, list[float]]:
    """First tap index and tap weights for source coordinate c (before edge handling)."""
    base = math.floor(c) if c != math.floor(c) else int(c) - 1  # ratio in (0, 1], as ONNX's reference
    ratio = float(c - base)
    s = min(float(scale), 1.0) if a.get("antialias") else 1.0
    if a["_mode"] == "linear":
        lo = math.floor(-1 / s) + 1
        w = [max(0.0, 1 - abs((i - ratio) * s)) for i in range(lo, 2 - lo)]
    else:
        A = f32(-0.75 if a.get("cubic_coeff_a") is None else a["cubic_coeff_a"])
        lo = math.floor(-2 / s) + 1
        w = [cubic_kernel((i - ratio) * s, A) for i in range(lo, 2 - lo)]
    total = sum(w)
    return base + lo, [v / total for v in w]


def weight_matrix(n_in: int, coords: list[Q], a: dict, scale: Q) -> np.ndarray:
    """Rows of tap weights; taps outside [0, n_in) clamp to the edge, or drop out with exclude_outside."""
    W = np.zeros((len(coords), n_in))
    for row, c in enumerate(coords):
        first, ws = taps(c, a, scale)
        if a.get("exclude_outside"):
            keep = [(first + j, w) for j, w in enumerate(ws) if 0 <= first + j < n_in]
            total = sum(w for _, w in keep) or 1.0
            for i, w in keep:
                W[row, i] += w / total
        else:
            for j, w in enumerate(ws):
                W[row, min(max(first + j, 0), n_in - 1)] += w
    return W


# --- shapes ---------------------------------------------------------------------------------


def policy_sizes(dims: list[int], sizes: list[Dim], policy: str) -> tuple[list[Dim], int]:
    """Output sizes under not_larger / not_smaller and the index k whose ratio sizes[k]/in[k] wins.

    Written as "k wins if its ratio is at least as good as every other" so that it stays linear
    in the symbolic sizes (the winner is only known concretely once they are solved).
    """
    n = len(sizes)

    def beats(k: int, j: int):
        lhs, rhs = sizes[k] * dims[j], sizes[j] * dims[k]
        return lhs <= rhs if policy == "not_larger" else lhs >= rhs

    wins = [all_of(*[beats(k, j) for j in range(n) if j != k]) for k in range(n)]
    # round half up of sizes[k] / dims[k] * m
    outs = [[fdiv(2 * sizes[k] * m + dims[k], 2 * dims[k]) for m in dims] for k in range(n)]
    out = outs[-1]
    for k in reversed(range(n - 1)):
        out = [ite(wins[k], o_k, o) for o_k, o in zip(outs[k], out)]
    best = next((k for k in range(n) if wins[k] is True), n - 1)
    return out, best


def out_sizes(in_shape: list[Dim], a: dict) -> tuple[list[Dim], int]:
    """Output lengths of the resized axes (symbolic with symbolic sizes), and the policy's winner."""
    ins = [in_shape[x] for x in a["_ax"]]
    if a.get("_scales") is not None:
        spans = [Q(e) - Q(s) for s, e in a["_roi"]] if a.get("_roi") else [Q(1)] * len(ins)
        return [math.floor(n * Q(f32(s)) * sp) for n, s, sp in zip(ins, a["_scales"], spans)], 0
    if a.get("keep_aspect_ratio_policy") in POLICIES:
        return policy_sizes(ins, list(a["_sizes"]), a["keep_aspect_ratio_policy"])
    return list(a["_sizes"]), 0


def plan(in_shape: list[int], a: dict) -> list[tuple[int, int, Q, tuple[Q, Q] | None]]:
    """(axis, out length, effective scale, roi) for every resized axis, with concrete sizes."""
    axes, roi = a["_ax"], a.get("_roi")
    ins = [in_shape[x] for x in axes]
    outs, best = out_sizes(in_shape, a)
    if a.get("_scales") is not None:
        scales = [Q(f32(s)) for s in a["_scales"]]
    elif a.get("keep_aspect_ratio_policy") in POLICIES:
        scales = [Q(a["_sizes"][best], ins[best])] * len(axes)
    else:
        scales = [Q(o, n) for o, n in zip(outs, ins)]
    rois = [(Q(s), Q(e)) for s, e in roi] if roi else [None] * len(axes)
    return list(zip(axes, outs, scales, rois))


def fragile(a: dict, n: int, out: int, scale: Q, roi) -> bool:
    """Whether floating point may put some source coordinate on the wrong side of a rounding edge.

    That needs an inexact step (a scale that is no multiple of 1/DEN, or half_pixel_symmetric's
    offset for a fractional in * scale) and an exact coordinate on an edge: a whole or half
    coordinate for nearest's rounding, a whole one for the filters (see REF_WINDOW).
    """
    ctm = a["coordinate_transformation_mode"] or "half_pixel"
    inexact = (scale * DEN).denominator != 1 or ctm == "half_pixel_symmetric" and n * scale != out
    if not inexact:
        return False
    how = a.get("nearest_mode") or "round_prefer_floor"
    half = a["_mode"] == "nearest" and how.startswith("round")
    if not half and not REF_WINDOW and a["_mode"] != "nearest":
        return False
    # a zero coordinate is computed exactly, except through half_pixel_symmetric's offset, where only
    # nearest's ceil can tell (the filters clamp both neighbours of 0 to the edge)
    zero_ok = ctm != "half_pixel_symmetric" or a["_mode"] != "nearest"
    for x in range(out):
        c = source_coord(x, ctm, n, out, scale, roi)
        if (c != 0 or not zero_ok) and ((c - Q(1, 2)) % 1 == 0 if half else c.denominator == 1):
            return True
    return False


@register
class Resize(OpSpec):
    """Nearest resizes any axes; linear and cubic only spatial ones (axes >= 2, rank 3-5), as backends do."""

    op_type = "Resize"
    inputs = (Input("X"),)
    min_rank = 1
    min_opset = 13
    # onnx.reference casts through float64 and NumPy has no bool rounding (finfo(bool) fails)
    limit = {"T1": frozenset(DType) - {DType.bool}}

    def attrs(self, d, ins):
        x = ins[0]
        sch = self.schema(d.opset)
        interp = 3 <= x.rank <= 5 and (x.dtype.is_float or INT_INTERP)
        cubic = (x.rank == 4 or not ORT_CUBIC_4D) and not (REF_CUBIC_F64 and x.dtype == DType.float64)
        modes = ["nearest", "nearest", "linear"] + (["cubic"] if cubic else [])
        mode = d.pick(modes if interp else ["nearest"])
        desc = sch.attributes["coordinate_transformation_mode"].description
        ctm = d.pick([m for m in CTMS if f'"{m}"' in desc])
        a = {"mode": None if mode == "nearest" and d.coin(0.2) else mode, "_mode": mode}
        a["coordinate_transformation_mode"] = None if ctm == "half_pixel" and d.coin(0.5) else ctm
        if mode == "nearest":
            how = d.pick(NEAREST)
            a["nearest_mode"] = None if how == "round_prefer_floor" and d.coin(0.5) else how
        if mode == "cubic":
            a["cubic_coeff_a"] = d.pick([None, -0.5, -0.75, d.uniform(-1.0, -0.25)])
            a["exclude_outside"] = int(d.coin(0.4)) or None
        if mode != "nearest" and "antialias" in sch.attributes and d.coin(0.35):
            a["antialias"] = 1
            a["exclude_outside"] = a.get("exclude_outside") or (int(d.coin(0.3)) or None)
        if ctm == "tf_crop_and_resize":
            # how a fractional value converts to an integer type is unspecified (ORT truncates,
            # onnx.reference rounds), so integer inputs get whole values
            v = d.uniform(-3, 3)
            a["extrapolation_value"] = d.pick([None, 0.0, v if x.dtype.is_float else float(round(v))])
        # the resized axes: any for nearest, spatial ones (2..r-1) for linear and cubic
        can = list(range(x.rank)) if mode == "nearest" else list(range(2, x.rank))
        a["_ax"] = can if d.coin(0.4) else sorted(d.rng.sample(can, d.rng.randint(1, len(can))))
        policies = ["stretch", "not_larger", "not_smaller"] if "keep_aspect_ratio_policy" in sch.attributes else []
        by_sizes = d.coin(0.5)
        pol = d.pick(policies) if by_sizes and policies and d.coin(0.4) else None
        explicit = "axes" in sch.attributes and d.coin(0.4)
        if pol in POLICIES and not explicit:
            # the policy's scale is taken over every named axis, all of them when `axes` is omitted
            if mode == "nearest":
                a["_ax"] = can
            else:
                explicit = True  # linear and cubic must leave N and C alone
        neg = 0.0 if REF_NEG_AXES else 0.3
        a["axes"] = [i - x.rank if d.coin(neg) else i for i in a["_ax"]] if explicit else None
        a["keep_aspect_ratio_policy"] = pol
        if ctm == "tf_crop_and_resize":
            a["_roi"] = [roi_pair(d, unit=not by_sizes and ROI_SPAN_1) for _ in a["_ax"]]
        if by_sizes:
            self.draw_sizes(d, x, a)
        else:
            self.draw_scales(d, x, a)
        return a

    def draw_scales(self, d, x, a):
        budget = max(1.0, d.max_elems / math.prod(x.shape))
        scales = []
        for i, axis in enumerate(a["_ax"]):
            roi = tuple(Q(v) for v in a["_roi"][i]) if a.get("_roi") else None
            ok = [
                j
                for j in range(1, 4 * DEN + 1)
                if j / DEN <= budget and self.scale_ok(a, x.shape[axis], Q(j, DEN), roi)
            ]
            if not ok:
                raise SpecError("no scale suits this axis")
            j = d.pick([DEN] if d.coin(0.15) and DEN in ok else ok)
            scales.append(j / DEN)
            budget = max(1.0, budget / (j / DEN))
        a["_scales"], a["_sizes"] = scales, None

    def scale_ok(self, a, n: int, scale: Q, roi) -> bool:
        """Whether a scale gives a non-empty output that every implementation computes alike."""
        ctm = a["coordinate_transformation_mode"] or "half_pixel"
        width = n * scale * ((roi[1] - roi[0]) if roi else 1)
        out = math.floor(width)
        if out < 1 or (ORT_CROP_SCALE_1 and ctm == "tf_crop_and_resize" and out == n):
            return False
        if REF_WIDTH and ctm in ("align_corners", "tf_crop_and_resize") and width != out:
            return False
        if REF_PT_HALF_PIXEL and ctm == "pytorch_half_pixel" and out == 1:
            return width == 1 and (a["_mode"] == "nearest" or a["_mode"] == "linear" and not a.get("antialias"))
        return not fragile(a, n, out, scale, roi)

    def draw_sizes(self, d, x, a):
        budget = max(1.0, d.max_elems / math.prod(x.shape))
        sizes = []
        for axis in a["_ax"]:
            n = x.shape[axis]
            p = max(1, min(d.max_dim, round(n * d.pick([0.25, 0.5, 0.75, 1, 1.5, 2, 3]) * min(1.0, budget))))
            sizes.append(d.dim("size", prefer=p))
        a["_scales"], a["_sizes"] = None, sizes

    def infer(self, ins, a):
        shape = list(ins[0].shape)
        for axis, out in zip(a["_ax"], out_sizes(shape, a)[0]):
            shape[axis] = out
        return [tuple(shape)]

    def requires(self, ins, a):
        conds = []
        ctm, pol = a["coordinate_transformation_mode"], a.get("keep_aspect_ratio_policy") in POLICIES
        if a["_sizes"] is not None and (a["_mode"] == "nearest" or ctm == "tf_crop_and_resize" or pol):
            # a rounding step follows the ratio sizes / in: make it a multiple of 1/DEN
            conds += [DEN * s % ins[0].shape[i] == 0 for i, s in zip(a["_ax"], a["_sizes"])]
        if ORT_CROP_SCALE_1 and a["coordinate_transformation_mode"] == "tf_crop_and_resize":
            conds += [out != ins[0].shape[i] for i, out in zip(a["_ax"], out_sizes(ins[0].shape, a)[0])]
        if REF_PT_HALF_PIXEL and a["coordinate_transformation_mode"] == "pytorch_half_pixel":
            if a["_mode"] == "cubic" or a.get("antialias"):
                conds += [out >= 2 for out in out_sizes(ins[0].shape, a)[0]]
        if (
            REF_WIDTH
            and pol
            and ctm in ("align_corners", "tf_crop_and_resize", "half_pixel_symmetric", "pytorch_half_pixel")
        ):
            # every candidate scale sizes[k] / in[k] must give whole widths in[i] * scale
            dims = [ins[0].shape[i] for i in a["_ax"]]
            conds += [s * n % m == 0 for s, m in zip(a["_sizes"], dims) for n in dims]
        return conds

    def finalize(self, rng, ins, a):
        for axis, out, scale, roi in plan(list(ins[0].shape), a):
            if fragile(a, ins[0].shape[axis], out, scale, roi):
                raise SpecError("a source coordinate on a rounding edge, computed inexactly")
        return {**a, "_in": list(ins[0].shape)}

    def emit(self, e, a):
        ins, r = a["_in"], len(a["_in"])
        named = a["_ax"] if a["axes"] is not None else list(range(r))
        pos = {x: i for i, x in enumerate(a["_ax"])}
        roi, scales, sizes = "", "", ""
        if a.get("_roi"):
            pairs = [a["_roi"][pos[x]] if x in pos else (0.0, 1.0) for x in named]
            roi = e.const([p[0] for p in pairs] + [p[1] for p in pairs], dtype=np.float32, hint="roi")
        if a["_scales"] is not None:
            scales = e.const(
                [a["_scales"][pos[x]] if x in pos else 1.0 for x in named], dtype=np.float32, hint="scales"
            )
        else:
            sizes = e.const([a["_sizes"][pos[x]] if x in pos else ins[x] for x in named], hint="sizes")
        operands = [e.inputs[0], roi, scales] + ([sizes] if sizes else [])
        e.node("Resize", operands, e.outputs, **self.onnx_attrs(a))

    def torch(self, xs, a):
        x = xs[0]
        ctm = a["coordinate_transformation_mode"] or "half_pixel"
        y = x if a["_mode"] == "nearest" else x.to(torch.float64)
        outside = None
        for axis, n_out, scale, roi in plan(list(x.shape), a):
            n_in = y.shape[axis]
            coords = [source_coord(i, ctm, n_in, n_out, scale, roi) for i in range(n_out)]
            if a["_mode"] == "nearest":
                how = a.get("nearest_mode") or "round_prefer_floor"
                idx = [min(max(nearest_index(c, how), 0), n_in - 1) for c in coords]
                y = torch.index_select(y, axis, torch.tensor(idx, dtype=torch.int64))
            else:
                W = torch.from_numpy(weight_matrix(n_in, coords, a, scale))
                y = torch.movedim(torch.tensordot(y, W, dims=([axis], [1])), -1, axis)
            if roi is not None:
                out = torch.tensor([c < 0 or c > n_in - 1 for c in coords])
                shape = [1] * x.dim()
                shape[axis] = n_out
                out = out.reshape(shape)
                outside = out if outside is None else outside | out
        if outside is not None:
            fill = torch.tensor(f32(a.get("extrapolation_value") or 0.0), dtype=torch.float64).to(y.dtype)
            y = torch.where(outside, fill, y)
        return [to_dtype(y, x.dtype)]


def to_dtype(y: torch.Tensor, dt: torch.dtype) -> torch.Tensor:
    """Back to the input type: integers round half to even and saturate, as ONNX's reference does."""
    if y.dtype == dt:
        return y
    if dt.is_floating_point:
        return y.to(dt)
    info = torch.iinfo(dt)
    return torch.clamp(torch.round(y), info.min, info.max).to(dt)


def roi_pair(d, *, unit: bool = False) -> tuple[float, float]:
    """A crop window in multiples of 1/DEN, sometimes reaching outside [0, 1] (extrapolation)."""
    if d.coin(0.2):
        return (0.0, 1.0)
    lo = d.randint(-2, DEN - 1) if not unit else d.randint(-2, 2)
    hi = lo + DEN if unit else d.randint(lo + 1, DEN + 2)
    return (lo / DEN, hi / DEN)
