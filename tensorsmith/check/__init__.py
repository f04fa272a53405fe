"""`tensorsmith check`: a CI gate that fails when a converter or backend regresses.

A fixed, seeded set of generated models (a size sweep with every op enabled) and every entry of the
regression corpus go through a path (tensorsmith/converter.py) to the chosen backends; each
(case, target) verdict is compared with a baseline of known failures. A new failure exits 1; a known
failure that now passes is reported as fixed; `update_baseline` rewrites the baseline. Same versions
and seeds give the same verdicts. Writes OUT/junit.xml, OUT/summary.md, OUT/results.json and, per new
failure, OUT/artifacts/CASE__TARGET/ (see artifacts.py).

    from tensorsmith.check import run_check, Sweep
    code = run_check("export-dynamo", ["onnxruntime"], Path("check-baseline.json"), 600, False, Path("out"))
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import onnx

import tensorsmith
from oracles.backends.catalog import BackendConfigError
from oracles.backends.process import BackendUnavailable
from tensorsmith.check.artifacts import write_artifact
from tensorsmith.check.baseline import FLAKY, Baseline, BaselineError, entry, key
from tensorsmith.check.cases import CorpusError, Sweep, SweepError, corpus_cases
from tensorsmith.check.report import markdown, write_junit
from tensorsmith.check.run import CheckResult, Runner
from tensorsmith.converter import PATHS, ConverterPath, PathConfigError, category, parse_labelled, parse_path

__all__ = ["PATHS", "CheckError", "Sweep", "run_check", "DEFAULT_CORPUS"]

DEFAULT_CORPUS = Path(tensorsmith.__file__).resolve().parents[1] / "corpus"

# the configuration errors run_check raises (the CLI prints the message and exits 2)
CheckError = (BaselineError, CorpusError, PathConfigError, BackendConfigError, SweepError, BackendUnavailable)


def run_check(
    path: str,
    backends: list[str],
    baseline: Path | None,
    budget_s: float,
    update_baseline: bool,
    out: Path,
    *,
    sweep: Sweep | None = None,
    corpus: list[Path] | None = None,
    timeout_s: float = 60.0,
    mem_mb: int = 4096,
    rerun: bool = True,
    reduce_s: float = 60.0,
    log: Callable[[str], None] | None = None,
) -> int:
    """Run the check and write its reports; the exit code: 1 if a cell newly fails, else 0.

    `backends` are NAME, NAME@PYTHON or LABEL=NAME[@PYTHON] (LABEL: the name in the baseline).
    `corpus` defaults to the corpus folder next to tensorsmith's package, when there is one. Each new
    failure is reduced for at most `reduce_s` seconds (0: off) before its artifact is written.
    Raises one of CheckError (its message names the bad value) for unusable options or a backend that cannot start.
    """
    sweep = sweep or Sweep()
    if corpus is None:
        corpus = [DEFAULT_CORPUS] if DEFAULT_CORPUS.is_dir() else []
    specs, labels, entries, known = _validate(path, backends, baseline, budget_s, update_baseline, sweep, corpus)
    out = Path(out)
    shutil.rmtree(out / "artifacts", ignore_errors=True)  # artifacts of an earlier run would read as this one's
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    t0 = time.monotonic()
    cp = ConverterPath(path, specs, labels=labels, timeout_s=timeout_s, mem_mb=mem_mb)
    try:
        versions = {**cp.start(), "onnx": onnx.__version__, "tensorsmith": tensorsmith.__version__}
        result = CheckResult(path, cp.targets(), versions, budget_s)
        deadline = t0 + budget_s

        def write(case, target, v, res):  # reduction gets what is left of the budget, at most reduce_s
            left = min(reduce_s, deadline - time.monotonic())
            return write_artifact(out / "artifacts", cp, case, target, v, res, reduce_s=max(0.0, left))

        runner = Runner(cp, known, sweep, entries, deadline, rerun=rerun, on_failure=write, log=log)
        ran = runner.run(result)
    finally:
        cp.close()
    result.seconds = time.monotonic() - t0
    result.notes += _notes(result, known, baseline)
    if update_baseline:
        known.save(baseline, path, sweep.to_json(path), versions, _known_cells(result), ran)
        result.notes.append(f"baseline {baseline} rewritten from this run")
    _write_reports(result, out)
    log(f"{'FAILED' if result.failed else 'passed'}; reports in {out}")
    return 1 if result.failed and not update_baseline else 0


def _validate(path, backends, baseline, budget_s, update_baseline, sweep: Sweep, corpus: list[Path]):
    """Every option checked before a worker starts: (specs, labels, corpus cases, baseline); CheckError if bad."""
    parse_path(path)
    sweep.validate(path)
    if budget_s <= 0:
        raise PathConfigError(f"budget {budget_s!r} s is invalid; expected a positive number of seconds")
    if update_baseline and baseline is None:
        raise BaselineError("--update-baseline needs a baseline file to write (--baseline PATH)")
    specs, labels = parse_labelled(backends)
    entries = list(corpus_cases(corpus))
    known = Baseline.load(baseline)
    why = known.mismatch(path, sweep.to_json(path))
    if why and not update_baseline:
        raise BaselineError(
            f"baseline {str(baseline)!r} does not fit this check: {why}; record one with --update-baseline"
        )
    return specs, labels, entries, known


def _known_cells(result: CheckResult) -> dict:
    """The baseline cells of this run: its failures, and "ok" where a corpus entry expected a failure."""
    cells = {}
    for c in result.cells:
        if c.verdict is None:
            continue
        if not c.verdict.ok:
            cells[key(c.case, c.target)] = entry(c.verdict, flaky=c.status == FLAKY)
        elif c.corpus_expects_failure:
            cells[key(c.case, c.target)] = "ok"
    return cells


def _notes(result: CheckResult, known: Baseline, file: Path | None) -> list[str]:
    notes = []
    skipped = sum(c.skip == "time budget spent" for c in result.cells) // max(1, len(result.targets))
    if skipped:
        notes.append(f"{skipped} cases were not run: the time budget ({result.budget_s:.0f} s) was spent")
    if file is None or not Path(file).exists():
        notes.append("no baseline: every failure counts as new")
    elif known.tensorsmith and known.tensorsmith != tensorsmith.__version__:
        notes.append(
            f"the baseline was recorded with tensorsmith {known.tensorsmith}, this is {tensorsmith.__version__}: "
            "generated cases may differ; record a new baseline when upgrading tensorsmith"
        )
    return notes


def _write_reports(result: CheckResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_junit(result, out / "junit.xml")
    (out / "summary.md").write_text(markdown(result))
    cells = [
        {
            "case": c.case,
            "target": c.target,
            "status": c.status,
            "category": category(c.verdict) if c.verdict else None,
            "kind": c.verdict.kind if c.verdict else None,
            "stage": c.verdict.stage if c.verdict else None,
            "output": c.verdict.output if c.verdict else None,
            "message": (c.verdict.message.splitlines() or [""])[0][:300] if c.verdict else c.skip,
            "seconds": round(c.seconds, 3),
            "artifact": c.artifact,
        }
        for c in result.cells
    ]
    doc = {"path": result.path, "targets": result.targets, "versions": result.versions, "cells": cells}
    doc.update(seconds=round(result.seconds, 1), budget_s=result.budget_s, notes=result.notes)
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
