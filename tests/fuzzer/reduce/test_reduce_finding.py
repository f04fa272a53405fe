"""tensorsmith.reduction end to end: a real campaign finding (ONNX Runtime with an injected wrong Relu) reduced.

(The wiring lives in tensorsmith/, the reducer in fuzzer/reduce; this test sits with the reducer.)
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzer.generate.config import GenConfig
from fuzzer.spec.dtypes import DType
from tensorsmith.campaign import Campaign, CampaignConfig
from tensorsmith.reduction import FindingError, reduce_finding, sign_finding

GEN = GenConfig(max_nodes=6, ops=("Relu", "Add", "Mul", "Abs", "Sigmoid", "Neg"), dtypes=frozenset({DType.float32}))


@pytest.fixture(scope="module")
def finding(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("campaign")
    Campaign(
        CampaignConfig(backends=("onnxruntime-injected",), out=out, tests=6, gen=GEN, search_steps=50, reduce_s=0)
    ).run()
    folders = sorted(
        p for p in (out / "findings").iterdir() if len(json.loads((p / "meta.json").read_text())["ops"]) > 1
    )
    assert folders, "the injected backend gave no finding with more than one node"
    return folders[0]


def test_finding_is_reduced_in_place_and_the_original_kept(finding: Path) -> None:
    before = json.loads((finding / "meta.json").read_text())
    r = reduce_finding(finding, deadline_s=120)
    assert r.status == "reduced", r
    assert r.nodes_after < r.nodes_before == len(before["ops"]) and r.nodes_after <= 2
    meta = json.loads((finding / "meta.json").read_text())
    assert "Relu" in meta["ops"] and meta["reduction"]["status"] == "reduced"
    assert meta["title"] == r.title == "onnxruntime-injected: wrong_result in run: wrong result in float32 [Relu]"
    assert meta["reduction"]["title_before"] == r.title_before != r.title
    assert json.loads((finding / "original" / "meta.json").read_text()) == before
    for name in ("model.onnx", "inputs.npz", "expected.npz", "actual.npz", "repro.py", "graph.pkl"):
        assert (finding / name).exists(), name
    assert len(pickle.loads((finding / "graph.pkl").read_bytes()).nodes) == r.nodes_after
    run = subprocess.run([sys.executable, str(finding / "repro.py")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert sign_finding(finding).title == r.title


def test_a_reduced_finding_is_left_alone(finding: Path) -> None:
    r = reduce_finding(finding)
    assert r.status == "already_reduced" and r.nodes_after == r.nodes_before


def test_a_folder_that_is_no_finding_is_named(tmp_path: Path) -> None:
    with pytest.raises(FindingError, match=repr(str(tmp_path))):
        reduce_finding(tmp_path)


def test_forced_again_keeps_the_first_original(finding: Path) -> None:
    first = (finding / "original" / "model.onnx").read_bytes()
    r = reduce_finding(finding, force=True)
    assert r.status in ("reduced", "unchanged") and (finding / "original" / "model.onnx").read_bytes() == first
    assert not (finding / ".stale").exists() and (finding / "model.onnx").exists()
