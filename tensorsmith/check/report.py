"""A check's reports: JUnit XML (one testsuite per target, one testcase per case) and a Markdown summary.

In the JUnit file a new or changed failure is a <failure>, a known failure and a case that could not
run are <skipped> with the reason (JUnit has no "expected failure"), and a fixed one passes with a
note in <system-out>. The Markdown is written for a CI job summary ($GITHUB_STEP_SUMMARY).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from tensorsmith.check.baseline import CHANGED, FAILING, FIXED, FLAKY, KNOWN, NEW, SKIPPED
from tensorsmith.check.run import CheckResult
from tensorsmith.converter import CATEGORIES, category

LABELS = {
    "ok": "ok",
    "export_crash": "export crash",
    "invalid_model": "invalid model",
    "load_failure": "load failure",
    "wrong_result": "wrong result",
    "run_failure": "run failure",
    "unsupported": "unsupported",
}


def _why(cell) -> str:
    v = cell.verdict
    first = v.message.splitlines()[0][:300] if v.message else ""
    where = f", {v.output}" if v.output else ""
    return f"{LABELS[category(v)]} ({v.kind}, {v.stage or 'run'}{where}): {first}".rstrip(": ")


def write_junit(result: CheckResult, file: Path) -> None:
    root = ET.Element("testsuites", name=f"tensorsmith check {result.path}")
    for target in result.targets:
        cells = [c for c in result.cells if c.target == target]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"tensorsmith check {result.path}: {target}",
            tests=str(len(cells)),
            failures=str(sum(c.status in FAILING for c in cells)),
            skipped=str(sum(c.status in (KNOWN, SKIPPED, FLAKY) for c in cells)),
            time=f"{sum(c.seconds for c in cells):.3f}",
        )
        props = ET.SubElement(suite, "properties")
        for name, version in sorted(result.versions.items()):
            ET.SubElement(props, "property", name=name, value=version)
        for c in cells:
            case = ET.SubElement(suite, "testcase", classname=f"check.{result.path}.{target}", name=c.case)
            case.set("time", f"{c.seconds:.3f}")
            if c.status in FAILING:
                was = f" (baseline: {c.known.get('kind')} at {c.known.get('stage')})" if c.status == CHANGED else ""
                fail = ET.SubElement(case, "failure", message=f"{c.status} failure: {_why(c)}{was}"[:1000])
                fail.set("type", category(c.verdict))
                fail.text = (c.verdict.message[:4000] + (f"\n\nartifact: {c.artifact}" if c.artifact else "")).strip()
            elif c.status == KNOWN:
                ET.SubElement(case, "skipped", message=f"known failure: {_why(c)}"[:1000])
            elif c.status == FLAKY:
                ET.SubElement(case, "skipped", message=f"flaky: failed once ({_why(c)}), passed on rerun"[:1000])
            elif c.status == SKIPPED:
                ET.SubElement(case, "skipped", message=c.skip)
            elif c.status == FIXED:
                ET.SubElement(case, "system-out").text = f"fixed: was {c.known.get('kind')} at {c.known.get('stage')}"
    ET.indent(root)
    Path(file).parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(file, encoding="utf-8", xml_declaration=True)


def split(result: CheckResult) -> dict[str, Counter]:
    """target -> Counter of verdict categories over the cells that ran (plus "skipped")."""
    out = {t: Counter() for t in result.targets}
    for c in result.cells:
        out[c.target]["skipped" if c.verdict is None else category(c.verdict)] += 1
    return out


def markdown(result: CheckResult) -> str:
    status = Counter(c.status for c in result.cells)
    bad = status[NEW] + status[CHANGED]
    head = "FAILED" if bad else "passed"
    lines = [
        f"## tensorsmith check `{result.path}`: {head}" + (f" ({bad} new failures)" if bad else ""),
        "",
        f"{len({c.case for c in result.cells})} cases x {len(result.targets)} targets in {result.seconds:.0f} s "
        f"(budget {result.budget_s:.0f} s). " + ", ".join(f"{k} {v}" for k, v in sorted(result.versions.items())),
        "",
    ]
    if result.notes:
        lines += [f"> {n}" for n in result.notes] + [""]
    cols = list(CATEGORIES) + ["skipped"]
    lines += ["| target | " + " | ".join(LABELS.get(c, c) for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for target, counts in split(result).items():
        lines.append(f"| {target} | " + " | ".join(str(counts.get(c, 0)) for c in cols) + " |")
    lines.append("")
    lines.append(
        f"new {status[NEW]}, changed {status[CHANGED]}, fixed {status[FIXED]}, known {status[KNOWN]}, "
        f"flaky {status[FLAKY]}, skipped {status[SKIPPED]}"
    )
    for title, wanted in (("New and changed failures", FAILING), ("Fixed since the baseline", (FIXED,))):
        cells = [c for c in result.cells if c.status in wanted]
        if not cells:
            continue
        lines += ["", f"### {title}", "", "| case | target | verdict | artifact |", "|---|---|---|---|"]
        for c in cells:
            text = _why(c) if c.verdict and not c.verdict.ok else f"was {c.known.get('kind')} at {c.known.get('stage')}"
            text = text.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{c.case}` | {c.target} | {text} | {f'`{c.artifact}`' if c.artifact else ''} |")
    if bad:
        lines += ["", "Each artifact folder holds the model, the exported model, inputs, outputs and `repro.py`; "]
        lines += ["accept a failure as known with `--update-baseline`, or copy its folder into the corpus."]
    return "\n".join(lines) + "\n"
