"""Normalizations: BatchNormalization (inference), InstanceNormalization, LayerNormalization,
GroupNormalization and LRN.

Per-channel parameters are new weight leaves whose symbolic sizes are tied to the channel dim.
The torch implementations compute half types in float32 (as ORT does) and cast back.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from fuzzer.spec.base import Domain, Input, OpSpec
from fuzzer.spec.draw import Draw
from fuzzer.spec.dtypes import DType
from fuzzer.spec.ops.nn_conv import compute_dtype
from fuzzer.spec.registry import register
from fuzzer.spec.sym import prod

EPSILONS = (None, 2.0**-7, 2.0**-10, 2.0**-17, 0.5)  # None: the default 1e-5; the rest exact in float32


def draw_epsilon(d: Draw) -> float | None:
    return d.pick(EPSILONS)


def epsilon(a) -> float:
    """The epsilon the ONNX attribute carries (a float32)."""
    return float(np.float32(1e-5 if a.get("epsilon") is None else a["epsilon"]))


def normalize(x: torch.Tensor, dims: list[int], eps: float) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) over `dims`, with the biased variance."""
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=False, keepdim=True)
    return (x - mean) / (var + eps).sqrt()


class _PerChannel(OpSpec):
    """X of shape (N, C, ...) with 1-D per-channel weight leaves of size C."""

    backward = True
    ranks: tuple[int, ...] = (3, 4, 5)

    def backward_ranks(self, out_rank, n_inputs, d):
        return [out_rank] + [1] * (n_inputs - 1) if out_rank in self.ranks else None

    def leaf_rank(self, k, ins, d):
        return 1

    def requires(self, ins, a):
        return [t.shape[0] == ins[0].shape[1] for t in ins[1:]]


@register
class BatchNormalization(_PerChannel):
    """Inference mode: normalize with the given running mean and variance; one output."""

    op_type = "BatchNormalization"
    ranks = (2, 3, 4, 5)
    # From opset 15 the parameters may have other float types than X (T1, T2). Bound to X's type
    # here: a float64 X with float32 statistics is only float32-accurate, which the float64
    # comparison tolerance cannot absorb, and the generator has no hook to choose leaf dtypes.
    inputs = (
        Input("X", ranks=ranks),
        Input("scale", role="weight", tvar="T"),
        Input("B", role="weight", tvar="T"),
        Input("input_mean", role="weight", tvar="T"),
        Input("input_var", role="weight", domain=Domain(0.05, 3.0), tvar="T"),
    )

    def attrs(self, d, ins):
        a = {"epsilon": draw_epsilon(d)}
        if d.opset >= 14 and d.coin(0.2):
            # unused in inference but present in exported models; before opset 14 onnx.reference
            # takes a momentum as a request for batch statistics
            a["momentum"] = d.uniform(0.0, 1.0)
        if d.opset >= 14 and d.coin(0.2):
            a["training_mode"] = 0
        return a

    def torch(self, xs, a):
        x = xs[0]
        cdt = compute_dtype(x)
        shape = (1, -1, *[1] * (x.dim() - 2))
        scale, b, mean, var = (t.to(cdt).reshape(shape) for t in xs[1:])
        y = scale * (x.to(cdt) - mean) / (var + epsilon(a)).sqrt() + b
        return [y.to(x.dtype)]


@register
class InstanceNormalization(_PerChannel):
    op_type = "InstanceNormalization"
    # ORT rejects rank 2 (no spatial dims), valid ONNX but a degenerate normalization
    inputs = (Input("input", ranks=(3, 4, 5)), Input("scale", role="weight"), Input("B", role="weight"))

    def attrs(self, d, ins):
        return {"epsilon": draw_epsilon(d)}

    def torch(self, xs, a):
        x = xs[0]
        cdt = compute_dtype(x)
        shape = (1, -1, *[1] * (x.dim() - 2))
        y = normalize(x.to(cdt), list(range(2, x.dim())), epsilon(a))  # F.instance_norm refuses one element
        return [(y * xs[1].to(cdt).reshape(shape) + xs[2].to(cdt).reshape(shape)).to(x.dtype)]


# --- LayerNormalization --------------------------------------------------------------------------
class _LayerNorm(OpSpec):
    """Normalize over the dims from `axis` on; Scale (and B) have exactly those dims."""

    op_type = "LayerNormalization"
    min_opset = 17
    min_rank = 1
    backward = True

    def leaf_rank(self, k, ins, d):
        if k == 1:
            r = ins[0].rank
            return 1 if d.coin(0.5) else d.randint(1, r)  # normalizing the last dim is the common case
        return ins[1].rank

    def backward_ranks(self, out_rank, n_inputs, d):
        if out_rank < 1:
            return None
        s = 1 if d.coin(0.5) else d.randint(1, out_rank)
        return [out_rank] + [s] * (n_inputs - 1)

    def attrs(self, d, ins):
        r, s = ins[0].rank, ins[1].rank
        axis = r - s
        a = {"axis": axis - r if d.coin(0.5) else axis, "epsilon": draw_epsilon(d), "_axis": axis}
        if axis == r - 1 and d.coin(0.3):
            a["axis"] = None  # the default, -1
        if d.coin(0.2):
            # float32 statistics (stash_type 1) is the default; onnx.reference implements no other
            a["stash_type"] = 1
        return a

    def infer(self, ins, a):
        return [ins[0].shape]

    def requires(self, ins, a):
        norm = ins[0].shape[a["_axis"] :]
        conds = [x == y for t in ins[1:] for x, y in zip(t.shape, norm)]
        if ins[0].dtype == DType.bfloat16:
            # onnx.reference accumulates bfloat16 statistics in bfloat16 (the ONNX function uses
            # float32), off by more than the test tolerance past ~1000 elements (see the report)
            conds.append(prod(norm) <= 512)
        return conds

    def torch(self, xs, a):
        x = xs[0]
        # half types in float32 as stash_type asks; float64 stays float64 like ORT and onnx.reference
        cdt = compute_dtype(x)
        norm = tuple(x.shape[a["_axis"] :])
        b = xs[2].to(cdt) if len(xs) > 2 else None
        y = F.layer_norm(x.to(cdt), norm, xs[1].to(cdt), b, eps=epsilon(a))
        return [y.to(x.dtype)]


