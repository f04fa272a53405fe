"""The text of a finding's self-contained `repro.py` (needs only numpy, onnx and the backend)."""

from __future__ import annotations

HEADER = '''#!/usr/bin/env python3
"""Reproduce a tensorsmith finding: {title}

Backend: {backend} {version}. Needs only numpy, onnx and the backend's package.
Prints what differs; exits 1 while the bug is present, 0 once it is gone.
"""
import json
import os
import sys

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
'''

BODY = '''

def load_arrays(name):
    """Arrays saved by tensorsmith; bfloat16 ones are stored as float32 (exact) and listed in meta."""
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return {}
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def close(got, want, dtype):
    rtol, atol = {"float16": (1e-2, 1e-3), "bfloat16": (4e-2, 1e-2), "float32": (1e-4, 1e-5),
                  "float64": (1e-7, 1e-9)}.get(dtype, (0, 0))
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False, "shape %s, expected %s" % (got.shape, want.shape)
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return False, "NaN positions differ"
    fin = np.isfinite(want) & np.isfinite(got)
    scale = max(1.0, float(np.max(np.abs(want[fin]), initial=0.0)))
    err = np.abs(got - want)[fin]
    bound = atol * scale + rtol * np.abs(want[fin]) + META.get("noise", {}).get("abs", 0.0)
    if err.size and np.any(err > bound):
        i = int(np.argmax(err - bound))
        return False, "max abs error %.6g (got %.6g, expected %.6g)" % (float(err.max()), got[fin][i], want[fin][i])
    return True, ""


META = json.load(open(os.path.join(HERE, "meta.json")))


def main():
    feeds = load_arrays("inputs.npz")
    for name in META.get("bfloat16_inputs", []):
        import ml_dtypes
        feeds[name] = feeds[name].astype(ml_dtypes.bfloat16)
    expected = load_arrays("expected.npz")
    kind = META["kind"]
    try:
        outs = run_model(os.path.join(HERE, "model.onnx"), feeds)
    except Exception as e:  # the finding may be this very exception
        print("backend raised %s: %s" % (type(e).__name__, e))
        return 1 if kind == "exception" else 2
    if kind == "exception":
        print("the backend no longer raises: the bug is gone")
        return 0
    bad = 0
    for name, want in expected.items():
        dtype = META["outputs"][name]["dtype"]
        if name not in outs:
            print("%s: missing output" % name)
            bad += 1
            continue
        ok, why = close(outs[name], want, dtype)
        if not ok:
            print("%s: %s" % (name, why))
            bad += 1
    print("%d of %d outputs differ" % (bad, len(expected)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
'''


EMBED = """
# The backend modules tensorsmith ran, embedded verbatim so this file stands alone.
import types

SOURCES = @SOURCES@


def _install(name, src):
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    exec(compile(src, name + ".py", "exec"), mod.__dict__)
    return mod


for _name, _src in SOURCES.items():
    BACKEND = _install(_name, _src)
OPTIONS = @OPTIONS@


def run_model(model_path, feeds):
    with open(model_path, "rb") as f:
        handle = BACKEND.prepare(f.read(), OPTIONS, [])
    return BACKEND.run(handle, feeds)
"""


def render(title: str, backend: str, version: str, sources: dict[str, str], options: dict) -> str:
    """repro.py for one finding: `sources` maps module name to source, the backend module last."""
    safe = title.replace('"""', "'''").replace("\\", "/")
    embed = EMBED.replace("@SOURCES@", repr(sources)).replace("@OPTIONS@", repr(options))
    return HEADER.format(title=safe, backend=backend, version=version) + embed + BODY
