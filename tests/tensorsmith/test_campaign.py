"""The fuzz campaign end to end, with real ONNX Runtime workers and a deliberately wrong configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzer.generate.config import GenConfig
from fuzzer.spec.dtypes import DType
from tensorsmith.campaign import Campaign, CampaignConfig, CampaignError

GEN = GenConfig(max_nodes=4, ops=("Relu", "Add", "Mul", "Abs", "Sigmoid"), dtypes=frozenset({DType.float32}))


def campaign(out: Path, tests: int, backends=("onnxruntime", "onnxruntime-injected"), seed: int = 0) -> Campaign:
    c = Campaign(CampaignConfig(backends=backends, out=out, seed=seed, tests=tests, gen=GEN, search_steps=50))
    c.run()
    return c


def test_injected_wrong_result_is_found_and_reproduced(tmp_path: Path) -> None:
    c = campaign(tmp_path, 6)
    folders = sorted((tmp_path / "findings").iterdir())
    assert folders, c.stats
    assert all("onnxruntime-injected" in f.name for f in folders), [f.name for f in folders]
    assert c.stats.per_backend["onnxruntime"].get("ok", 0) == c.stats.tests - c.stats.no_clean_inputs
    f = folders[0]
    meta = json.loads((f / "meta.json").read_text())
    assert meta["kind"] == "wrong_result" and meta["backend"] == "onnxruntime-injected"
    assert "Relu" in meta["ops"]
    for name in ("model.onnx", "inputs.npz", "expected.npz", "actual.npz", "repro.py"):
        assert (f / name).exists(), name
    r = subprocess.run([sys.executable, str(f / "repro.py")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "differ" in r.stdout


def test_findings_are_reduced_in_the_background_and_left_overs_on_resume(tmp_path: Path) -> None:
    """A new finding is signed at once and reduced by the background reducer before the campaign ends;
    findings an earlier session did not reduce (here: one run with reduction off) are reduced on resume."""
    c = Campaign(CampaignConfig(backends=("onnxruntime-injected",), out=tmp_path, tests=3, gen=GEN, reduce_s=0))
    c.run()
    first = sorted((tmp_path / "findings").iterdir())
    assert first and c.stats.findings == len(first), c.stats
    assert all("reduction" not in json.loads((f / "meta.json").read_text()) for f in first)
    assert all(json.loads((f / "meta.json").read_text())["title"] for f in first)  # signed all the same
    c = Campaign(CampaignConfig(backends=("onnxruntime-injected",), out=tmp_path, tests=6, gen=GEN, reduce_s=60))
    c.run()
    folders = sorted((tmp_path / "findings").iterdir())
    assert len(folders) > len(first), c.stats
    metas = [json.loads((f / "meta.json").read_text()) for f in folders]
    assert all(m["reduction"]["status"] in ("reduced", "unchanged") for m in metas), [m["reduction"] for m in metas]
    assert any(m["reduction"]["status"] == "reduced" and m["ops"] == ["Relu"] for m in metas)  # Relu + 1 injected
    assert c.stats.internal_errors == 0


def test_an_aborted_reduction_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    import threading

    from tensorsmith.reduction import ReductionAborted, reduce_finding

    Campaign(CampaignConfig(backends=("onnxruntime-injected",), out=tmp_path, tests=2, gen=GEN, reduce_s=0)).run()
    folder = sorted((tmp_path / "findings").iterdir())[0]
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    stop = threading.Event()
    stop.set()
    with pytest.raises(ReductionAborted):
        reduce_finding(folder, abort=stop)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_failures_blamed_on_our_reference_are_kept_apart(tmp_path: Path) -> None:
    """When every backend, ONNX Runtime among them, is wrong alike, our spec is the suspect: such a
    failure goes to suspects/, is counted there, and is not a finding (bench/results/findings.md, item 6)."""
    twice = ("onnxruntime-injected", f"onnxruntime-injected@{sys.executable}")
    c = campaign(tmp_path, 6, backends=twice)
    assert c.stats.findings == 0 and not any((tmp_path / "findings").iterdir()), c.stats
    suspects = sorted((tmp_path / "suspects").iterdir())
    assert c.stats.suspects == len(suspects) >= 2, c.stats
    meta = json.loads((suspects[0] / "meta.json").read_text())
    assert meta["blame"] == "reference?" and meta["kind"] == "wrong_result"


def test_resume_continues_without_duplicates(tmp_path: Path) -> None:
    first = campaign(tmp_path, 3)
    found = {p.name for p in (tmp_path / "findings").iterdir()}
    second = Campaign(
        CampaignConfig(
            backends=("onnxruntime", "onnxruntime-injected"), out=tmp_path, tests=6, gen=GEN, search_steps=50
        )
    )
    second.run()
    assert second.stats.tests == 6 and second.next_index == 6
    after = {p.name for p in (tmp_path / "findings").iterdir()}
    assert found <= after
    assert second.stats.findings == len(after)
    assert first.stats.tests == 3


def test_resume_refuses_another_configuration(tmp_path: Path) -> None:
    campaign(tmp_path, 1)
    with pytest.raises(CampaignError, match="another configuration"):
        Campaign(CampaignConfig(backends=("onnxruntime",), out=tmp_path, tests=2, gen=GEN)).run()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backends", "onnxruntim"], "unknown backend 'onnxruntim'"),
        (["--backends", "onnxruntime@/nonexistent/python"], "not an executable file"),
        (["--time", "ten minutes"], "invalid duration 'ten minutes'"),
        ([], "give a budget"),
    ],
)
def test_bad_options_exit_2_at_once(tmp_path: Path, args, message) -> None:
    budget = [] if "--time" in args or not args else ["--tests", "1"]
    cmd = [sys.executable, "-m", "tensorsmith.cli", "fuzz", "-o", str(tmp_path / "c"), *budget, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr


def test_a_backend_that_cannot_start_exits_2_before_any_test(tmp_path: Path) -> None:
    """An interpreter that cannot run the worker (here: one that exits at once) stops the campaign
    when its own workers start, with the backend named, before the progress display or any test."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    out = tmp_path / "c"
    cmd = [sys.executable, "-m", "tensorsmith.cli", "fuzz", "-o", str(out), "--tests", "1"]
    r = subprocess.run(
        [*cmd, "--backends", f"onnxruntime,onnxruntime@{fake}"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2, r.stderr
    assert f"backend 'onnxruntime@{fake}' could not start" in r.stderr
    assert "tests (" not in r.stderr and not list((out / "findings").iterdir())
    state = out / "state.json"
    assert not state.exists() or json.loads(state.read_text())["stats"]["tests"] == 0


def test_converter_path_mode_finds_the_injected_fault(tmp_path: Path) -> None:
    """`fuzz --path export-dynamo`: the exported model runs on the backends; a wrong one is a finding."""
    cfg = CampaignConfig(
        backends=("onnxruntime-injected",), out=tmp_path, tests=3, gen=GEN, search_steps=50, path="export-dynamo"
    )
    c = Campaign(cfg)
    c.run()
    assert c.stats.findings >= 1, c.stats
    assert any(p.is_dir() for p in (tmp_path / "findings").iterdir())
