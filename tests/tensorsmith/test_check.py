"""`tensorsmith check` end to end with real workers: passes on today's stack, fails on an injected regression."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tensorsmith.check import DEFAULT_CORPUS, CheckError, Sweep, run_check
from tensorsmith.check.baseline import Baseline, BaselineError
from tensorsmith.check.cases import SweepError, read_entry

DATA = Path(__file__).resolve().parents[1] / "data"
BASELINE = DATA / "check_baseline.json"  # recorded with: python -m tests.tensorsmith.test_check
# float32 ops that every backend of today's stack gets right, with Relu (what "onnxruntime-injected" breaks)
SWEEP = Sweep(sizes=(3,), seeds=3, ops=("Relu", "Add", "Mul", "Sigmoid", "Abs", "Neg"), dtypes=("float32",))
QUICK = Sweep(sizes=(3,), seeds=2, ops=SWEEP.ops, dtypes=SWEEP.dtypes, search_steps=50)


def junit(out: Path) -> list[ET.Element]:
    return list(ET.parse(out / "junit.xml").getroot().iter("testcase"))


def results(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["cells"]


def corpus_of(tmp_path: Path, *names: str) -> Path:
    """A corpus folder holding some of the repository's entries (all of them cost ~2 s each on a path)."""
    for name in names:
        shutil.copytree(DEFAULT_CORPUS / name, tmp_path / "corpus" / name)
    return tmp_path / "corpus"


def test_passes_on_todays_stack_with_the_committed_baseline(tmp_path: Path) -> None:
    corpus = [corpus_of(tmp_path, "canary-relu-add", "dynamo-abs-float16", "dynamo-bitshift-uint8")]
    code = run_check(
        "export-dynamo", ["onnxruntime"], BASELINE, 300, False, tmp_path, sweep=SWEEP, corpus=corpus, rerun=False
    )
    summary = (tmp_path / "summary.md").read_text()
    assert code == 0, summary
    cases = junit(tmp_path)
    assert not [c for c in cases if c.find("failure") is not None], summary
    known = {c.get("name") for c in cases if (s := c.find("skipped")) is not None and "known" in s.get("message")}
    assert {"corpus/dynamo-abs-float16", "corpus/dynamo-bitshift-uint8"} <= known  # the corpus's known bugs
    assert "passed" in summary and "| torch-export-dynamo/onnxruntime |" in summary


def test_an_injected_regression_fails_naming_the_case(tmp_path: Path) -> None:
    """The same check with ONNX Runtime computing Relu + 1, reported under the baseline's name "onnxruntime"."""
    bad = ["onnxruntime=onnxruntime-injected"]
    code = run_check("export-dynamo", bad, BASELINE, 300, False, tmp_path, sweep=SWEEP, corpus=[], reduce_s=0)
    assert code == 1
    failed = [c for c in junit(tmp_path) if c.find("failure") is not None]
    assert failed, (tmp_path / "summary.md").read_text()
    names = {c.get("name") for c in failed}
    bad = [r for r in results(tmp_path) if r["status"] == "new"]
    assert names == {r["case"] for r in bad} and all(r["category"] == "wrong_result" for r in bad)
    assert all(c.get("classname") == "check.export-dynamo.torch-export-dynamo/onnxruntime" for c in failed)
    assert "wrong_result" in failed[0].find("failure").get("message")
    folder = Path(bad[0]["artifact"])
    for name in ("case.json", "graph.json", "inputs.npz", "weights.npz", "model.onnx", "exported.onnx", "repro.py"):
        assert (folder / name).exists(), name
    assert "Relu" in json.loads((folder / "meta.json").read_text())["ops"]
    assert "FAILED" in (tmp_path / "summary.md").read_text()


def test_fixed_then_update_baseline_then_clean(tmp_path: Path) -> None:
    """Known failures that pass are "fixed" (exit 0); --update-baseline forgets them; a failing cell comes back new."""
    baseline = tmp_path / "baseline.json"
    bad = ["onnxruntime=onnxruntime-injected"]
    assert run_check("onnx", bad, baseline, 120, True, tmp_path / "a", sweep=QUICK, corpus=[]) == 0
    known = Baseline.load(baseline).known
    assert known and all(v["category"] == "wrong_result" for v in known.values())
    assert run_check("onnx", bad, baseline, 120, False, tmp_path / "b", sweep=QUICK, corpus=[]) == 0  # all known
    assert {r["status"] for r in results(tmp_path / "b")} <= {"known", "pass"}
    assert run_check("onnx", ["onnxruntime"], baseline, 120, False, tmp_path / "c", sweep=QUICK, corpus=[]) == 0
    statuses = {r["status"] for r in results(tmp_path / "c")}
    assert "fixed" in statuses and statuses <= {"fixed", "pass"}
    assert "Fixed since the baseline" in (tmp_path / "c" / "summary.md").read_text()
    assert run_check("onnx", ["onnxruntime"], baseline, 120, True, tmp_path / "d", sweep=QUICK, corpus=[]) == 0
    assert Baseline.load(baseline).known == {}
    assert run_check("onnx", bad, baseline, 120, False, tmp_path / "e", sweep=QUICK, corpus=[], rerun=False) == 1


