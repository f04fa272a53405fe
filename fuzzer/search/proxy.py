"""Proxy gradients: the real values of flat or stepped ops, with a straight-through gradient.

Relu, Floor, Clip and friends have zero gradient on whole half-lines, so a loss downstream (say a
Log that needs a positive input) could never move the values upstream of them. The proxy computes
the real output and subtracts `slope * (x.detach() - x)` (exactly +0, so even a -0 output keeps its
sign), so the gradient is that of `slope * x`: the identity for most, alpha for HardSigmoid. The
saturating Erf, Tanh and Sigmoid get the identity too.
The values are bit-identical to the real implementation's, which is why the search can judge its
own forward pass with the check's margins; the final check still runs the real implementations.

Hardmax gets the gradient of a softmax along its axis (see `hardmax`); ReduceMin, ReduceMax,
GlobalMaxPool, MaxPool windows and the elementwise Min and Max one to every element near the extreme
(see `extreme`, `max_pool`, `elementwise_extreme`).

Comparisons and casts to integers have bool or integer outputs, which cannot carry a gradient in
torch at all; casts between float types differentiate as they are. Values behind a bool or integer
tensor are moved by redrawing instead (see `blame`).

Rejected: smooth surrogates (softplus for Relu, a sigmoid for Floor) in the forward pass. They
shift the values, so the search would optimise a different graph than the one that is checked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from fuzzer.spec.base import OpSpec
from fuzzer.spec.ops.nn_pool import windows


def _alpha(a: dict, default: float) -> float:
    v = a.get("alpha")
    return float(np.float32(default if v is None else v))


def _constant_clip(a: dict) -> bool:
    lo, hi = a.get("_min"), a.get("_max")
    return lo is not None and hi is not None and lo >= hi


# op type -> the slope of the surrogate, from the attrs (None: no proxy for these attrs). The slope
# keeps the sign of the real derivative where it has one: a straight identity through LeakyRelu with
# alpha = -0.12 would point the search the wrong way on the negative side.
SLOPES: dict[str, Callable[[dict], float | None]] = {
    "Relu": lambda a: 1.0,
    "ThresholdedRelu": lambda a: 1.0,
    # a Clip with min >= max is a constant: a slope would hand the gradient to values that cannot
    # change it, and blame by gradient redrew them rather than the real culprits (30 nodes seed 533)
    "Clip": lambda a: None if _constant_clip(a) else 1.0,
    "Shrink": lambda a: 1.0,
    "HardSwish": lambda a: 1.0,
    "Floor": lambda a: 1.0,
    "Ceil": lambda a: 1.0,
    "Round": lambda a: 1.0,
    "Sign": lambda a: 1.0,
    "LeakyRelu": lambda a: 1.0 if _alpha(a, 0.01) == 0 else None,  # else its real gradient is fine
    "Elu": lambda a: 1.0 if _alpha(a, 1.0) == 0 else None,  # Relu when alpha = 0
    # torch's gradient of |x| at exactly 0 is 0, and exact zeros are common (Relu, Elu outputs):
    # Log(Abs(Relu(x))) at Relu = 0 must still be pushed off 0 (see KINKS)
    "Abs": lambda a: 1.0,
    # saturate to exactly +-1 in half precision (erf(-4) is -1 in float16), where the real gradient
    # underflows to 0; the optimiser (Rprop) goes by gradient signs, which the identity gets right
    "Erf": lambda a: 1.0,
    "Tanh": lambda a: 1.0,
    "Sigmoid": lambda a: 1.0,
    "HardSigmoid": lambda a: _alpha(a, 0.2) or None,
}


# ops whose real gradient is zero everywhere: the surrogate's is all there is
STEPPED = frozenset({"Floor", "Ceil", "Round", "Sign"})
# For the others the real gradient flows, and the surrogate adds only this share of its slope (what
# moves values on the flat parts). Where x also reaches the loss by another path, the real gradient
# must win: in Sub(HardSigmoid(x), x) with HardSigmoid saturated at 0 the real slope is -1, and a
# full-slope surrogate (+1.04 for alpha 1.04) turned it into +0.04 and drove x the wrong way. Rprop
# goes by signs, so a small share moves a value as fast as a full one where it is the only path.
# Rejected: a smaller share (0.01), with which a hazard behind a flat op (Log(Relu(x)), weighted
# HAZARD_WEIGHT) no longer outpulls a knife edge on x itself.
FLAT_SHARE = 0.5
# ops with a real gradient everywhere but at a kink: the surrogate is added at the kink only
KINKS = frozenset({"Abs"})


def with_slope(y: torch.Tensor, x: torch.Tensor, slope: float) -> torch.Tensor:
    """y bit for bit, with the gradient of slope * x (none where x is not finite, so no NaN leaks)."""
    d = (x.detach() - x) * slope  # +0 in value, gradient -slope
    return y - torch.where(torch.isfinite(x), d, torch.zeros_like(d))


def straight_through(spec: OpSpec, xs: list[torch.Tensor], attrs: dict, slope: float) -> list[torch.Tensor]:
    """The real outputs; with respect to input 0 the surrogate's gradient (stepped ops), or the real
    one plus FLAT_SHARE of the surrogate's (see FLAT_SHARE)."""
    x = xs[0]
    if spec.op_type not in STEPPED and x.requires_grad:
        (y,) = spec.torch(xs, attrs)
        if y.requires_grad and y.dtype == x.dtype and y.shape == x.shape:
            if spec.op_type in KINKS:
                return [with_slope(y, x, torch.where(x.detach() == 0, slope, 0.0).to(x.dtype))]
            return [with_slope(y, x, slope * FLAT_SHARE)]
    (y,) = spec.torch([x.detach()] + xs[1:], attrs)
    if not (x.requires_grad and y.dtype == x.dtype and y.shape == x.shape):
        return [y]
    return [with_slope(y, x, slope)]


