"""Reduce a finding folder with the real backends, then rewrite it around the reduced model.

    result = reduce_finding(Path("out/findings/seed12-tvm-exception-..."), deadline_s=60)

The finding's graph is rebuilt (the `graph` argument, else `graph.pkl`, else regenerated from the
seed and generator config in meta.json and checked byte for byte against model.onnx). The
predicate runs the finding's backend (and, for wrong results, the torch references) as the
campaign does and holds when the verdict has the same kind and stage and the same signature key
(title without ops, see oracles.signature). The reduced model, inputs, expected and actual outputs
and repro.py replace the originals, which move to `original/`; meta.json gains `reduction` and the
new title and alternative titles. A finding that cannot be rebuilt or no longer fails keeps its
files and gains only `reduction.status` and its title.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import generate
from fuzzer.graph.model import Graph
from fuzzer.graph.onnx_io import to_onnx
from fuzzer.reduce import reduce
from fuzzer.search import check as search_check
from fuzzer.spec import registry
from fuzzer.spec.dtypes import DType
from oracles import repro_template
from oracles.backends.catalog import parse_backend
from oracles.backends.process import BackendProcess
from oracles.judge import judge
from oracles.result import KINDS as FAILURE_KINDS
from oracles.signature import Signature, op_types, sign
from tensorsmith.findings import backend_sources, save_arrays

MOVED = ("model.onnx", "inputs.npz", "expected.npz", "actual.npz", "repro.py", "meta.json", "graph.pkl")
REFERENCES = ("torch", "torch-f64")


class FindingError(ValueError):
    """The folder is not a finding (no meta.json or model.onnx): a user error (exit code 2)."""


class ReductionAborted(Exception):
    """The caller's `abort` event was set: the reduction stopped between two runs, the folder untouched."""


@dataclass
class ReductionResult:
    """What `reduce_finding` did. status: reduced, unchanged, already_reduced, not_reproducible, flaky, no_graph."""

    folder: Path
    status: str
    title: str
    alt_titles: list[str]
    title_before: str
    nodes_before: int
    nodes_after: int
    seconds: float = 0.0
    calls: int = 0
    stopped: str = ""
    passes: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("folder")
        d.pop("title")
        d.pop("alt_titles")
        return d


# --- the folder -----------------------------------------------------------------------------


def load_arrays(path: Path, bf16: list[str] = ()) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    with np.load(path) as z:
        out = {k: z[k] for k in z.files}
    if bf16:
        import ml_dtypes

        for name in bf16:
            if name in out:
                out[name] = out[name].astype(ml_dtypes.bfloat16)
    return out


def gen_config(d: dict) -> GenConfig:
    """The GenConfig a finding's meta["gen_config"] describes (unknown keys from newer versions are ignored)."""
    names = {f.name for f in dataclasses.fields(GenConfig)}
    kw = {k: v for k, v in d.items() if k in names}
    kw["dtypes"] = frozenset(DType.parse(x) for x in d["dtypes"])
    kw["ops"] = tuple(d.get("ops", ()))
    kw["exclude_ops"] = tuple(d.get("exclude_ops", ()))
    return GenConfig(**kw)


def rebuild_graph(folder: Path, meta: dict, model: bytes) -> Graph | None:
    """The finding's Graph: graph.pkl, else regenerated from (seed, gen_config) with model.onnx's weights.

    None if regeneration does not give model.onnx back byte for byte (another tensorsmith version).
    """
    if (folder / "graph.pkl").exists():
        return pickle.loads((folder / "graph.pkl").read_bytes())
    graph, _ = generate(gen_config(meta["gen_config"]), meta["seed"])
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load_from_string(model).graph.initializer}
    if any(n not in inits for n in graph.weights):
        return None
    graph.values = {n: inits[n] for n in graph.weights}
    return graph if to_onnx(graph).SerializeToString() == model else None


