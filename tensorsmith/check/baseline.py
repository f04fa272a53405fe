"""The baseline: the failures a user's repository knows about, and how a run's verdicts compare with it.

The file is JSON committed by the user (written by `--update-baseline`), keyed "CASE :: TARGET" with
the failing verdict's identity (kind, stage, output: what `Verdict.same_as` compares) and, for
people, its category and first message line. A cell absent from it is expected to pass, or, for a
corpus entry, to match the entry's own expectation ("ok" in the baseline overrides an entry that
expects a failure). Rewriting keeps the cells of cases this run did not reach, so a budget-limited
run never forgets known failures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import tensorsmith
from oracles.judge import Verdict
from tensorsmith.converter import category

FORMAT = "tensorsmith-check-baseline/1"

# what happened to one (case, target) cell, compared with what was known
PASS, NEW, KNOWN, FIXED, CHANGED, FLAKY, SKIPPED = "pass", "new", "known", "fixed", "changed", "flaky", "skipped"
FAILING = (NEW, CHANGED)  # statuses that fail the check


class BaselineError(ValueError):
    """A baseline file that cannot be used (exit 2: the message names the file and the problem)."""


def key(case_id: str, target: str) -> str:
    return f"{case_id} :: {target}"


def identity(v: Verdict) -> dict:
    """What a known failure must still be to stay "known"."""
    return {"kind": v.kind, "stage": v.stage, "output": v.output}


def entry(v: Verdict, *, flaky: bool = False) -> dict:
    first = v.message.splitlines()[0][:200] if v.message else ""
    return dict(identity(v), category=category(v), message=first, **({"flaky": True} if flaky else {}))


@dataclass
class Baseline:
    path: str = ""
    sweep: dict | None = None
    versions: dict | None = None
    tensorsmith: str = ""
    known: dict | None = None  # key -> entry

    @classmethod
    def load(cls, file: Path | None) -> Baseline:
        if file is None or not Path(file).exists():
            return cls(known={})
        try:
            data = json.loads(Path(file).read_text())
        except (OSError, ValueError) as e:
            raise BaselineError(f"baseline {str(file)!r} is unreadable: {e}") from e
        if data.get("format") != FORMAT:
            raise BaselineError(f"baseline {str(file)!r} has format {data.get('format')!r}; expected {FORMAT!r}")
        return cls(data["path"], data["sweep"], data.get("versions", {}), data.get("tensorsmith", ""), data["known"])

    def mismatch(self, path: str, sweep: dict) -> str:
        """Why this baseline does not describe a run of (path, sweep), or ""."""
        if self.sweep is None:
            return ""
        if self.path != path:
            return f"it was recorded for path {self.path!r}, not {path!r}"
        if self.sweep != sweep:
            changed = sorted(k for k in set(sweep) | set(self.sweep) if sweep.get(k) != self.sweep.get(k))
            return f"it was recorded with another sweep (differs in: {', '.join(changed)})"
        return ""

    def save(self, file: Path, path: str, sweep: dict, versions: dict, known: dict, ran: set[str]) -> None:
        """Rewrite with this run's `known` cells (key -> `entry` or "ok"); cells of cases not in `ran` are kept."""
        kept = {k: v for k, v in (self.known or {}).items() if k.split(" :: ")[0] not in ran}
        data = {
            "format": FORMAT,
            "path": path,
            "sweep": sweep,
            "tensorsmith": tensorsmith.__version__,
            "versions": versions,
            "known": dict(sorted({**kept, **known}.items())),
        }
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        Path(file).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def compare(v: Verdict, known: dict | str | None) -> str:
    """The status of one cell: its verdict `v` against what was known (an entry, "ok" or None).

    An entry marked flaky (its failure did not repeat when it was recorded) never fails the check:
    such a cell passes, fails the known way, or is reported flaky again.
    """
    if known in (None, "ok"):
        return PASS if v.ok else NEW
    same = identity(v) == {k: known.get(k, "") for k in ("kind", "stage", "output")}
    if known.get("flaky"):
        return PASS if v.ok else KNOWN if same else FLAKY
    if v.ok:
        return FIXED
    return KNOWN if same else CHANGED
