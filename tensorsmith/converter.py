"""Paths from a generated test to the backends: directly, or through a model converter.

A *path* says which model the backends run. "onnx" gives them the generated ONNX model. The export
paths build the torch.nn.Module the specs define (fuzzer.graph.torch_module.GraphModule), export it with
torch.onnx.export (the dynamo exporter or the TorchScript one), check the exported model with the
ONNX checker and run every backend on the exported model; "onnx2torch" adds the reverse converter
(ONNX -> torch) as one more backend of the generated model. Every output is judged against the
references (PyTorch eager on the specs, i.e. the module's own outputs, and its float64 twin), so a
verdict means the same thing on every path.

The exporter runs in a worker process like any backend, so an exporter that crashes or hangs is a
verdict (kind "crash"/"timeout", stage "export"), never the end of a run. A test's verdicts, per
*target* (a backend, or "EXPORTER/BACKEND" on an export path), fall into the categories of
`category`: export crash, invalid exported model, load failure, wrong result, run failure, or
unsupported (a documented gap, recognised from the message).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import onnx

from fuzzer.graph.model import Graph
from fuzzer.graph.onnx_io import to_onnx
from oracles.backends.catalog import CATALOG, BackendConfigError, BackendKind, BackendSpec, parse_backend
from oracles.backends.process import BackendProcess, BackendUnavailable
from oracles.compare import MISSING_OUTPUT, NAN_MISMATCH, OK, WRONG_DTYPE, WRONG_RESULT, WRONG_SHAPE
from oracles.judge import GAP, Verdict, judge
from oracles.result import EXCEPTION, Failure, Outcome

PATHS = ("onnx", "export-dynamo", "export-legacy", "onnx2torch")
# the exporter worker's two outputs (oracles/backends/exporter_backend.py; a worker module, not importable here)
EXPORTED, CHECKER = "exported_model", "checker_message"
INVALID_MODEL = "invalid_model"  # a Verdict kind: the exported model fails the ONNX checker (stage "check")

# the categories of a verdict, in the order reports list them
CATEGORIES = ("ok", "export_crash", "invalid_model", "load_failure", "wrong_result", "run_failure", "unsupported")
MISMATCHES = (WRONG_RESULT, WRONG_SHAPE, WRONG_DTYPE, NAN_MISMATCH, MISSING_OUTPUT)

# Converter messages that mean "documented as unsupported" (oracles/gaps.py has the backends' own);
# narrow on purpose: anything else a converter raises stays a failure.
CONVERTER_GAPS: dict[str, list[str]] = {
    "torch-export-legacy": [
        r"UnsupportedOperatorError",
        r"is not supported",
        r"does NOT support",
        r"Unsupported: ONNX export",
    ],
    "torch-export-dynamo": [r"No ONNX function found for", r"is not supported by the exporter"],
    "onnx2torch": [r"Converter is not implemented", r"is not implemented", r"[Oo]nly .* (is|are) supported"],
}


# converter -> the package it needs in tensorsmith's interpreter, and how to install that
NEEDS = {"dynamo": "onnxscript", "onnx2torch": "onnx2torch"}
INSTALL = {
    "onnxscript": "pip install onnxscript",
    "onnx2torch": "pip install --no-deps onnx2torch (its torchvision dependency would replace the CPU torch)",
}


class PathConfigError(ValueError):
    """A path or backend list that cannot work (reported to the user, exit 2)."""


def exporter_spec(converter: str) -> BackendSpec:
    """The worker configuration of torch.onnx.export with `converter` "dynamo" or "legacy"."""
    name = f"torch-export-{converter}"
    doc = f"torch.onnx.export(dynamo={converter == 'dynamo'}) of the specs' nn.Module"
    kind = BackendKind("exporter_backend", {"converter": converter}, needs_graph=True, doc=doc)
    return BackendSpec(name, name, kind, sys.executable)


def parse_path(path: str) -> str:
    if path not in PATHS:
        raise PathConfigError(f"unknown path {path!r}; expected one of: {', '.join(PATHS)}")
    return path


def category(v: Verdict) -> str:
    """Which of CATEGORIES a verdict is in."""
    if v.kind == OK:
        return "ok"
    if v.kind == GAP:
        return "unsupported"
    if v.stage == "export":
        return "export_crash"
    if v.kind == INVALID_MODEL:
        return "invalid_model"
    if v.stage in ("load", "compile"):
        return "load_failure"
    if v.kind in MISMATCHES:
        return "wrong_result"
    return "run_failure"


@dataclass
class PathResult:
    """One test through a path.

    `verdicts` has each failure once: the exporter's verdict alone when the export failed or gave an
    invalid model, else one per backend (what a campaign files). `by_target` has exactly one verdict
    per target of the path, the export failure repeated for each backend (what `check` compares).
    """

    verdicts: list[Verdict] = field(default_factory=list)
    by_target: dict[str, Verdict] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # target -> the backend's outcome
    exported: bytes | None = None
    checker: str = ""
    reference_error: Failure | None = None
    ref32: dict = field(default_factory=dict)  # the references, when `run_test` computed them
    ref64: dict = field(default_factory=dict)


class ConverterPath:
    """A path with its worker processes (exporter, backends and, for `judge_test`, the references).

    `backends` are BackendSpecs; a target is named after the spec's `name`, so a configuration
    written `LABEL=NAME` (see `parse_labelled`) is reported under LABEL.
    """

    def __init__(
        self, path: str, backends: list[BackendSpec], *, timeout_s: float = 60.0, mem_mb: int = 4096, labels=None
    ):
        self.path = parse_path(path)
        self.specs = list(backends)
        if path == "onnx2torch" and not any(s.kind_name == "onnx2torch" for s in self.specs):
            self.specs.append(parse_backend("onnx2torch"))
        if not self.specs:
            raise PathConfigError(f"path {path!r} needs at least one backend")
        self.labels = dict(labels or {})  # spec.name -> the name it is reported under
        self.exporter = exporter_spec(path.removeprefix("export-")) if path.startswith("export-") else None
        self.timeout_s, self.mem_mb = timeout_s, mem_mb
        self.procs: dict[str, BackendProcess] = {}

    def label(self, spec: BackendSpec) -> str:
        return self.labels.get(spec.name, spec.name)

    def targets(self) -> list[str]:
        prefix = f"{self.exporter.name}/" if self.exporter else ""
        return [prefix + self.label(s) for s in self.specs]

    def spec_of(self, target: str) -> BackendSpec:
        """The backend of a target; for the exporter's own verdict (a campaign's), the path's first backend."""
        if self.exporter is not None and target == self.exporter.name:
            return self.specs[0]
        return dict(zip(self.targets(), self.specs))[target]

    # --- lifecycle ----------------------------------------------------------------------
    def _proc(self, spec: BackendSpec) -> BackendProcess:
        if spec.name not in self.procs:
            self.procs[spec.name] = BackendProcess(spec, timeout_s=self.timeout_s, mem_mb=self.mem_mb)
        return self.procs[spec.name]

    def start(self, *, references: bool = True) -> dict[str, str]:
        """Start every worker, in parallel; the versions by name (BackendUnavailable if one cannot start)."""
        specs = ([self.exporter] if self.exporter else []) + self.specs
        for spec in specs:  # a converter package that is missing would otherwise fail every test alike
            package = NEEDS.get(spec.kind.options.get("converter", ""))
            if package and spec.python == sys.executable and importlib.util.find_spec(package) is None:
                raise BackendUnavailable(f"{spec.name!r} needs the package {package!r}: {INSTALL[package]}")
        refs = [parse_backend(n) for n in ("torch", "torch-f64")] if references else []
        with ThreadPoolExecutor(max_workers=len(specs) + len(refs)) as pool:  # imports take seconds each
            versions = list(pool.map(BackendProcess.start, [self._proc(s) for s in specs + refs]))
        return {self.label(s): v for s, v in zip(specs, versions)}

    def close(self) -> None:
        for p in self.procs.values():
            p.close()
        self.procs.clear()

    def __enter__(self) -> ConverterPath:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- one test -----------------------------------------------------------------------
    def judge_test(self, graph: Graph, inputs: dict, weights: dict) -> list[Verdict]:
        """Verdicts of one (graph, inputs, weights), references computed here; [] if a reference fails."""
        return self.run_test(graph, inputs, weights).verdicts

    def run_test(self, graph: Graph, inputs: dict, weights: dict) -> PathResult:
        graph = replace(graph, values=dict(weights))
        model = to_onnx(graph).SerializeToString()
        refs = [self._proc(parse_backend(n)).run(model, inputs, graph=graph) for n in ("torch", "torch-f64")]
        bad = next((r.failure for r in refs if not r.ok), None)
        if bad is not None:
            return PathResult(reference_error=bad)
        result = self.run(graph, model, inputs, refs[0].outputs, refs[1].outputs)
        result.ref32, result.ref64 = refs[0].outputs, refs[1].outputs
        return result

    def run(self, graph: Graph, model: bytes, feeds: dict, ref32: dict, ref64: dict) -> PathResult:
        """Judge one test whose references the caller computed (a campaign does)."""
        expected = {n: (graph.tensors[n].ttype.dtype.name, tuple(graph.tensors[n].ttype.shape)) for n in graph.outputs}
        result = PathResult()
        if self.exporter is not None:
            step = self._export(graph, model, feeds, result)
            if step is not None:
                result.verdicts = [step]
                result.by_target = {t: replace(step, backend=t) for t in self.targets()}
                return result
            model, feeds = result.exported, _feeds_for(result.exported, feeds)
        for spec, target in zip(self.specs, self.targets()):
            out = self._proc(spec).run(model, feeds, graph=graph)
            # gaps are recognised as the configuration reported, so "onnxruntime=onnxruntime-injected" has ORT's
            kind = self.label(spec) if self.label(spec) in CATALOG else spec.kind_name
            v = _gap(kind, out, judge(out, kind, expected, ref32, ref64, graph.path_floats()))
            v.backend = target
            result.outcomes[target] = out
            result.verdicts.append(v)
            result.by_target[target] = v
        return result

    def _export(self, graph: Graph, model: bytes, feeds: dict, result: PathResult) -> Verdict | None:
        """Export into `result`; the verdict of a failed or invalid export, None if the model is valid."""
        name = self.exporter.name
        out = self._proc(self.exporter).run(model, feeds, graph=graph)
        result.outcomes[name] = out
        if out.failure is not None:  # whatever the worker stage, this worker only exports
            failure = replace(out.failure, stage="export", message=_headline(out.failure.message))
            v = _gap(name, replace(out, failure=failure), Verdict(name, failure.kind, "export", failure.message))
            v.detail = {"signal": failure.signal} if failure.signal else {}
            return v
        result.exported = np.asarray(out.outputs[EXPORTED]).tobytes()
        result.checker = np.asarray(out.outputs[CHECKER]).tobytes().decode(errors="replace")
        if result.checker:
            return Verdict(name, INVALID_MODEL, "check", result.checker)
        return None


