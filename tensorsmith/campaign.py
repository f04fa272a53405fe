"""A fuzz campaign: generate, search inputs, run every backend, judge, write findings; resumable.

This is the one module that wires the fuzzer, the oracles and the findings store together. Tests are
made ahead by `tensorsmith.produce` (generation, input search and the torch references, in `jobs`
processes) and judged here in index order, with every backend's worker running the same test at
once. State lives in OUT/state.json (written atomically after every test with a finding, and at
least once a second) so a restarted campaign continues where it stopped: a test after the last save
is made again, identically; finding folders are named by (seed, backend, kind), so none is written
twice. New findings are signed at once and reduced by a background thread with its own workers
(tensorsmith.reducer), then uploaded; a restarted campaign reduces and uploads what was left.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import tensorsmith
from fuzzer.generate.config import GenConfig
from fuzzer.spec import registry
from oracles.backends.catalog import parse_backend
from oracles.backends.process import BackendProcess, BackendUnavailable
from oracles.judge import GAP, Verdict, attribute, judge
from tensorsmith.findings import finding_id, write_finding
from tensorsmith.produce import Made, Producer
from tensorsmith.reducer import NOT_REDUCED, BackgroundReducer, mark_uploaded, needs_reduction, uploaded

# findings waiting for the background reducer before the campaign waits for it to catch up
MAX_BACKLOG = 16


class CampaignError(Exception):
    """A campaign that cannot start as configured (exit code 2)."""


@dataclass(frozen=True)
class CampaignConfig:
    backends: tuple[str, ...]
    out: Path
    seed: int = 0
    tests: int | None = None
    time_s: float | None = None
    gen: GenConfig = field(default_factory=GenConfig)
    # most models are clean in 0-5 steps; the budget is spent only by the few that are not (about 10-30
    # ms a step): 100 cleans 0.980 / 0.966 of models at 20 / 30 nodes, 50 only 0.976 / 0.957
    # (bench/search_bench.py, 700 seeds)
    search_steps: int = 100
    timeout_s: float = 60.0
    mem_mb: int = 4096
    rerun: bool = True
    reduce_s: float = 60.0  # reduce each new finding for at most this long (0: only sign it)
    path: str = "onnx"  # "onnx": backends run the generated model; else a converter path (tensorsmith.converter)
    jobs: int = 0  # processes making tests ahead (tensorsmith.produce); 0: made inline. Never changes results

    def identity(self) -> dict:
        """What must match for a resumed campaign to continue the same sequence of tests."""
        gen = self.gen.to_json()
        ident = {"seed": self.seed, "backends": list(self.backends), "gen": gen, "steps": self.search_steps}
        return ident if self.path == "onnx" else dict(ident, path=self.path)


@dataclass
class Stats:
    tests: int = 0
    no_clean_inputs: int = 0
    findings: int = 0
    nondeterministic: int = 0
    reference_errors: int = 0
    internal_errors: int = 0  # our own crashes while making a test (internal_errors.jsonl)
    suspects: int = 0  # failures blamed on our reference ("reference?"), kept in suspects/, not reported
    seconds: float = 0.0  # wall time spent running, over every session of the campaign
    per_backend: dict = field(default_factory=dict)  # backend -> Counter of verdict kinds
    op_counts: dict = field(default_factory=dict)  # op type -> tests that used it (coverage)
    gaps: dict = field(default_factory=dict)  # gap key -> count


class Campaign:
    """Runs tests until the budget is spent or it is interrupted (see module docstring)."""

    def __init__(self, cfg: CampaignConfig, *, on_test=None, uploader=None):
        self.cfg = cfg
        self.on_test = on_test
        self.uploader = uploader
        self.specs = [parse_backend(b) for b in cfg.backends]
        self.out = Path(cfg.out)
        self.stats = Stats()
        self.next_index = 0
        self._stop = False
        self.procs: dict[str, BackendProcess] = {}
        self.converter = None
        self._pool: ThreadPoolExecutor | None = None  # runs one test on every backend at once
        self.reducer: BackgroundReducer | None = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> Producer:
        """Load the state, start the producers, then every backend worker (in parallel: their imports
        take seconds each, and the producers' imports overlap them); the producer of the next tests.
        A backend that cannot start stops the campaign here, before any test (CampaignError)."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "findings").mkdir(exist_ok=True)
        self._load_state()
        cfg = self.cfg
        producer = Producer(cfg.gen, cfg.seed, self.next_index, cfg.search_steps, cfg.jobs)
        producer.start()
        try:
            self._start_backends()
            if cfg.reduce_s > 0:
                self.reducer = BackgroundReducer(cfg.reduce_s, timeout_s=cfg.timeout_s, mem_mb=cfg.mem_mb)
            self._left_over()
        except BaseException as e:
            producer.close()
            self.close(abort=True)
            if isinstance(e, BackendUnavailable):
                raise CampaignError(str(e)) from None
            raise
        return producer

    def _start_backends(self) -> None:
        cfg = self.cfg
        if cfg.path != "onnx":
            from tensorsmith.converter import ConverterPath

            self.converter = ConverterPath(cfg.path, self.specs, timeout_s=cfg.timeout_s, mem_mb=cfg.mem_mb)
            self.converter.start(references=False)
        else:
            for spec in self.specs:
                self.procs[spec.name] = BackendProcess(spec, timeout_s=cfg.timeout_s, mem_mb=cfg.mem_mb)
        if len(self.procs) > 1:
            self._pool = ThreadPoolExecutor(len(self.procs), thread_name_prefix="backend")
        list((self._pool.map if self._pool else map)(BackendProcess.start, self.procs.values()))

    def _left_over(self) -> None:
        """Findings an earlier session wrote but did not reduce or upload: queued or uploaded now."""
        for folder in sorted((self.out / "findings").iterdir()):
            if not (folder / "meta.json").is_file():
                continue
            if self.reducer is not None and needs_reduction(folder):
                self.reducer.submit(folder)
            elif self.uploader and not uploaded(folder):
                self._upload(folder)

    def close(self, *, abort: bool = False) -> None:
        """Stop every worker; the background reducer first finishes its queue, unless `abort`."""
        if self.reducer is not None:
            if not abort and self.reducer.backlog:
                print(
                    f"reducing the last {self.reducer.backlog} findings (Ctrl-C leaves them to the next session)",
                    file=sys.stderr,
                )
                try:
                    self.reducer.drain()
                except KeyboardInterrupt:
                    abort = True
            self._collect()
            self.reducer.close(abort=abort)
            self._collect()
            self.reducer = None
        for p in self.procs.values():
            p.close()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self.converter is not None:
            self.converter.close()

    def stop(self) -> None:
        self._stop = True

    def run(self, producer: Producer | None = None) -> Stats:
        """Run until the test count or time budget is reached, or stop() / Ctrl-C; `producer` is what
        `start` returned, if the caller started the campaign itself (to fail before a display)."""
        producer = producer or self.start()
        t0 = saved = time.monotonic()
        seconds_before = self.stats.seconds
        previous = signal.signal(signal.SIGINT, self._sigint)
        finished = False
        try:
            while not self._stop and not self._budget_spent(t0):
                findings = self.stats.findings
                self.run_made(next(producer))
                self.next_index += 1
                now = time.monotonic()
                self.stats.seconds = seconds_before + now - t0
                if self.stats.findings != findings or now - saved >= 1.0:
                    self._save_state()
                    saved = now
                if self.on_test:
                    self.on_test(self)
                if self.uploader:
                    self.uploader.heartbeat(self)
                if self.reducer is not None:
                    self._collect()
                    self.reducer.wait_below(MAX_BACKLOG)
            finished = not self._stop  # the budget is spent: reduce every finding before stopping
        finally:
            signal.signal(signal.SIGINT, previous)
            producer.close()
            self._save_state()  # next_index counts only finished tests, so this is right even after an error
            # stopped early (Ctrl-C, stop(), an error): findings not yet reduced wait for the next session
            self.close(abort=not finished)
            if self.uploader:
                self.uploader.heartbeat(self, force=True)
                self.uploader.close()
        return self.stats

    def _sigint(self, signum, frame) -> None:
        if self._stop:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self._stop = True

    def _budget_spent(self, t0: float) -> bool:
        if self.cfg.tests is not None and self.stats.tests >= self.cfg.tests:
            return True
        return self.cfg.time_s is not None and time.monotonic() - t0 >= self.cfg.time_s

    # --- one test -----------------------------------------------------------------------
    def run_made(self, made: Made) -> list[Verdict]:
        seed, index, graph = made.seed, made.index, made.graph
        self.stats.tests += 1
        for op in made.op_types:
            self.stats.op_counts[op] = self.stats.op_counts.get(op, 0) + 1
        if made.error:
            self.stats.internal_errors += 1
            self._append("internal_errors.jsonl", {"seed": seed, "index": index, "error": made.error})
            return []
        if not made.success:
            self.stats.no_clean_inputs += 1
            return []
        model, feeds, r32, r64 = made.model, made.feeds, made.r32, made.r64
        if not (r32.ok and r64.ok):
            self.stats.reference_errors += 1
            self._log_reference_error(seed, r32 if not r32.ok else r64)
            return []
        if self.converter is not None:
            return self._converter_test(seed, index, graph, model, feeds, r32, r64)
        expected = {n: (graph.tensors[n].ttype.dtype.name, tuple(graph.tensors[n].ttype.shape)) for n in graph.outputs}
        precision = graph.path_floats()
        verdicts, outcomes = [], self._run_all(model, feeds, graph)
        for spec in self.specs:
            verdicts.append(judge(outcomes[spec.name], spec.kind_name, expected, r32.outputs, r64.outputs, precision))
        blame = attribute(verdicts, {s.name: s.kind_name for s in self.specs})
        for spec, v in zip(self.specs, verdicts):
            self._count(spec.name, v)
            if v.kind == GAP:
                self.stats.gaps[v.gap] = self.stats.gaps.get(v.gap, 0) + 1
            elif v.is_finding:
                self._finding(
                    seed,
                    index,
                    spec,
                    v,
                    blame.get(spec.name, "backend"),
                    graph,
                    model,
                    feeds,
                    outcomes,
                    expected,
                    r32,
                    r64,
                )
        return verdicts

    def _run_all(self, model: bytes, feeds: dict, graph) -> dict:
        """Every backend's outcome on one model, the workers running at once."""
        if self._pool is None:
            return {s.name: self.procs[s.name].run(model, feeds, graph=graph) for s in self.specs}
        futures = {s.name: self._pool.submit(self.procs[s.name].run, model, feeds, graph=graph) for s in self.specs}
        return {name: f.result() for name, f in futures.items()}

    def _finding(self, seed, index, spec, v, blame, graph, model, feeds, outcomes, expected, r32, r64) -> None:
        if self.cfg.rerun:
            again = judge(
                self.procs[spec.name].run(model, feeds, graph=graph),
                spec.kind_name,
                expected,
                r32.outputs,
                r64.outputs,
                graph.path_floats(),
            )
            if not again.same_as(v):
                self.stats.nondeterministic += 1
                self._append(
                    "nondeterministic.jsonl",
                    {"seed": seed, "backend": spec.name, "first": v.kind, "second": again.kind},
                )
                return
        outcome = outcomes[spec.name]
        fid = finding_id(seed, spec.name, v.kind, v.stage)
        # every backend that ran, ONNX Runtime among them, disagrees with our reference alike: more likely
        # a bug of our spec than of theirs; kept in suspects/ for a look, not reported as a finding
        suspect = blame != "backend"
        parent = self.out / ("suspects" if suspect else "findings")
        if (parent / fid).exists():
            # written before a crash interrupted this test; its upload may never have left the client, and
            # the server ignores a repeated upload, so send it again (regression: a finding lost in Docker)
            if suspect:
                self.stats.suspects += 1
                return
            self.stats.findings += 1
            pending = self.reducer is not None and needs_reduction(parent / fid)  # queued by _left_over
            if self.uploader and not pending and not uploaded(parent / fid):
                self._upload(parent / fid)
            return
        ref = {
            n: (r64.outputs[n] if expected[n][0].startswith(("float", "bfloat")) else r32.outputs[n])
            for n in graph.outputs
        }
        title = f"{v.kind} in {spec.kind_name} ({v.stage}): {v.message.splitlines()[0][:160] if v.message else ''}"
        meta = {
            "title": title,
            "seed": seed,
            "test_index": index,
            "tensorsmith_version": tensorsmith.__version__,
            "backend": spec.name,
            "backend_kind": spec.kind_name,
            "backend_version": outcome.version,
            "backend_options": spec.kind.options,
            "python": spec.python,
            "kind": v.kind,
            "stage": v.stage,
            "message": v.message,
            "output": v.output,
            "detail": v.detail,
            "blame": blame,
            "error_log": outcome.failure.log if outcome.failure else "",
            "ops": [n.op for n in graph.nodes],
            "op_types": sorted({registry.get(n.op).op_type for n in graph.nodes}),
            "gen_config": self.cfg.gen.to_json(),
            "outputs": {n: {"dtype": d, "shape": list(s)} for n, (d, s) in expected.items()},
            "noise": {"abs": _ref_noise(r32.outputs, r64.outputs, expected)},
            "timeout_s": self.cfg.timeout_s,
            "other_backends": {k: o.failure.kind if o.failure else "ok" for k, o in outcomes.items() if k != spec.name},
        }
        folder = write_finding(
            parent,
            fid,
            model=model,
            feeds=feeds,
            expected=ref,
            actual=outcome.outputs or {},
            meta=meta,
            spec=spec,
            graph=graph,
        )
        if suspect:
            self.stats.suspects += 1
            return
        self.stats.findings += 1
        self._sign(folder)
        if self.reducer is not None and v.kind not in NOT_REDUCED:
            self.reducer.submit(folder, graph)  # uploaded once reduced (see _collect)
        elif self.uploader:
            self._upload(folder)

    def _converter_test(self, seed, index, graph, model, feeds, r32, r64) -> list[Verdict]:
        """One test through a converter path: export, then the backends on the exported model."""
        from tensorsmith.check.artifacts import write_artifact
        from tensorsmith.check.cases import Case

        result = self.converter.run(graph, model, feeds, r32.outputs, r64.outputs)
        weights = {n: graph.values[n] for n in graph.weights}
        case = Case(id=f"seed{seed}", source="fuzz", graph=graph, inputs=feeds, weights=weights)
        for v in result.verdicts:
            self._count(v.backend, v)
            if v.kind == GAP:
                self.stats.gaps[v.gap] = self.stats.gaps.get(v.gap, 0) + 1
            elif v.is_finding:
                folder = write_artifact(self.out / "findings", self.converter, case, v.backend, v, result)
                self.stats.findings += 1
                self._append(
                    "findings.jsonl",
                    {
                        "seed": seed,
                        "index": index,
                        "target": v.backend,
                        "kind": v.kind,
                        "stage": v.stage,
                        "message": v.message[:300],
                        "folder": folder.name,
                    },
                )
        return result.verdicts

    def _sign(self, folder: Path) -> None:
        """Name a new finding by its signature (the background reducer may rename it later)."""
        from tensorsmith.reduction import sign_finding

        sig = sign_finding(folder)
        meta = json.loads((folder / "meta.json").read_text())
        meta.update(title=sig.title, alt_titles=list(sig.alt_titles))
        (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")

    def _collect(self) -> None:
        """Upload the findings the background reducer finished; record its errors (ours) as data."""
        for folder in self.reducer.done() if self.reducer else []:
            if self.uploader and not uploaded(folder):
                self._upload(folder)
        for error in self.reducer.take_errors() if self.reducer else []:
            self.stats.internal_errors += 1
            self._append("internal_errors.jsonl", {"stage": "reduce", "error": error})

    def _upload(self, folder: Path) -> None:
        self.uploader.finding(folder)
        mark_uploaded(folder)

    def _count(self, backend: str, v: Verdict) -> None:
        c = self.stats.per_backend.setdefault(backend, Counter())
        c[v.kind] += 1

    def _log_reference_error(self, seed: int, out) -> None:
        self._append("reference_errors.jsonl", {"seed": seed, "backend": out.backend, **out.failure.to_json()})

    def _append(self, name: str, record: dict) -> None:
        with open(self.out / name, "a") as f:
            f.write(json.dumps(record, default=str) + "\n")

    # --- state --------------------------------------------------------------------------
    def _load_state(self) -> None:
        path = self.out / "state.json"
        if not path.exists():
            return
        state = json.loads(path.read_text())
        if state["identity"] != self.cfg.identity():
            raise CampaignError(
                f"{self.out} holds a campaign with another configuration ({state['identity']}); "
                "use a new --out directory or the same options"
            )
        self.next_index = state["next_index"]
        s = state["stats"]
        self.stats = Stats(**{k: v for k, v in s.items() if k != "per_backend"})
        self.stats.per_backend = {k: Counter(v) for k, v in s["per_backend"].items()}

    def _save_state(self) -> None:
        stats = dict(vars(self.stats), per_backend={k: dict(v) for k, v in self.stats.per_backend.items()})
        state = {"identity": self.cfg.identity(), "next_index": self.next_index, "stats": stats}
        tmp = self.out / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1, default=str))
        os.replace(tmp, self.out / "state.json")


def _ref_noise(r32: dict, r64: dict, expected: dict) -> float:
    """Largest |float32 reference - float64 reference| over float outputs: the noise a correct backend may have."""
    worst = 0.0
    for n, (dtype, _) in expected.items():
        if dtype.startswith(("float", "bfloat")):
            a, b = np.asarray(r32[n], dtype=np.float64), np.asarray(r64[n], dtype=np.float64)
            fin = np.isfinite(a) & np.isfinite(b)
            if fin.any():
                worst = max(worst, float(np.max(np.abs(a - b)[fin])))
    return worst