def hardmax(spec: OpSpec, xs: list[torch.Tensor], attrs: dict) -> list[torch.Tensor]:
    """Hardmax's real one-hot output, with the gradient of a softmax along the same axis.

    The one-hot has no gradient, so Acosh(CumSum(Hardmax(x))), which needs the maximum at the
    last index, could only redraw x at random. The softmax's inputs are scaled to a spread of 4 per
    slice, so no element's share underflows to an exact 0 (Rprop needs only the signs). Rejected:
    a fixed temperature, with which a slice of spread 1000 had no gradient but at its maximum.
    """
    x = xs[0]
    (y,) = spec.torch([x.detach()], attrs)
    if not (x.requires_grad and x.dim()):
        return [y]
    dim = spec.dim(x, attrs)
    xd = x.double()
    lo, hi = xd.detach().amin(dim, keepdim=True), xd.detach().amax(dim, keepdim=True)
    s = torch.softmax(4 * (xd - lo) / (hi - lo).clamp(min=1e-12), dim)
    s = torch.where(torch.isfinite(s), s, torch.zeros_like(s))
    return [y - (s.detach() - s).to(y.dtype)]


# ReduceMin and ReduceMax pass their gradient on to the elements within this share of the range from
# the extreme (see `extreme`)
NEAR_EXTREME = 0.25


def extreme(spec: OpSpec, xs: list[torch.Tensor], attrs: dict) -> list[torch.Tensor]:
    """ReduceMin's, ReduceMax's or GlobalMaxPool's real output, with a gradient of 1 to every element
    near the extreme.

    The real gradient reaches the extreme element alone, so ReduceLogSum(ReduceMin(Erf(x))) over
    549 elements that all had to rise above 0 moved one element a step (and the next step another):
    a budget of 50 steps fixed 50 of them. Near: within NEAR_EXTREME of the reduced range.
    """
    x = xs[0]
    if not (x.requires_grad and x.dim() and attrs.get("_mode") != "noop"):
        return spec.torch(xs, attrs)
    (y,) = spec.torch([x.detach()], attrs)
    if spec.op_type == "GlobalMaxPool":  # a ReduceMax over the spatial axes
        axes, keep = list(range(2, x.dim())), True
    else:
        axes, keep = sorted(spec._reduced(x.dim(), attrs)), bool(attrs["keepdims"])
    xd = x.double()
    lo, hi = xd.detach().amin(axes, keepdim=True), xd.detach().amax(axes, keepdim=True)
    if spec.op_type == "ReduceMin":
        near = xd.detach() <= lo + NEAR_EXTREME * (hi - lo)
    else:
        near = xd.detach() >= hi - NEAR_EXTREME * (hi - lo)
    sur = torch.where(near & torch.isfinite(xd), xd, torch.zeros_like(xd)).sum(axes, keepdim=keep)
    d = torch.where(torch.isfinite(sur), sur.detach() - sur, torch.zeros_like(sur))
    return [y - d.to(y.dtype)]


