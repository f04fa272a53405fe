"""The top frames of a failure's traceback: Python frames, TVM's C++ frames, native backtraces.

Like ClusterFuzz's crash state, a frame is a function name (C++ without return type, template and
parameter lists; Python as `module.function`), innermost first, with glue frames skipped: our worker
and backend modules, the standard library, FFI trampolines. Frames are read from the last traceback
in the log (the one that reached the worker); within it the innermost frame comes first.
"""

from __future__ import annotations

import re

PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<func>.+?)\s*$')
NATIVE_FRAME = re.compile(r"^\s*#\d+\s+(?:0x[0-9a-fA-F]+\s+in\s+)?(?P<func>[^\s(][^(]*?)\s*\(")
TVM_NATIVE_FRAME = re.compile(r"^\s*\d+:\s+(?P<func>\S.*)$")

# frames that say nothing about the bug: where they match, the next frame inward is taken
IGNORE: list[re.Pattern] = [
    re.compile(p)
    for p in (
        r"(^|/)(worker|stage|boundary|inject|wire)\.py$",  # tensorsmith's worker side
        r"(^|/)\w+_backend\.py$",
        r"(^|/)python3\.\d+/(?!site-packages)",  # the standard library
        r"^<frozen ",
        r"(^|/)tvm_ffi/|function\.pxi$",  # TVM's FFI trampolines
        r"^TVMFFI|^tvm::ffi::|^TVMFuncCall|^tvm::runtime::PackedFunc",
        r"^tvm::ObjectMutator|^tvm::ffi::UnchangedOr|Functor<|::VisitExpr\b|::VisitStmt\b|::operator\(\)$",
        r"^(__libc_start|_start$|start_thread|clone3?$|abort$|raise$|__GI_|__pthread_kill|gsignal)",
        r"^_?PyEval|^_?PyObject_|^_?Py[A-Z]\w+|^cfunction_|^method_vectorcall",
        r"(^|/)(block_builder|transform|onnxruntime_inference_collection)\.py$",
        r"torch/(nn/modules/module|_dynamo/eval_frame|_functorch/.*|_inductor/output_code)\.py",
    )
]


def frames(log: str, *, limit: int = 3) -> list[str]:
    """Up to `limit` meaningful frames of the last traceback in `log`, innermost first."""
    blocks = re.split(r"Traceback \(most recent call last\):", log)
    tb = blocks[-1] if len(blocks) > 1 else log
    found: list[str] = []
    for line in tb.splitlines():
        f = frame(line)
        if f is not None:
            found.append(f)
    out: list[str] = []
    for f in reversed(found):  # a Python traceback lists the innermost frame last
        if f not in out:
            out.append(f)
        if len(out) == limit:
            break
    return out


def frame(line: str) -> str | None:
    """The function a traceback line names, or None if it is not a frame or is glue."""
    m = PY_FRAME.match(line)
    if m:
        file = m["file"]
        python = file.endswith((".py", ".pxi", ".pyx"))
        func = m["func"] if python else cxx_name(m["func"])
        if any(p.search(file) or p.search(func) for p in IGNORE):
            return None
        if python:
            return f"{_module(file)}.{func}" if func != "<module>" else _module(file)
        return func
    m = NATIVE_FRAME.match(line) or TVM_NATIVE_FRAME.match(line)
    if m:
        name = cxx_name(m["func"])
        if name and not any(p.search(name) for p in IGNORE):
            return name
    return None


def _module(path: str) -> str:
    if path.startswith("/tmp/"):
        return "<generated>"  # code a compiler wrote to a temp file (Inductor): its name is a hash
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def cxx_name(sig: str) -> str:
    """`ns::Class::method` from a C++ signature: no return type, template arguments or parameters."""
    s = _strip_nested(sig.strip(), "<", ">")
    s = s.split("(", 1)[0].strip()
    s = s.split()[-1] if s else s
    return s.lstrip("*&")


def _strip_nested(s: str, open_: str, close: str) -> str:
    out, depth = [], 0
    for ch in s:
        if ch == open_:
            depth += 1
        elif ch == close and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)
