"""The artifact of a new failure: a corpus entry plus what it takes to look at and rerun the failure.

    case.json graph.json inputs.npz weights.npz model.onnx   the corpus entry (see cases.py); its
                                                            "expect" is the failure, so copying the
                                                            folder into a corpus makes it a known one
    exported.onnx                                           the converter's output, when there is one
    original/                                               the case as the check ran it, when reduced
    expected.npz / actual.npz                               the reference and the target's outputs
    meta.json                                               path, target, backend, verdict, versions, log
    repro.py                                                reruns this one cell; exit 1 while it fails

repro.py needs tensorsmith (the same version) and the backend: on an export path the failing input
is a torch.nn.Module built from the specs, which only tensorsmith can rebuild. Rejected: a repro
with the backend's source embedded (findings.py does that for runtime findings), which cannot
rebuild the module and so cannot reproduce an exporter failure.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import tensorsmith
from oracles.judge import Verdict
from tensorsmith.check.baseline import identity
from tensorsmith.check.cases import Case, read_entry, write_entry
from tensorsmith.check.reduce import reduce_failure
from tensorsmith.converter import ConverterPath, PathResult, category, parse_labelled
from tensorsmith.findings import save_arrays

REPRO = '''#!/usr/bin/env python3
"""Rerun a failure found by `tensorsmith check`: {title}

Needs tensorsmith {version} and the backend. Prints the verdict; exits 1 while the failure is
present, 0 once the target passes, 2 if it now fails differently.
"""
import sys
from pathlib import Path

from tensorsmith.check.artifacts import reproduce

sys.exit(reproduce(Path(__file__).resolve().parent))
'''


def folder_name(case_id: str, target: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{case_id}__{target}")


def write_artifact(
    root: Path, path: ConverterPath, case: Case, target: str, v: Verdict, result: PathResult, *, reduce_s: float = 0.0
) -> Path:
    """Write the artifact folder of one failing cell (see module docstring); return it.

    With `reduce_s` > 0 the failure is first reduced (reduce.py) for at most that long; the folder
    then holds the reduced case, and `original/` the case the check ran.
    """
    folder = Path(root) / folder_name(case.id, target)
    reduction = None
    if reduce_s > 0:
        reduced = reduce_failure(path, case, target, v, deadline_s=reduce_s)
        if reduced is not None:
            _write_cell(folder / "original", path, case, target, v, result)
            case, v, result, reduction = reduced.case, reduced.verdict, reduced.result, reduced.info
    _write_cell(folder, path, case, target, v, result, reduction)
    return folder


def _write_cell(folder: Path, path: ConverterPath, case: Case, target: str, v: Verdict, result, reduction=None):
    write_entry(folder, case, expect={target: identity(v)}, origin=f"tensorsmith check --path {path.path}")
    if result.exported is not None:
        (folder / "exported.onnx").write_bytes(result.exported)
    save_arrays(folder / "expected.npz", result.ref32)
    outcome = result.outcomes.get(target)
    if outcome is not None and outcome.outputs:
        save_arrays(folder / "actual.npz", outcome.outputs)
    spec = path.spec_of(target)
    failure = next((o.failure for o in result.outcomes.values() if o.failure is not None), None)
    meta = {
        "title": f"{category(v)} ({v.kind} at {v.stage}) on {target}: {(v.message.splitlines() or [''])[0][:160]}",
        "case": case.id,
        "source": case.source,
        "path": path.path,
        "target": target,
        "backend": spec.name,
        "label": path.label(spec),
        "verdict": dict(identity(v), category=category(v), message=v.message, detail=v.detail),
        "versions": {name: o.version for name, o in result.outcomes.items()},
        "tensorsmith_version": tensorsmith.__version__,
        "ops": [n.op for n in case.graph.nodes],
        "error_log": failure.log[-8000:] if failure else "",
        "reduction": reduction,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
    (folder / "repro.py").write_text(
        REPRO.format(title=meta["title"].replace('"""', "'''"), version=tensorsmith.__version__)
    )
    os.chmod(folder / "repro.py", 0o755)


def reproduce(folder: Path, *, out=sys.stdout) -> int:
    """Rerun the failing cell of an artifact folder: 1 if it fails the same way, 0 if it passes, 2 otherwise."""
    meta = json.loads((folder / "meta.json").read_text())
    case = read_entry(folder)
    specs, labels = parse_labelled([f"{meta['label']}={meta['backend']}"])
    with ConverterPath(meta["path"], specs, labels=labels) as path:
        result = path.run_test(case.graph, case.inputs, case.weights)
    if result.reference_error is not None:
        print(f"the reference failed: {result.reference_error.message}", file=out)
        return 2
    target = meta["target"]  # a target, or the exporter's name for a campaign's export failure
    v = result.by_target.get(target) or next((x for x in result.verdicts if x.backend == target), Verdict(target, "ok"))
    print(f"{meta['target']} on {case.id}: {category(v)} ({v.kind} at {v.stage or 'run'}) {v.message[:500]}", file=out)
    if v.ok:
        print("the target passes: the failure is gone", file=out)
        return 0
    same = identity(v) == {k: meta["verdict"][k] for k in ("kind", "stage", "output")}
    print(
        "the failure is still present" if same else f"it now fails differently (was {meta['verdict']['kind']})",
        file=out,
    )
    return 1 if same else 2
