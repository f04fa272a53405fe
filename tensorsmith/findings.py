"""A finding on disk: a folder with the model, inputs, outputs, meta.json and a standalone repro.py.

Folders are written under a temporary name and renamed into place, so a finding is either whole or
absent; its name is derived from (test seed, backend, kind), so writing it again after a resume is a
no-op rather than a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np

from oracles import repro_template
from oracles.backends.catalog import BackendSpec

BACKENDS_DIR = Path(repro_template.__file__).resolve().parent / "backends"


def finding_id(seed: int, backend: str, kind: str, stage: str) -> str:
    digest = hashlib.sha1(f"{seed}|{backend}|{kind}|{stage}".encode()).hexdigest()[:10]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", backend.split("@")[0])
    return f"seed{seed}-{safe}-{kind}-{digest}"


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> list[str]:
    """npz of the arrays; bfloat16 ones (no NumPy type) are stored as float32, exactly. Returns their names."""
    plain, bf16 = {}, []
    for k, v in arrays.items():
        v = np.asarray(v)
        if v.dtype.name == "bfloat16":
            bf16.append(k)
            v = v.astype(np.float32)
        plain[k] = v
    with open(path, "wb") as f:
        np.savez(f, **plain)
    return bf16


def backend_sources(module: str) -> dict[str, str]:
    """The backend module's source with the sibling modules it imports, dependencies first."""
    src = (BACKENDS_DIR / f"{module}.py").read_text()
    deps = re.findall(r"^from (\w+) import|^import (\w+)$", src, re.M)
    out: dict[str, str] = {}
    for a, b in deps:
        name = a or b
        if (BACKENDS_DIR / f"{name}.py").exists() and name not in out:
            out.update(backend_sources(name))
    out[module] = src
    return out


def write_finding(
    root: Path, fid: str, *, model: bytes, feeds, expected, actual, meta: dict, spec: BackendSpec, graph=None
) -> Path:
    """Write the finding folder atomically; return its path (existing folders are left as they are)."""
    final = root / fid
    if final.exists():
        return final
    tmp = root / f".{fid}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "model.onnx").write_bytes(model)
    if graph is not None:  # what the reducer edits (an ONNX model cannot be turned back into specs' nodes)
        (tmp / "graph.pkl").write_bytes(pickle.dumps(graph))
    meta = dict(meta, bfloat16_inputs=save_arrays(tmp / "inputs.npz", feeds))
    if expected:
        save_arrays(tmp / "expected.npz", expected)
    if actual:
        save_arrays(tmp / "actual.npz", actual)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
    if not spec.kind.needs_graph:
        sources = backend_sources(spec.module)
        text = repro_template.render(meta["title"], spec.name, meta["backend_version"], sources, spec.kind.options)
        (tmp / "repro.py").write_text(text)
        os.chmod(tmp / "repro.py", 0o755)
    os.replace(tmp, final)
    return final