def finding_signature(meta: dict, model: bytes) -> Signature:
    """The signature of a finding as it is on disk (the model's ops as they are)."""
    return sign(
        backend=meta["backend"],
        kind=meta["kind"],
        stage=meta["stage"],
        message=meta.get("message", ""),
        log=meta.get("error_log", ""),
        ops=op_types(model),
        dtype=meta.get("outputs", {}).get(meta.get("output") or "", {}).get("dtype", ""),
    )


def sign_finding(folder: Path) -> Signature:
    """The signature of the finding in `folder` (reduced or not)."""
    meta = json.loads((folder / "meta.json").read_text())
    return finding_signature(meta, (folder / "model.onnx").read_bytes())


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


# --- running a candidate --------------------------------------------------------------------


class Runner:
    """Runs a graph on the finding's backend and the references and judges it as the campaign does."""

    def __init__(self, meta: dict, procs: Mapping[str, BackendProcess], key: str, graph: Graph, abort=None):
        self.meta = meta
        self.abort = abort  # a threading.Event: set, the next run raises ReductionAborted
        self.spec = parse_backend(meta["backend"])
        self.procs = procs
        self.key = key  # the signature key every candidate must keep
        # a wrong output must be the original one or feed it: an error in another branch is another bug
        self.upstream = upstream(graph, meta["output"]) if meta.get("output") in graph.tensors else None

    def run(self, graph: Graph, feeds: dict, *, refs: bool) -> tuple:
        """(verdict, outcome, ref32, ref64) for the graph; verdict None if a reference failed."""
        if self.abort is not None and self.abort.is_set():
            raise ReductionAborted(self.meta.get("title", ""))
        model = to_onnx(graph).SerializeToString()
        expected = {n: (graph.tensors[n].ttype.dtype.name, tuple(graph.tensors[n].ttype.shape)) for n in graph.outputs}
        r32 = r64 = {}
        if refs:
            o32 = self.procs["torch"].run(model, feeds, graph=graph)
            o64 = self.procs["torch-f64"].run(model, feeds, graph=graph)
            if not (o32.ok and o64.ok):
                return None, None, None, None
            r32, r64 = o32.outputs, o64.outputs
        out = self.procs[self.spec.name].run(model, feeds, graph=graph)
        if out.ok and not refs:
            return None, out, r32, r64  # a failure kind that did not fail: not the same bug
        return judge(out, self.spec.kind_name, expected, r32, r64, graph.path_floats()), out, r32, r64

    def signature(self, graph: Graph, verdict, outcome) -> Signature:
        out = graph.tensors.get(verdict.output)
        return sign(
            backend=self.meta["backend"],
            kind=verdict.kind,
            stage=verdict.stage,
            message=verdict.message,
            log=outcome.failure.log if outcome.failure else "",
            ops=op_types(to_onnx(graph)),
            dtype=out.ttype.dtype.name if out is not None else "",
        )

    def same_bug(self, graph: Graph, feeds: dict) -> bool:
        """The reduction predicate (see `matches`)."""
        verdict, outcome, _, _ = self.run(graph, feeds, refs=self.meta["kind"] not in FAILURE_KINDS)
        return self.matches(graph, verdict, outcome) is not None

    def matches(self, graph: Graph, verdict, outcome) -> Signature | None:
        """The signature if the verdict is the same bug (kind, stage, signature key, wrong output upstream)."""
        if verdict is None or (verdict.kind, verdict.stage) != (self.meta["kind"], self.meta["stage"]):
            return None
        if self.upstream is not None and verdict.output not in self.upstream:
            return None
        sig = self.signature(graph, verdict, outcome)
        return sig if sig.key == self.key else None


def upstream(graph: Graph, name: str) -> set[str]:
    """`name` and every tensor it depends on, in `graph`."""
    producer = graph.producer()
    out, todo = set(), [name]
    while todo:
        t = todo.pop()
        if t not in out:
            out.add(t)
            todo.extend(producer[t].inputs if t in producer else ())
    return out


