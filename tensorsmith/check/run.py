"""Run a check: every case through the path, each (case, target) cell compared with what is known.

Cases run in a fixed order (the corpus, then the sweep, smallest models first) until the budget is
spent; cases past it are reported as skipped, never as passing. A cell that fails where nothing (or
something else) was known is run once more: if the second run disagrees it is reported as flaky
rather than failing a pull request on noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from oracles.judge import Verdict
from tensorsmith.check.baseline import FAILING, FLAKY, SKIPPED, Baseline, compare, key
from tensorsmith.check.cases import Case, Sweep, sweep_case, sweep_ids
from tensorsmith.converter import ConverterPath, PathResult


@dataclass
class Cell:
    """One (case, target): its verdict (None when the case did not run) and its status against the baseline."""

    case: str
    target: str
    status: str
    verdict: Verdict | None = None
    known: dict | None = None
    seconds: float = 0.0
    skip: str = ""
    artifact: str = ""
    corpus_expects_failure: bool = False  # a corpus entry expects this cell to fail


@dataclass
class CheckResult:
    path: str
    targets: list[str]
    versions: dict
    budget_s: float
    cells: list[Cell] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.status in FAILING for c in self.cells)


@dataclass
class Runner:
    """The loop of a check; `on_failure(case, target, verdict, result)` writes an artifact, returns its path."""

    path: ConverterPath
    baseline: Baseline
    sweep: Sweep
    corpus: list[Case]  # read before any worker starts, so an unreadable entry fails at once
    deadline: float  # time.monotonic() past which no case starts (the budget counts worker start-up too)
    rerun: bool = True
    on_failure: Callable | None = None
    log: Callable[[str], None] = lambda line: None

    def cases(self) -> Iterator[tuple[str, Callable[[], Case]]]:
        """(case id, a function building the case): sweep cases are generated only when reached."""
        for case in self.corpus:
            yield case.id, lambda case=case: case
        for case_id, size, seed in sweep_ids(self.sweep):
            yield case_id, lambda a=(case_id, size, seed): sweep_case(self.sweep, self.path.path, *a)

    def run(self, result: CheckResult) -> set[str]:
        """Fill `result.cells`; return the ids of the cases that ran."""
        ran: set[str] = set()
        targets = self.path.targets()
        for case_id, build in self.cases():
            if time.monotonic() >= self.deadline:
                result.cells += [Cell(case_id, t, SKIPPED, skip="time budget spent") for t in targets]
                continue
            started = time.monotonic()
            case = build()
            if case.skip:
                result.cells += [Cell(case_id, t, SKIPPED, skip=case.skip) for t in targets]
                self.log(f"{case_id}: skipped ({case.skip})")
                continue
            outcome = self.path.run_test(case.graph, case.inputs, case.weights)
            if outcome.reference_error is not None:
                why = f"the reference failed: {outcome.reference_error.message.splitlines()[0][:200]}"
                result.cells += [Cell(case_id, t, SKIPPED, skip=why) for t in targets]
                self.log(f"{case_id}: skipped ({why})")
                continue
            ran.add(case_id)
            cells = [self._cell(case, t, outcome) for t in targets]
            seconds = (time.monotonic() - started) / len(targets)
            for c in cells:
                c.seconds = seconds
            result.cells += cells
            self.log(f"{case_id}: " + ", ".join(f"{c.target} {c.verdict.kind} [{c.status}]" for c in cells))
        return ran

    def _cell(self, case: Case, target: str, outcome: PathResult) -> Cell:
        k = key(case.id, target)
        known = self.baseline.known.get(k, case.expect.get(target))
        v = outcome.by_target[target]
        cell = Cell(case.id, target, compare(v, known), v, known if isinstance(known, dict) else None)
        cell.corpus_expects_failure = isinstance(case.expect.get(target), dict)
        if cell.status in FAILING and self.rerun:
            again = self.path.run_test(case.graph, case.inputs, case.weights).by_target.get(target)
            if again is None or not again.same_as(v):
                cell.status = FLAKY
        if cell.status in FAILING and self.on_failure is not None:
            cell.artifact = str(self.on_failure(case, target, v, outcome))
        return cell
