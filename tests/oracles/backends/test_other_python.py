"""A backend from another Python environment: ONNX Runtime 1.20 with numpy 1.26, side by side with ours.

Slow: the first run creates the environment under the user's cache folder (and skips if pip cannot
fetch the packages); later runs reuse it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from oracles.backends.catalog import parse_backend
from oracles.backends.process import BackendProcess
from tests.oracles.backends.test_backends import SIMPLE, assert_matches_reference, case
from tests.oracles.backends.test_boundary import bf16_model

PACKAGES = ["onnxruntime==1.20.*", "numpy==1.26.*", "onnx==1.17.*"]


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tensorsmith"


@pytest.fixture(scope="module")
def ort120() -> str:
    venv = cache_dir() / "venv-ort120"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PACKAGES],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if pip.returncode != 0:
            pytest.skip(f"pip could not install {PACKAGES}: {pip.stderr.strip().splitlines()[-1:]}")
        (venv / ".installed").touch()
    return str(python)


@pytest.mark.slow
def test_onnxruntime_120(ort120: str) -> None:
    numpy_version = subprocess.run(
        [ort120, "-c", "import numpy; print(numpy.__version__)"], capture_output=True, text=True, check=True
    ).stdout
    assert numpy_version.startswith("1.26")
    with BackendProcess(parse_backend(f"onnxruntime@{ort120}"), timeout_s=60.0) as bp:
        assert bp.version.startswith("1.20")
        for seed in range(3):
            assert_matches_reference(bp, *case(SIMPLE, seed))
        # no ml_dtypes there: bfloat16 still crosses the wire as bfloat16
        feeds = {"x": np.array([1.5, 2.25, -3.0], ml_dtypes.bfloat16), "y": np.asarray(0.1, ml_dtypes.bfloat16)}
        out = bp.run(bf16_model().SerializeToString(), feeds)
        assert out.ok, out.failure
        assert out.outputs["x"].dtype == ml_dtypes.bfloat16
        np.testing.assert_array_equal(out.outputs["x"], feeds["x"])
