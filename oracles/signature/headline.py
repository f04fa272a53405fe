"""The one line of a failure message that names the bug, per failure kind and backend (a table).

Backends bury the reason in different places: OpenVINO wraps it in conversion reports and "Check
'false' failed at" lines, TVM prefixes metadata notes, a crash has only its signal. A headline
extractor takes (message, log) and returns the meaningful line, normalised; a mismatch headline
keeps only the class of the difference (the numbers differ from run to run).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from oracles.signature.normalise import normalise, shorten

# lines that locate or wrap an error rather than state it
CONTEXT = [
    re.compile(p)
    for p in (
        r"^Exception from \S+$",
        r"^Check 'false' failed at \S+$",
        r"^FrontEnd API failed with \w+:?$",
        r"^Model wasn't fully converted",
        r"^-- .* with a message:$",
        r"^While validating (ONNX )?node ",
        r"^Summary:$",
        r"^-- Conversion is failed for:",
        r"^# Metadata omitted",
        r"^\[ERROR\]\s*$",
    )
]
# known message shapes rewritten so that what identifies the bug comes first (titles are cut at the end)
COMPACT: list[tuple[str, re.Pattern, str]] = [
    (
        "tvm binary dtypes",
        re.compile(
            r"Binary operators must have the same datatype for both operands\.\s*However, (?P<expr>.+?) uses "
            r"datatype (?P<l>\S+) on the LHS,? and datatype (?P<r>\S+) on the RHS\.?"
        ),
        # the dtype pair is the instance, the expression the bug: one converter fails for every pair
        r"Binary operators must have the same datatype: \g<expr>",
    ),
    ("ort status", re.compile(r"^.*\[ONNXRuntimeError\] : N : \w+ : "), ""),  # the exception type says it
    (
        "ort node",
        re.compile(
            r"Non-zero status code returned while running (?P<op>\w+) node\. Name:'[^']*' Status Message: (?P<msg>.*)"
        ),
        r"\g<msg> (running \g<op>)",
    ),
    (
        "tvm check",
        re.compile(r"^Check failed: (?P<cond>.+?) is false: (?P<msg>\S.*)$"),
        r"\g<msg> (check failed: \g<cond>)",
    ),
    ("tvm check, no message", re.compile(r"^Check failed: (?P<cond>.+?) is false:?\s*$"), r"check failed: \g<cond>"),
]
CHECK_AT = re.compile(r"Check '(?P<cond>.*)' failed at (?P<file>[\w.+-]+)")
# ONNX Runtime's Python exception types (their names end in neither Error nor Exception)
ORT_TYPES = "|".join(
    ("Fail", "NotImplemented", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError", "RuntimeException")
    + ("InvalidProtobuf", "InvalidGraph", "EPFail")
)
EXC_TYPE = re.compile(
    rf"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Failure|Interrupt|Warning|Exit)|(?:[\w.]+\.)?(?:{ORT_TYPES})):\s*"
)


def _meaningful(lines: list[str]) -> list[str]:
    return [x for x in lines if not any(p.search(x) for p in CONTEXT)]


def exception(message: str, log: str) -> str:
    """The exception type and the line that states the error (not one that only locates it)."""
    text = normalise(message)
    lines = text.splitlines() or [""]
    m = EXC_TYPE.match(lines[0])
    etype = m["type"].rsplit(".", 1)[-1] if m else ""
    lines[0] = lines[0][m.end() :] if m else lines[0]
    body = _meaningful([x for x in lines if x.strip()])
    if not body:
        body = [x for x in lines if x.strip()] or [""]
    # a report (OpenVINO) ends with its reason; a plain message starts with it
    reason = body[-1] if len(lines) > 1 and _meaningful(lines[:1]) == [] else body[0]
    for _, pat, rep in COMPACT:
        reason = pat.sub(rep, reason)
    checks = [c for c in CHECK_AT.finditer(text) if c["cond"] != "false"]
    if checks and checks[-1].group(0) not in reason:
        reason += f" (check {checks[-1]['cond']} in {checks[-1]['file']})"
    return shorten(f"{etype}: {reason}" if etype else reason)


def crash(message: str, log: str) -> str:
    """The signal or exit code, as the worker reported it (already stable text)."""
    return normalise(message).replace("code N", "code " + _exit_code(message))


def _exit_code(message: str) -> str:
    m = re.search(r"code (-?\d+)", message)
    return m.group(1) if m else "N"


def timeout(message: str, log: str) -> str:
    return "no answer within the time limit"


def oom(message: str, log: str) -> str:
    return "over the memory cap"


def wrong_result(message: str, log: str) -> str:
    return "wrong result"


def nan_mismatch(message: str, log: str) -> str:
    return "NaN or Inf where the reference has none (or the reverse)"


def wrong_dtype(message: str, log: str) -> str:
    d = _detail(message)
    return f"{d.get('got', '?')} instead of {d.get('expected', '?')}"


def wrong_shape(message: str, log: str) -> str:
    d = _detail(message)
    want, got = d.get("expected"), d.get("got")
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"rank {len(got)} instead of {len(want)}"
        return "same rank, other dims"
    return "other shape"


def missing_output(message: str, log: str) -> str:
    return "an output is missing"


def _detail(message: str) -> dict:
    """The dict judge's `_describe` appends to a mismatch message."""
    m = re.search(r"\{.*\}\s*$", message)
    try:
        d = ast.literal_eval(m.group(0)) if m else {}
    except (ValueError, SyntaxError):
        return {}
    return d if isinstance(d, dict) else {}


HEADLINES: dict[str, Callable[[str, str], str]] = {
    "exception": exception,
    "crash": crash,
    "timeout": timeout,
    "oom": oom,
    "wrong_result": wrong_result,
    "nan_mismatch": nan_mismatch,
    "wrong_dtype": wrong_dtype,
    "wrong_shape": wrong_shape,
    "missing_output": missing_output,
}


def headline(kind: str, message: str, log: str = "") -> str:
    """The headline of a failure of `kind` (an unknown kind is treated as an exception)."""
    return HEADLINES.get(kind, exception)(message or "", log or "")
