"""A reduction candidate: a graph with its input values, how big it is, and the edits every pass shares.

A `Case` owns its `Graph` (weights in `graph.values`) and `feeds` (graph inputs). Arrays are shared
between cases and never written in place; everything else is copied by `Case.copy`, so a pass edits
its copy freely. `size` is the order the reducer shrinks along: a candidate is accepted only if it is
strictly smaller, which is what makes the passes terminate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import onnx

from fuzzer.graph.model import Graph, Node, Tensor
from fuzzer.graph.onnx_io import to_onnx
from fuzzer.spec.registry import get
from fuzzer.spec.sym import prod


class Rejected(Exception):
    """A candidate that is not a valid model (specs, ONNX checker, torch run): skipped, never run."""


@dataclass
class Case:
    """A graph and its input values; `values` holds every tensor's value once the case was checked."""

    graph: Graph
    feeds: dict[str, np.ndarray]
    values: dict[str, np.ndarray] | None = field(default=None, compare=False)
    novel: bool = field(default=False, compare=False)  # attributes or shapes the generator never made: check apart
    _model: onnx.ModelProto | None = field(default=None, compare=False, repr=False)

    def copy(self) -> Case:
        g = self.graph
        graph = Graph(
            opset=g.opset,
            tensors={n: replace(t) for n, t in g.tensors.items()},
            nodes=[Node(n.op, list(n.inputs), list(n.outputs), _copy_attrs(n.attrs)) for n in g.nodes],
            outputs=list(g.outputs),
            values=dict(g.values),
        )
        return Case(graph, dict(self.feeds))

    def leaf(self, name: str) -> np.ndarray:
        """The value of an input or weight."""
        return self.feeds[name] if name in self.feeds else self.graph.values[name]

    def set_leaf(self, name: str, value: np.ndarray) -> None:
        if self.graph.tensors[name].role == "input":
            self.feeds[name] = value
        else:
            self.graph.values[name] = value

    def model(self) -> onnx.ModelProto:
        """The ONNX model (made once: a case is not edited after it is handed to the reducer)."""
        if self._model is None:
            try:
                self._model = to_onnx(self.graph)
            except Exception as e:  # a spec's emit on attributes the generator never draws
                raise Rejected(f"emit: {type(e).__name__}: {e}") from None
        return self._model

    def digest(self) -> str:
        """A hash of the model bytes and the input values: equal digests run identically."""
        h = hashlib.sha1(self.model().SerializeToString())
        for name in sorted(self.feeds):
            arr = np.ascontiguousarray(self.feeds[name])
            h.update(f"{name}|{arr.dtype}|{arr.shape}".encode())
            h.update(arr.tobytes())
        return h.hexdigest()


def _copy_attrs(attrs: dict) -> dict:
    return {k: _copy_value(v) for k, v in attrs.items()}


def _copy_value(v):
    if isinstance(v, list):
        return [_copy_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy_value(x) for k, x in v.items()}
    return v


# --- size -----------------------------------------------------------------------------------


def size(case: Case) -> tuple:
    """Shortlex-style size: nodes, elements, tensors, outputs, attribute cost, value cost."""
    g = case.graph
    elems = sum(prod(t.ttype.shape) for t in g.tensors.values())
    attrs = sum(attr_cost(g.opset, n.op, k, v) for n in g.nodes for k, v in n.attrs.items())
    vals = sum(value_cost(case.leaf(n)) for n, t in g.tensors.items() if t.role != "node")
    return (len(g.nodes), int(elems), len(g.tensors), len(g.outputs), round(attrs, 6), vals)


def value_cost(arr: np.ndarray) -> int:
    """Non-zero elements plus non-integral ones: zeros are simplest, then small integers."""
    a = np.asarray(arr)
    if a.dtype == np.bool_:
        return int(np.count_nonzero(a))
    f = a.astype(np.float64)
    with np.errstate(invalid="ignore"):
        return int(np.count_nonzero(f)) + int(np.count_nonzero(f != np.round(f)))


def attr_cost(opset: int, op: str, key: str, value) -> float:
    """0 for an absent attribute or the ONNX default; otherwise grows with the value's magnitude."""
    if value is None:
        return 0.0
    has, default = schema_default(opset, op, key)
    if has and same_value(value, default):
        return 0.0
    return 1.0 + magnitude(value)


def magnitude(v) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, np.integer)):
        return float(min(abs(int(v)), 1 << 31))  # INT64_MAX "to the end" sentinels count as big, not huge
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not np.isfinite(f):
            return 1e9
        return min(abs(f), 1e9) + (0.0 if f.is_integer() else 0.5)
    if isinstance(v, (list, tuple)):
        return float(len(v)) + sum(magnitude(x) for x in v)
    return 1.0


def same_value(a, b) -> bool:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)):
            return False
        return all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
        try:
            return float(np.float32(a)) == float(np.float32(b))
        except (TypeError, ValueError):
            return False
    if isinstance(b, bytes):
        b = b.decode()
    return a == b


def schema_default(opset: int, op: str, key: str) -> tuple[bool, object]:
    """(True, value) if the ONNX schema of the spec's op gives attribute `key` a default."""
    if key.startswith("_"):
        return False, None
    from onnx import helper

    schema = get(op).schema(opset)
    attr = schema.attributes.get(key) if schema is not None else None
    if attr is None or attr.required or not attr.default_value.type:
        return False, None
    return True, helper.get_attribute_value(attr.default_value)


# --- shared edits ---------------------------------------------------------------------------


def prune(case: Case) -> Case:
    """Drop nodes no output depends on, then every tensor (and value) nothing uses. In place."""
    g = case.graph
    live = set(g.outputs)
    keep: list[Node] = []
    for node in reversed(g.nodes):
        if any(o in live for o in node.outputs):
            keep.append(node)
            live.update(node.inputs)
    g.nodes = keep[::-1]
    used = live | {o for n in g.nodes for o in n.outputs}
    for name in list(g.tensors):
        if name not in used:
            del g.tensors[name]
            g.values.pop(name, None)
            case.feeds.pop(name, None)
    return case


def rename_uses(graph: Graph, old: str, new: str) -> None:
    """Every read of `old` (node inputs, graph outputs) reads `new` instead."""
    for node in graph.nodes:
        node.inputs = [new if i == old else i for i in node.inputs]
    graph.outputs = list(dict.fromkeys(new if o == old else o for o in graph.outputs))


def make_leaf(case: Case, name: str, role: str, value: np.ndarray) -> None:
    """Turn a computed tensor into a graph input or an initializer holding `value`; its producer goes."""
    g = case.graph
    g.nodes = [n for n in g.nodes if name not in n.outputs]
    t = g.tensors[name]
    g.tensors[name] = Tensor(name, t.ttype, role, consumer_domain(g, name))
    case.set_leaf(name, np.asarray(value, dtype=t.ttype.dtype.numpy))


def consumer_domain(graph: Graph, name: str):
    """The narrowest value domain the consumers of `name` declare for it."""
    dom = graph.tensors[name].domain
    for node in graph.nodes:
        spec = get(node.op)
        for k, i in enumerate(node.inputs):
            if i == name:
                dom = dom.meet(spec.input_at(k).domain)
    return dom


def cone(graph: Graph, name: str) -> int:
    """How many nodes `name` depends on (itself included if computed)."""
    prod_of = graph.producer()
    seen: set[int] = set()
    todo = [name]
    while todo:
        n = prod_of.get(todo.pop())
        if n is not None and id(n) not in seen:
            seen.add(id(n))
            todo.extend(n.inputs)
    return len(seen)
