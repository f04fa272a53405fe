"""Normalise an error message: strip what varies between runs of one bug, keep what names the bug.

Rules are data: an ordered table of (name, pattern, replacement), applied in order; each is tested
by the golden files. What goes: addresses, temp paths, PIDs, line numbers, numbers, tensor and node
names (t12, n3, lv4, Add_562669), shape tuples. What stays: exception types, dtype names (int64,
float16), op names, identifiers with digits (conv1d, resize2d, opset1), source file names.
"""

from __future__ import annotations

import re

N = "N"

# applied to the whole text first: notes a backend inserts into the middle of a message
PRE: list[tuple[str, re.Pattern, str]] = [
    (
        "tvm metadata note",
        re.compile(r"\s*# Metadata omitted\. Use show_meta=True in script\(\) method to show it\.\s*"),
        " ",
    ),
    (
        "tvm op repr",
        re.compile(r'ir\.Op\(span=None, ty=ir\.Type\(span=None\), name="([^"]+)".*?support_level=\d+\)', re.S),
        r"\1",
    ),
    ("log line", re.compile(r"\[\d\d:\d\d:\d\d\] [^\s:]+:\d+: (?:Warning|Info|Debug|Note): [^\n]*"), ""),
    ("tvm big const", re.compile(r'metadata\["ir\.GenericConst"\]\[\d+\]'), "R.const(…)"),
    ("tvm type note", re.compile(r"\s*\(Type of R\.\w+\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)\)"), ""),
]

RULES: list[tuple[str, re.Pattern, str]] = [
    # paths first, so later rules do not see their digits
    ("temp path", re.compile(r"/tmp/[^\s'\"),:]+"), "<tmp>"),
    (
        "source location",
        re.compile(r"(?:[\w.+-]*/)*([\w.+-]+\.(?:cpp|cc|cxx|c|h|hpp|hxx|py|pyx|pxi|td|mlir)):\d+(?::\d+)?"),
        r"\1",
    ),
    ("py location", re.compile(r'File "(?:[^"]*/)?([^"/]+)", line \d+'), r'File "\1"'),
    ("line", re.compile(r"\bline \d+"), "line N"),
    ("address", re.compile(r"\b0x[0-9a-fA-F]+\b"), "0x?"),
    ("pid", re.compile(r"\b(pid|PID|process|thread)[ =:]*\d+"), r"\1 N"),
    # names tensorsmith gives (t12, t12.axes3, n3) and names backends derive from them
    ("tensor name", re.compile(r"\bt\d+(?:\.[A-Za-z_]+\d*)?(?:\[\d+\])?"), "v?"),
    ("node name", re.compile(r"\bn\d+\b"), "v?"),  # one placeholder: backends name a node by either
    ("tvm var", re.compile(r"\b(?:lv|gv)\d*\b"), "v?"),
    ("numbered name", re.compile(r"\b([A-Za-z][A-Za-z]*)_\d{2,}\b"), r"\1_?"),
    ("mlir value", re.compile(r"%[\w.]+"), "%?"),
    # numbers: not inside identifiers (int64, conv1d, opset1 keep theirs)
    ("number", re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])"), N),
    # a tuple or list of numbers (a shape) is N* whatever its length; a single number after a name
    # (Relu(14), T.int64(3)) stays N
    ("shape", re.compile(r"(?<!\w)([(\[{])\s*N(?:\s*[,x]\s*N)*\s*,?\s*([)\]}])"), r"\1N*\2"),
    ("shape args", re.compile(r"(?<=\w)\(\s*N(?:\s*,\s*N)+\s*,?\s*\)"), "(N*)"),
    ("space", re.compile(r"[ \t]+"), " "),
]


def normalise(text: str) -> str:
    """`text` with every rule of `RULES` applied, in order, line by line (empty lines dropped)."""
    for _, pat, rep in PRE:
        text = pat.sub(rep, text)
    lines = []
    for line in text.splitlines():
        for _, pat, rep in RULES:
            line = pat.sub(rep, line)
        line = line.strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def shorten(text: str, limit: int = 160) -> str:
    """At most `limit` characters, cut at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:(") + "…"
