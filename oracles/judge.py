"""Judge one test: every backend's outcome against the references; classify and attribute failures."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from oracles.backends.catalog import CATALOG
from oracles.compare import OK, Mismatch, compare
from oracles.gaps import gap_key
from oracles.result import Outcome

GAP = "support_gap"


@dataclass
class Verdict:
    """What one backend did on one test. kind: "ok", a failure kind, a mismatch kind, or "support_gap"."""

    backend: str
    kind: str
    stage: str = ""
    message: str = ""
    output: str = ""
    detail: dict = field(default_factory=dict)
    gap: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == OK

    @property
    def is_finding(self) -> bool:
        return self.kind not in (OK, GAP)

    def same_as(self, other: Verdict) -> bool:
        """The same failure class (used to tell a real failure from a nondeterministic one)."""
        return (self.kind, self.stage, self.output) == (other.kind, other.stage, other.output)


def judge(
    outcome: Outcome,
    kind_name: str,
    expected: dict[str, tuple[str, tuple[int, ...]]],
    ref32: dict[str, np.ndarray],
    ref64: dict[str, np.ndarray],
    precision: dict[str, set[str]] | None = None,
) -> Verdict:
    """The verdict for one backend's outcome (see module docstring); `precision` as in `compare`."""
    if outcome.failure is not None:
        f = outcome.failure
        key = gap_key(kind_name, f)
        if key is not None:
            return Verdict(outcome.backend, GAP, f.stage, f.message, gap=key)
        return Verdict(outcome.backend, f.kind, f.stage, f.message, detail={"signal": f.signal})
    kind = CATALOG.get(kind_name)
    m: Mismatch = compare(
        outcome.outputs, expected, ref32, ref64, widest=kind.widest_float if kind else "float64", precision=precision
    )
    if m.ok:
        return Verdict(outcome.backend, OK)
    return Verdict(outcome.backend, m.kind, "run", _describe(m), m.output, m.detail)


def _describe(m: Mismatch) -> str:
    d = m.detail
    if "max_abs_err" in d:
        return f"{m.kind} in {m.output}: max abs error {d['max_abs_err']:.3g} ({d['mismatched']}/{d['size']} elements)"
    return f"{m.kind} in {m.output}: {d}"


def attribute(verdicts: list[Verdict], kinds: dict[str, str] | None = None) -> dict[str, str]:
    """Who is wrong: backend -> "backend" (it alone disagrees) or "reference?" (every backend disagrees alike).

    When all backends that ran disagree with the reference on the same output in the same way, the
    reference (our specs) is the likelier culprit; that is reported as a suspect, not a backend bug.
    Only if ONNX Runtime, the reference implementation of ONNX, is among them (`kinds`: backend ->
    catalog name): TVM and OpenVINO wrong alike while ONNX Runtime lacks a kernel are two bugs, not
    ours (regression, bench/results/findings.md: ReduceLogSum with noop_with_empty_axes).
    """
    ran = [v for v in verdicts if v.kind != GAP]
    wrong = [v for v in ran if v.is_finding and v.stage == "run" and v.output]
    out = {v.backend: "backend" for v in ran if v.is_finding}
    kinds = kinds or {}
    ort = any(CATALOG[k].module == "ort_backend" for v in wrong if (k := kinds.get(v.backend, v.backend)) in CATALOG)
    if ort and len(ran) >= 2 and len(wrong) == len(ran) and len({(v.kind, v.output) for v in wrong}) == 1:
        for v in wrong:
            out[v.backend] = "reference?"
    return out