def _feeds_for(model: bytes, feeds: dict) -> dict:
    """The feeds the exported model takes: an exporter may drop an input that no output depends on."""
    g = onnx.load_from_string(model).graph
    inits = {t.name for t in g.initializer}
    names = {v.name for v in g.input if v.name not in inits}
    return {k: v for k, v in feeds.items() if k in names}


def _gap(kind_name: str, outcome: Outcome, v: Verdict) -> Verdict:
    """`v` as a support gap if a converter's documented-unsupported message says so."""
    f = outcome.failure
    if v.kind == GAP or f is None or f.kind != EXCEPTION:
        return v
    if f.stage == "export" and _raised_in_specs(f.log):
        return Verdict(v.backend, GAP, f.stage, f.message, gap=f"{kind_name}: spec code not traceable: {_first(f)}")
    for pat in CONVERTER_GAPS.get(kind_name, []):
        if re.search(pat, f.message):
            return Verdict(v.backend, GAP, f.stage, f.message, gap=f"{kind_name}: {_first(f)}")
    return v


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the dynamo exporter colours its messages
_CAUSE = re.compile(r"^<class '(?:[\w.]+\.)?(\w+)'>: (.*)$", re.M)


def _headline(message: str) -> str:
    """The exporter's message, uncoloured, with the root cause first.

    The dynamo exporter's first line is the same for every failure ("Failed to convert the exported
    program ..."); its "Exception summary" names the cause, e.g. "DispatchError: No ONNX function
    found for <OpOverload(op='aten.sort', ...)>", which is what a report and a gap key should show.
    """
    message = _ANSI.sub("", message)
    causes = _CAUSE.findall(message.partition("## Exception summary")[2])
    if not causes:
        return message
    kind, text = causes[0]
    return f"{message.split(':', 1)[0]}: {kind}: {text}\n{message}"