def _admissible(graph: Graph, feeds: dict) -> bool:
    """Values as clean as the campaign's input search demands (no NaN, Inf or knife edge)."""
    return not search_check(graph, {n: feeds[n] for n in graph.inputs}, dict(graph.values))


def _start(meta: dict, procs: Mapping[str, BackendProcess] | None, timeout_s: float | None, mem_mb: int):
    """The processes to use: the caller's, completed with new ones (returned too, to be closed)."""
    procs = dict(procs or {})
    own = {}
    timeout_s = timeout_s or float(meta.get("timeout_s", 60.0))
    for name in (meta["backend"], *REFERENCES):
        if name not in procs:
            own[name] = procs[name] = BackendProcess(parse_backend(name), timeout_s=timeout_s, mem_mb=mem_mb)
    return procs, own


# --- the entry point ------------------------------------------------------------------------


def reduce_finding(
    folder: Path,
    *,
    deadline_s: float = 60.0,
    max_calls: int = 300,
    graph: Graph | None = None,
    procs: Mapping[str, BackendProcess] | None = None,
    timeout_s: float | None = None,
    mem_mb: int = 4096,
    force: bool = False,
    abort=None,
) -> ReductionResult:
    """Reduce the finding in `folder` in place (see module docstring).

    `procs` maps backend names ("tvm", "torch", "torch-f64", ...) to running processes to reuse (a
    campaign's); missing ones are started here and closed at the end. `graph` is the finding's
    Graph if the caller has it. A folder that holds `original/` was reduced already: it is left
    alone unless `force`. Setting the `abort` event (threading.Event) stops the reduction before its
    next run with ReductionAborted, leaving the folder as it was.
    """
    folder = Path(folder)
    missing = [n for n in ("meta.json", "model.onnx", "inputs.npz") if not (folder / n).is_file()]
    if missing:
        raise FindingError(f"{str(folder)!r} is not a finding folder: it has no {', '.join(missing)}")
    meta = json.loads((folder / "meta.json").read_text())
    model = (folder / "model.onnx").read_bytes()
    before = finding_signature(meta, model)
    nodes = len(onnx.load_from_string(model).graph.node)
    if (folder / "original").exists() and not force:
        return ReductionResult(folder, "already_reduced", meta["title"], meta.get("alt_titles", []), "", nodes, nodes)
    graph = graph if graph is not None else rebuild_graph(folder, meta, model)
    if graph is None:
        return _mark(folder, meta, before, "no_graph", nodes)
    feeds = load_arrays(folder / "inputs.npz", meta.get("bfloat16_inputs", []))
    procs, own = _start(meta, procs, timeout_s, mem_mb)
    try:
        return _reduce(
            folder, meta, before, graph, feeds, procs, nodes, deadline_s=deadline_s, max_calls=max_calls, abort=abort
        )
    finally:
        for p in own.values():
            p.close()


def _reduce(folder, meta, before, graph, feeds, procs, nodes, *, deadline_s, max_calls, abort) -> ReductionResult:
    runner = Runner(meta, procs, before.key, graph, abort)
    mismatch = meta["kind"] not in FAILURE_KINDS
    r = reduce(
        graph,
        feeds,
        runner.same_bug,
        deadline_s=deadline_s,
        max_calls=max_calls,
        admissible=_admissible if mismatch else None,
    )
    info = {"seconds": r.seconds, "calls": r.calls, "stopped": r.stopped, "passes": r.to_json()["passes"]}
    if not r.reproduced:
        return _mark(folder, meta, before, r.stopped, nodes, **info)
    verdict, outcome, r32, r64 = runner.run(r.graph, r.feeds, refs=True)  # once more, for the files
    after = runner.matches(r.graph, verdict, outcome)
    if after is None:
        return _mark(folder, meta, before, "flaky", nodes, **info)
    status = "reduced" if r.size_after < r.size_before else "unchanged"
    result = ReductionResult(
        folder, status, after.title, list(after.alt_titles), before.title, nodes, len(r.graph.nodes), **info
    )
    if status == "reduced":
        _rewrite(folder, meta, r.graph, r.feeds, verdict, outcome, r32, r64, after, result)
    else:
        _mark(folder, meta, before, status, nodes, **info)
    return result


