"""Compare a backend's outputs with the references and say whether, and how, it is wrong.

The float32 reference is PyTorch eager on the specs; the float64 reference computes every float
tensor in float64. Shapes, dtypes, integers and bools must match exactly. A float output is wrong
only if it is outside a dtype-aware tolerance of the float64 reference AND clearly further from it
than the float32 reference is (the noise any correct float32 computation has). NaN and Inf positions
must agree with the float32 reference. A backend that documents computing floats in at most float32
(`widest` float32: OpenVINO's CPU plugin) has its float64 outputs judged at float32 tolerance.

The tolerance is that of the coarsest float dtype computed on the way to the output (`precision`,
see Graph.path_floats), not of the output's dtype alone: a float16 Mish cast to float32 carries
float16 rounding, which a float32 tolerance would call a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OK = "ok"
WRONG_RESULT = "wrong_result"
WRONG_SHAPE = "wrong_shape"
WRONG_DTYPE = "wrong_dtype"
NAN_MISMATCH = "nan_mismatch"
MISSING_OUTPUT = "missing_output"

# (rtol, atol) per dtype name; atol is scaled by the output's magnitude
TOLERANCE = {
    "float16": (1e-2, 1e-3),
    "bfloat16": (4e-2, 1e-2),
    "float32": (1e-4, 1e-5),
    "float64": (1e-7, 1e-9),
}
# float dtypes from the finest to the coarsest tolerance
COARSER = ("float64", "float32", "float16", "bfloat16")
# how many times further from float64 than the float32 reference a backend must be to be wrong
NOISE_FACTOR = 10.0


@dataclass
class Mismatch:
    """How one backend's outputs differ from the references (kind OK when they do not)."""

    kind: str
    output: str = ""
    detail: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.kind == OK


def _dtype_name(a: np.ndarray) -> str:
    return "bfloat16" if a.dtype.name == "bfloat16" else a.dtype.name


def compare(
    outputs: dict[str, np.ndarray],
    expected: dict[str, tuple[str, tuple[int, ...]]],
    ref32: dict[str, np.ndarray],
    ref64: dict[str, np.ndarray],
    *,
    widest: str = "float64",
    precision: dict[str, set[str]] | None = None,
) -> Mismatch:
    """Judge `outputs` (name -> array) against the expected types and both references.

    `precision` maps an output to the float dtypes computed on its way (see module docstring).
    """
    for name, (dtype, shape) in expected.items():
        if name not in outputs:
            return Mismatch(MISSING_OUTPUT, name)
        got = np.asarray(outputs[name])
        if tuple(got.shape) != tuple(shape):
            return Mismatch(WRONG_SHAPE, name, {"expected": list(shape), "got": list(got.shape)})
        if _dtype_name(got) != dtype:
            return Mismatch(WRONG_DTYPE, name, {"expected": dtype, "got": _dtype_name(got)})
    for name, (dtype, _) in expected.items():
        tol = tolerance_dtype(dtype, (precision or {}).get(name, set()), widest)
        m = _compare_one(name, dtype, np.asarray(outputs[name]), ref32[name], ref64.get(name), tol)
        if not m.ok:
            return m
    return Mismatch(OK)


def tolerance_dtype(dtype: str, path: set[str], widest: str = "float64") -> str:
    """The dtype whose tolerance judges an output of `dtype`: the coarsest float computed on its way
    (`path`), and no finer than `widest` (the backend's widest float). Non-float outputs: `dtype`."""
    if dtype not in TOLERANCE:
        return dtype
    tol = max({dtype} | (path & set(COARSER)), key=COARSER.index)
    return widest if tol == "float64" and widest in TOLERANCE else tol


def _compare_one(name: str, dtype: str, got: np.ndarray, r32: np.ndarray, r64: np.ndarray | None, tol: str) -> Mismatch:
    if dtype not in TOLERANCE:
        if not np.array_equal(got, r32):
            idx = np.argwhere(got != r32)
            return Mismatch(WRONG_RESULT, name, {"mismatched": int(idx.shape[0]), "first_index": idx[0].tolist()})
        return Mismatch(OK)
    g, a = got.astype(np.float64), r32.astype(np.float64)
    same_nan = np.array_equal(np.isnan(g), np.isnan(a))
    same_inf = np.array_equal(np.isinf(g) * np.sign(g), np.isinf(a) * np.sign(a))
    if not (same_nan and same_inf):
        return Mismatch(NAN_MISMATCH, name, {"nan": int(np.isnan(g).sum()), "nan_expected": int(np.isnan(a).sum())})
    ref = r64.astype(np.float64) if r64 is not None else a
    finite = np.isfinite(ref) & np.isfinite(g)
    if not finite.any():
        return Mismatch(OK)
    rtol, atol = TOLERANCE[tol]
    scale = max(1.0, float(np.max(np.abs(ref[finite]))))
    err = np.abs(g - ref)[finite]
    bound = atol * scale + rtol * np.abs(ref[finite])
    if np.all(err <= bound):
        return Mismatch(OK)
    err32 = float(np.max(np.abs(a - ref)[finite]))
    worst = float(np.max(err))
    if worst <= NOISE_FACTOR * max(err32, float(np.max(bound)) * 0.1):
        return Mismatch(OK)  # no worse than float32 noise: not a bug
    i = int(np.argmax(err - bound))
    return Mismatch(
        WRONG_RESULT,
        name,
        {
            "max_abs_err": worst,
            "ref32_err": err32,
            "mismatched": int(np.sum(err > bound)),
            "size": int(err.size),
            "got": float(g[finite][i]),
            "expected": float(ref[finite][i]),
        },
    )
