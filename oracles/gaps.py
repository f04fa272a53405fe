"""Known non-bugs: features a backend documents as unsupported, recognised from its error message.

A support gap (a dtype without a kernel, an op a frontend does not convert) is recorded once per
campaign under a normalised key and never reported as a finding. Patterns are per backend kind and
deliberately narrow: an error that is not clearly "unsupported" stays a finding.
"""

from __future__ import annotations

import re

from oracles.result import EXCEPTION, Failure

# backend kind -> patterns of messages that mean "this feature is not supported"
PATTERNS: dict[str, list[str]] = {
    "onnxruntime": [r"NOT_IMPLEMENTED : Could not find an implementation for", r"is not supported"],
    "onnxruntime-opt": [r"NOT_IMPLEMENTED : Could not find an implementation for", r"is not supported"],
    "onnxruntime-injected": [r"NOT_IMPLEMENTED : Could not find an implementation for", r"is not supported"],
    "tvm": [
        r"not (yet )?(been )?(implemented|supported)",
        r"NotImplementedError",
        r"Unsupported",
        # stated limitations (bench/results/findings.md): "layer_norm: only support float32 and float16 for
        # now", "Only resize1d/resize2d/resize3d are supported.", "currently only supports stash_type=1"
        r"only supports? .* for now",
        r"\bOnly [\w/]+ (is|are) supported",
        r"currently only supports",
    ],
    "openvino": [r"is not supported", r"[Nn]ot implemented", r"Unsupported", r"only supports resize on spatial dim"],
    "iree": [r"not (yet )?supported", r"unsupported", r"failed to legalize"],
    "reference": [r"No registered implementation", r"not implemented"],
}

_NUM = re.compile(r"\b\d+\b")
_NAME = re.compile(r"(?:node with name|name) '[^']*'")
_QUOTED = re.compile(r"'t\d+'|\"t\d+\"")
_NODE = re.compile(r"<Node\((\w+)\): [^>]*>")  # OpenVINO's "<Node(Pad): n3>"


def normalise(message: str) -> str:
    """The message without node/tensor names and numbers, so one gap is one key."""
    m = _NAME.sub("name '?'", message)
    m = _QUOTED.sub("'?'", m)
    m = _NODE.sub(r"<Node(\1)>", m)
    return _NUM.sub("N", m).strip()[:300]


def gap_key(kind_name: str, failure: Failure) -> str | None:
    """A key for the support gap this failure is, or None if it may be a bug."""
    if failure.kind != EXCEPTION:
        return None
    for pat in PATTERNS.get(kind_name, []):
        if re.search(pat, failure.message):
            return f"{kind_name}: {normalise(failure.message)}"
    return None