def _mark(folder: Path, meta: dict, sig: Signature, status: str, nodes: int, **info) -> ReductionResult:
    """Record an unreduced outcome: the finding keeps its files and gains its signature."""
    result = ReductionResult(folder, status, sig.title, list(sig.alt_titles), sig.title, nodes, nodes, **info)
    meta = dict(meta, title=sig.title, alt_titles=list(sig.alt_titles)[:8], signature=sig.to_json())
    meta["reduction"] = result.to_json()
    _write_json(folder / "meta.json", meta)
    return result


def _rewrite(folder, meta, graph, feeds, verdict, outcome, r32, r64, sig, result) -> None:
    """Move the original files to original/ and write the reduced finding in their place."""
    tmp = folder / ".reduced.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model = to_onnx(graph).SerializeToString()
    (tmp / "model.onnx").write_bytes(model)
    (tmp / "graph.pkl").write_bytes(pickle.dumps(graph))
    floats = {n for n in graph.outputs if graph.tensors[n].ttype.dtype.is_float}
    expected = {n: (r64[n] if n in floats else r32[n]) for n in graph.outputs}
    new = _reduced_meta(meta, graph, verdict, outcome, r32, r64, sig, result)
    new["bfloat16_inputs"] = save_arrays(tmp / "inputs.npz", feeds)
    save_arrays(tmp / "expected.npz", expected)
    if outcome.outputs:
        save_arrays(tmp / "actual.npz", outcome.outputs)
    spec = parse_backend(meta["backend"])
    if not spec.kind.needs_graph:
        text = repro_template.render(
            sig.title, spec.name, outcome.version, backend_sources(spec.module), spec.kind.options
        )
        (tmp / "repro.py").write_text(text)
        os.chmod(tmp / "repro.py", 0o755)
    _write_json(tmp / "meta.json", new)
    again = (folder / "original").exists()  # reduced again (force): original/ keeps the very first files
    (folder / (".stale" if again else "original")).mkdir(exist_ok=True)
    for name in MOVED:
        if (folder / name).exists():
            os.replace(folder / name, folder / (".stale" if again else "original") / name)
    shutil.rmtree(folder / ".stale", ignore_errors=True)
    for path in tmp.iterdir():
        os.replace(path, folder / path.name)
    tmp.rmdir()


def _reduced_meta(meta, graph, verdict, outcome, r32, r64, sig, result) -> dict:
    out = dict(meta)
    out.update(
        title=sig.title,
        alt_titles=list(sig.alt_titles)[:8],
        signature=sig.to_json(),
        message=verdict.message,
        output=verdict.output,
        detail=verdict.detail,
        error_log=outcome.failure.log if outcome.failure else "",
        ops=[n.op for n in graph.nodes],
        op_types=sorted({registry.get(n.op).op_type for n in graph.nodes}),
        outputs={
            n: {"dtype": graph.tensors[n].ttype.dtype.name, "shape": list(graph.tensors[n].ttype.shape)}
            for n in graph.outputs
        },
        noise={"abs": _noise(graph, r32, r64)},
        reduction=result.to_json(),
    )
    return out


def _noise(graph: Graph, r32: dict, r64: dict) -> float:
    """Largest |float32 reference - float64 reference| over float outputs (as the campaign records it)."""
    worst = 0.0
    for n in graph.outputs:
        if graph.tensors[n].ttype.dtype.is_float:
            a, b = np.asarray(r32[n], dtype=np.float64), np.asarray(r64[n], dtype=np.float64)
            fin = np.isfinite(a) & np.isfinite(b)
            if fin.any():
                worst = max(worst, float(np.max(np.abs(a - b)[fin])))
    return worst