def test_the_budget_skips_cases_and_says_so(tmp_path: Path) -> None:
    code = run_check("onnx", ["onnxruntime"], None, 0.001, False, tmp_path, sweep=QUICK, corpus=[])
    assert code == 0
    assert {r["status"] for r in results(tmp_path)} == {"skipped"}
    assert "time budget" in (tmp_path / "summary.md").read_text()


def test_a_corpus_entry_is_checked_against_its_own_expectation(tmp_path: Path) -> None:
    corpus = corpus_of(tmp_path, "canary-relu-add")
    code = run_check(
        "onnx", ["onnxruntime=onnxruntime-injected"], None, 120, False, tmp_path / "a", sweep=QUICK, corpus=[corpus]
    )
    assert code == 1
    failing = {r["case"] for r in results(tmp_path / "a") if r["status"] == "new"}
    assert "corpus/canary-relu-add" in failing
    # promote the failure: the artifact folder is a corpus entry expecting exactly this failure
    artifact = next(Path(r["artifact"]) for r in results(tmp_path / "a") if r["case"] == "corpus/canary-relu-add")
    shutil.rmtree(corpus / "canary-relu-add")
    shutil.copytree(artifact, corpus / "canary-relu-add")
    [(target, verdict)] = read_entry(corpus / "canary-relu-add").expect.items()
    assert target == "onnxruntime" and verdict["kind"] == "wrong_result"
    quiet = Sweep(sizes=(1,), seeds=0)
    code = run_check(
        "onnx", ["onnxruntime=onnxruntime-injected"], None, 120, False, tmp_path / "b", sweep=quiet, corpus=[corpus]
    )
    assert code == 0 and {r["status"] for r in results(tmp_path / "b")} == {"known"}


def test_new_failures_are_reduced_and_keep_the_original(tmp_path: Path) -> None:
    sweep = Sweep(sizes=(6,), seeds=1, ops=SWEEP.ops, dtypes=SWEEP.dtypes, search_steps=50)
    code = run_check("onnx", ["onnxruntime=onnxruntime-injected"], None, 120, False, tmp_path, sweep=sweep, corpus=[])
    assert code == 1
    [cell] = [r for r in results(tmp_path) if r["status"] == "new"]
    folder = Path(cell["artifact"])
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["ops"] == ["Relu"] and meta["reduction"]["nodes_before"] == 6, meta["reduction"]
    assert len(read_entry(folder / "original").graph.nodes) == 6
    assert len(read_entry(folder).graph.nodes) == 1


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"path": "export-tf"}, CheckError, "unknown path 'export-tf'"),
        ({"backends": ["onnxrt"]}, CheckError, "unknown backend 'onnxrt'"),
        ({"sweep": Sweep(ops=("Relux",))}, SweepError, "unknown operator 'Relux'"),
        ({"baseline": BASELINE, "path": "onnx"}, BaselineError, "recorded for path 'export-dynamo'"),
        ({"update_baseline": True}, BaselineError, "needs a baseline file"),
    ],
)
def test_bad_options_name_the_value(tmp_path: Path, kwargs, error, message) -> None:
    args = {"path": "onnx", "backends": ["onnxruntime"], "baseline": None, "budget_s": 10, "update_baseline": False}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        run_check(out=tmp_path, sweep=kwargs.get("sweep", QUICK), **{k: v for k, v in args.items() if k != "sweep"})


@pytest.mark.slow
def test_repro_script_reruns_the_failure(tmp_path: Path) -> None:
    run_check("onnx", ["onnxruntime=onnxruntime-injected"], None, 120, False, tmp_path, sweep=QUICK, corpus=[])
    folder = next(Path(r["artifact"]) for r in results(tmp_path) if r["artifact"])
    env = dict(os.environ, PYTHONPATH=str(DATA.parents[1]))  # repro.py imports tensorsmith, as installed
    cmd = [sys.executable, str(folder / "repro.py")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "still present" in r.stdout


@pytest.mark.slow
def test_the_default_check_passes_with_its_committed_baseline(tmp_path: Path) -> None:
    """The default configuration (bench/check_bench.py) against corpus/baselines/export-dynamo.json."""
    baseline = DEFAULT_CORPUS / "baselines" / "export-dynamo.json"
    code = run_check("export-dynamo", ["onnxruntime", "onnxruntime-opt"], baseline, 900, False, tmp_path)
    assert code == 0, (tmp_path / "summary.md").read_text()


if __name__ == "__main__":  # re-record the test baseline after a change to the generator or the specs
    run_check("export-dynamo", ["onnxruntime"], BASELINE, 600, True, Path("/tmp/check-baseline-run"), sweep=SWEEP)
