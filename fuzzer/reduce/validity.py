"""Is a candidate a valid model? Structure, the specs' shape rules, the ONNX checker, and a torch run.

Every candidate passes here before any backend sees it, so a reduced finding is always a model
that the specs, the ONNX checker and shape inference, and the specs' torch code all accept.
`retype` re-derives tensor types through the specs after an edit that changes shapes or attributes
(shrinking a dim, simplifying an attribute).
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import select
import signal
import time

import numpy as np
import z3

from fuzzer.graph.torch_run import run_torch
from fuzzer.graph.validate import InvalidModel, validate
from fuzzer.reduce.case import Case, Rejected
from fuzzer.spec.base import OpSpec, TType
from fuzzer.spec.registry import get


def check(case: Case) -> dict[str, np.ndarray]:
    """Raise Rejected unless `case` is a valid model; return the value of every tensor (torch run)."""
    g = case.graph
    _check_structure(case)
    for node in g.nodes:
        ins = [g.tensors[i].ttype for i in node.inputs]
        want = [g.tensors[o].ttype for o in node.outputs]
        got = node_types(g.opset, get(node.op), ins, node.attrs, want)
        if got != want:
            raise Rejected(f"{node.op}: the spec infers {got} for {node.outputs}")
    model = case.model()
    if case.novel:  # attributes or shapes no generator drew: ONNX's C++ checks might crash on them
        _isolated(_onnx_check, g, model)
    else:
        _onnx_check(g, model)
    try:
        values = run_torch(g, case.feeds, keep_all=True)
    except Exception as e:  # a spec's torch code on values it rejects: the candidate is invalid, not us
        raise Rejected(f"torch: {type(e).__name__}: {e}") from None
    for name, t in g.tensors.items():
        v = values.get(name)
        if v is None or v.shape != tuple(t.ttype.shape) or v.dtype != t.ttype.dtype.numpy:
            raise Rejected(f"torch gives {name} another type than the spec")
    return values


def _onnx_check(graph, model) -> None:
    """The ONNX checker and shape inference against our types."""
    try:
        validate(graph, model)
    except InvalidModel as e:
        raise Rejected(f"ONNX: {e}") from None


def _isolated(fn, *args, timeout_s: float = 10.0):
    """fn(*args) in a forked child, so that a crash in native code (ONNX's shape inference aborts on
    some attribute values no generator draws, e.g. Split with num_outputs != its outputs) rejects
    the candidate instead of ending the reduction. Only ONNX's checks run there: torch's thread pool
    may hang in a forked child. Rejected: a persistent checker process, which would pickle every
    candidate both ways for a rare case."""
    if not hasattr(os, "fork"):
        return fn(*args)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, and says nothing (a crash is reported by the parent)
        os.close(r)
        faulthandler.disable()
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        try:
            out = (True, fn(*args))
        except Rejected as e:
            out = (False, str(e))
        except BaseException as e:  # noqa: BLE001 (reported to the parent, which raises it as ours)
            out = (None, f"{type(e).__name__}: {e}")
        with os.fdopen(w, "wb") as f:
            pickle.dump(out, f)
        os._exit(0)
    os.close(w)
    data = _read(r, time.monotonic() + timeout_s)
    if data is None:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if not data:
        raise Rejected(f"the ONNX checker crashed or hung on this candidate (wait status {status})")
    ok, out = pickle.loads(data)
    if ok is None:
        raise RuntimeError(f"checking a candidate failed: {out}")
    if not ok:
        raise Rejected(out)
    return out


def _read(fd: int, deadline: float) -> bytes | None:
    """Everything written to the pipe until its writer closes it; None at the deadline."""
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _check_structure(case: Case) -> None:
    g = case.graph
    if not g.nodes or not g.outputs:
        raise Rejected("no node or no output")
    made = {o for n in g.nodes for o in n.outputs}
    if any(o not in made for o in g.outputs) or len(set(g.outputs)) != len(g.outputs):
        raise Rejected("every graph output must be a distinct computed tensor")
    if any(i not in g.tensors for n in g.nodes for i in n.inputs):
        raise Rejected("a node reads a tensor that does not exist")
    if set(case.feeds) != set(g.inputs) or set(g.values) != set(g.weights):
        raise Rejected("inputs or weights without values")
    for name in g.inputs + g.weights:
        t, v = g.tensors[name], case.leaf(name)
        if v.shape != tuple(t.ttype.shape) or v.dtype != t.ttype.dtype.numpy:
            raise Rejected(f"value of {name} does not match its type")


def node_types(opset: int, spec: OpSpec, ins: list[TType], attrs: dict, outs: list[TType]) -> list[TType]:
    """The output types the spec gives for concrete inputs and attributes; Rejected if invalid."""
    try:
        shapes = spec.infer(ins, attrs)
        conds = spec.requires(ins, attrs)
        binding: dict = {}
        if not spec.inputs:  # a source op learns its dtype from the output's binding (see spec.ops.source)
            binding = {tv: t.dtype for tv, t in zip(spec.output_tvars(opset), outs)}
        for k, t in enumerate(ins):
            binding.setdefault(spec.input_tvar(k, opset), t.dtype)
        dtypes = spec.out_dtypes(ins, attrs, binding, opset)
    except Exception as e:  # a spec hook outside the attributes/shapes the generator draws
        raise Rejected(f"{spec.name()}: {type(e).__name__}: {e}") from None
    if not all(_holds(c) for c in conds):
        raise Rejected(f"{spec.name()}: a shape rule does not hold")
    out = []
    for shape, dt in zip(shapes, dtypes):
        dims = tuple(_int(x) for x in shape)
        if any(d < 1 for d in dims):
            raise Rejected(f"{spec.name()}: empty dim in {dims}")
        out.append(TType(dt, dims))
    return out


def retype(case: Case, changed: set[str], dirty: set[int] = frozenset()) -> Case:
    """Re-derive node output types after the tensors `changed` (or nodes `dirty`) changed. In place.

    A node whose spec draws values from its input shapes (`finalize`, e.g. Gather's indices) draws
    them again from a fixed seed, so the edit stays deterministic.
    """
    g = case.graph
    changed = set(changed)
    for idx, node in enumerate(g.nodes):
        if idx not in dirty and not any(i in changed for i in node.inputs):
            continue
        spec = get(node.op)
        ins = [g.tensors[i].ttype for i in node.inputs]
        if type(spec).finalize is not OpSpec.finalize:
            try:
                node.attrs = spec.finalize(np.random.default_rng(0), ins, dict(node.attrs))
            except Exception as e:  # e.g. Resize refuses a rounding edge
                raise Rejected(f"{spec.name()}: finalize: {type(e).__name__}: {e}") from None
        outs = [g.tensors[o].ttype for o in node.outputs]
        for o, tt in zip(node.outputs, node_types(g.opset, spec, ins, node.attrs, outs)):
            if g.tensors[o].ttype != tt:
                g.tensors[o].ttype = tt
                changed.add(o)
    return case


def _holds(c) -> bool:
    if isinstance(c, (bool, np.bool_)):
        return bool(c)
    if isinstance(c, z3.BoolRef):
        return z3.is_true(z3.simplify(c))
    return bool(c)


def _int(x) -> int:
    if isinstance(x, z3.ArithRef):
        x = z3.simplify(x)
        if not z3.is_int_value(x):
            raise Rejected(f"symbolic dim {x}")
        return x.as_long()
    return int(x)