@register
class LayerNormalization(_LayerNorm):
    key = "LayerNormalization_noB"  # not the op_type: selecting an op_type selects all its variants
    inputs = (Input("X"), Input("Scale", role="weight"))


@register
class LayerNormalizationBias(_LayerNorm):
    key = "LayerNormalization_B"
    inputs = (Input("X"), Input("Scale", role="weight"), Input("B", role="weight"))


# --- GroupNormalization --------------------------------------------------------------------------
@register
class GroupNormalization(OpSpec):
    """Normalize over groups of channels, then scale and shift per channel.

    Opset 18's form (scale and bias per group) is deprecated and fails the ONNX checker, so only
    opset 21 on is generated.
    """

    op_type = "GroupNormalization"
    min_opset = 21
    inputs = (Input("X", ranks=(2, 3, 4, 5)), Input("scale", role="weight"), Input("bias", role="weight"))
    backward = True

    def leaf_rank(self, k, ins, d):
        return 1

    def backward_ranks(self, out_rank, n_inputs, d):
        return [out_rank, 1, 1] if 2 <= out_rank <= 5 else None

    def attrs(self, d, ins):
        c = ins[0].shape[1]
        if isinstance(c, int):
            groups = 1 if d.coin(0.2) else c if d.coin(0.2) else d.pick([g for g in range(1, c + 1) if c % g == 0])
        else:
            groups = d.pick([1, 2, 4])  # checked against the symbolic channels
        a = {"num_groups": groups, "epsilon": draw_epsilon(d)}
        if ins[0].dtype == DType.float64:
            # the default float32 statistics make a float64 result only float32-accurate (ORT and
            # onnx.reference differ by ~1e-6 there); ask for float64 statistics instead
            a["stash_type"] = DType.float64.onnx
        elif d.coin(0.2):
            a["stash_type"] = DType.float32.onnx  # the default
        return a

    def infer(self, ins, a):
        return [ins[0].shape]

    def requires(self, ins, a):
        c, g = ins[0].shape[1], a["num_groups"]
        return [c % g == 0, ins[1].shape[0] == c, ins[2].shape[0] == c]

    def torch(self, xs, a):
        x, scale, bias = xs
        cdt, g = compute_dtype(x), a["num_groups"]
        n, c = x.shape[0], x.shape[1]
        # as the ONNX function: statistics in stash_type (default float32, even for a float64
        # input) with var = E[x^2] - E[x]^2, then the affine step in the input type
        sdt = torch.float64 if a.get("stash_type") == DType.float64.onnx else torch.float32
        xg = x.to(sdt).reshape(n, g, -1)
        mean = xg.mean(-1, keepdim=True)
        var = (xg * xg).mean(-1, keepdim=True) - mean * mean
        y = ((xg - mean) / (var + epsilon(a)).sqrt()).reshape(n, c, -1).to(x.dtype).to(cdt)
        y = y * scale.to(cdt).reshape(1, c, 1) + bias.to(cdt).reshape(1, c, 1)
        return [y.reshape(x.shape).to(x.dtype)]


# --- LRN -----------------------------------------------------------------------------------------
@register
class LRN(OpSpec):
    """Local response normalization across channels (window floor((size-1)/2) before, ceil after)."""

    op_type = "LRN"
    # ORT and onnx.reference run only 4-D inputs and ORT only odd sizes; ONNX allows rank >= 3 and
    # any size (a stopgap; see the report)
    inputs = (Input("X", ranks=(4,)),)
    backward = True

    def backward_ranks(self, out_rank, n_inputs, d):
        return [out_rank] if out_rank == 4 else None

    def attrs(self, d, ins):
        return {
            "size": d.pick([1, 3, 3, 5, 7]),
            "alpha": d.pick([None, 1e-4, 0.01, 0.5]),
            "beta": d.pick([None, 0.75, 0.5, 1.0]),
            "bias": d.pick([None, 1.0, 2.0, 0.5]),
        }

    def torch(self, xs, a):
        x = xs[0]
        size = a["size"]
        alpha, beta, bias = (np.float32(a.get(k) or v) for k, v in (("alpha", 1e-4), ("beta", 0.75), ("bias", 1.0)))
        coef = float(alpha / np.float32(size))  # in the attributes' float32, as onnx.reference does
        xc = x.to(compute_dtype(x))
        # torch's local_response_norm centres even windows the other way, so sum the squares here
        sq = F.pad(xc.square().movedim(1, -1), ((size - 1) // 2, size // 2))
        total = sq.unfold(-1, size, 1).sum(-1).movedim(-1, 1)
        return [(xc / (float(bias) + coef * total).pow(float(beta))).to(x.dtype)]