_FRAME = re.compile(r'^  File "([^"]+)", line \d+', re.M)


def _raised_in_specs(trace: str) -> bool:
    """Whether the exception came from the specs' own torch code rather than from torch.

    The TorchScript tracer hands Python code 0-d tensors for sizes, and the specs' shape arithmetic
    (Fractions, Z3-aware min/max) rejects them: a limit of tracing our module, not an exporter bug.
    Seen as a traceback whose last frame in tensorsmith's specs is deeper than its last torch frame.
    """
    files = _FRAME.findall(trace)
    ours = [i for i, f in enumerate(files) if "/fuzzer/spec/" in f]
    theirs = [i for i, f in enumerate(files) if "/torch/" in f]
    return bool(ours) and (not theirs or ours[-1] > theirs[-1])


def _first(f: Failure) -> str:
    """The failure's first line with numbers replaced, as a stable gap key."""
    return re.sub(r"\b\d+\b", "N", f.message.splitlines()[0] if f.message else "")[:300]


def parse_labelled(items: list[str]) -> tuple[list[BackendSpec], dict[str, str]]:
    """Backends written NAME, NAME@PYTHON or LABEL=NAME[@PYTHON]; returns the specs and spec name -> label.

    A label reports a configuration under another name, so that a baseline recorded with one
    configuration is compared with another (a nightly build at another interpreter, or the
    deliberately wrong "onnxruntime-injected" in tests). Without one, the label is the catalog name
    (the interpreter is not part of it). BackendConfigError names a bad or repeated value.
    """
    pairs = []
    for item in items:
        label, sep, text = item.strip().partition("=")
        spec = parse_backend(text if sep else label)
        pairs.append((spec, label.strip() if sep else spec.kind_name))
    for k in (0, 1):
        names = [str(p[k].name if k == 0 else p[k]) for p in pairs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise BackendConfigError(f"backend {dup[0]!r} is listed twice")
    return [p[0] for p in pairs], {p[0].name: p[1] for p in pairs}