def _near_sum(w: torch.Tensor, dim: int, *, largest: bool, keepdim: bool = False) -> torch.Tensor:
    """The sum along `dim` of the finite elements of w within NEAR_EXTREME of the range from the
    maximum (`largest`) or minimum: the surrogate whose gradient `extreme` and friends pass on."""
    wd = w.detach()
    finite = torch.isfinite(wd)
    hi = torch.where(finite, wd, -torch.inf).amax(dim, keepdim=True)
    lo = torch.where(finite, wd, torch.inf).amin(dim, keepdim=True)
    near = wd >= hi - NEAR_EXTREME * (hi - lo) if largest else wd <= lo + NEAR_EXTREME * (hi - lo)
    return torch.where(near & finite, w, torch.zeros_like(w)).sum(dim, keepdim=keepdim)


def _with_surrogate(y: torch.Tensor, sur: torch.Tensor) -> torch.Tensor:
    """y bit for bit, with the gradient of `sur` (none where sur is not finite)."""
    d = torch.where(torch.isfinite(sur), sur.detach() - sur, torch.zeros_like(sur))
    return y - d.to(y.dtype)


def max_pool(spec: OpSpec, xs: list[torch.Tensor], attrs: dict) -> list[torch.Tensor]:
    """MaxPool's real output, with a gradient of 1 to every element of a window near its maximum
    (see `extreme`): Log(Neg(MaxPool(x))) needs every element of a window negative, and the real
    gradient moved one of them per step."""
    x = xs[0]
    (y,) = spec.torch([x.detach()], attrs)
    if not (x.requires_grad and x.dtype.is_floating_point):
        return [y]
    # the spec's own windows, so the taps line up with the real output
    return [_with_surrogate(y, _near_sum(windows(x.double(), attrs, float("-inf")), -1, largest=True))]


def elementwise_extreme(spec: OpSpec, xs: list[torch.Tensor], attrs: dict) -> list[torch.Tensor]:
    """Min's or Max's real output, with a gradient of 1 to every operand near the extreme of its
    element (within NEAR_EXTREME of its magnitude, at least 1): the real one reaches the extreme
    operand alone, so Acosh(Neg(Max(a, b))) moved b only once a had passed it."""
    (y,) = spec.torch(xs, attrs)
    if len(xs) < 2 or not any(x.requires_grad for x in xs) or not y.dtype.is_floating_point:
        return [y]
    w = torch.stack(torch.broadcast_tensors(*[x.double() for x in xs]))
    wd, top = w.detach(), y.detach().double()
    # a few operands have no range to speak of: near is within NEAR_EXTREME of the extreme's magnitude
    near = (wd - top).abs() <= NEAR_EXTREME * top.abs().clamp(min=1.0)
    sur = torch.where(near & torch.isfinite(wd), w, torch.zeros_like(w)).sum(0)
    return [_with_surrogate(y.detach(), sur)]


# op type -> a runner with a surrogate gradient for ops that are not elementwise
SURROGATES = {
    "Hardmax": hardmax,
    "ReduceMin": extreme,
    "ReduceMax": extreme,
    "GlobalMaxPool": extreme,
    "MaxPool": max_pool,
    "Min": elementwise_extreme,
    "Max": elementwise_extreme,
}


def runner(spec: OpSpec, attrs: dict, *, proxy: bool) -> Callable[[list[torch.Tensor], dict], list[torch.Tensor]]:
    """How the search runs an op: through its proxy if it has one (and proxies are on), else for real."""
    if proxy and spec.op_type in SURROGATES:
        fn = SURROGATES[spec.op_type]
        return lambda xs, a: fn(spec, xs, a)
    slope = SLOPES[spec.op_type](attrs) if proxy and spec.op_type in SLOPES else None
    if slope is not None:
        return lambda xs, a: straight_through(spec, xs, a, slope)
    return spec.torch
