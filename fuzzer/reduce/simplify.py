"""Passes that keep the graph's structure and simplify what it holds: attributes and leaf values."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from fuzzer.reduce.case import Case, Rejected, attr_cost, schema_default, value_cost
from fuzzer.reduce.validity import retype
from fuzzer.spec.base import Domain
from fuzzer.spec.registry import get


def simplify_attrs(case: Case) -> Iterator[Case | Rejected]:
    """Move one attribute to its ONNX default, or drop it where the schema makes it optional.

    Only toward the schema: a smaller number of our own choosing (LRN size 0, say) can pass every
    check yet be a model no one would accept as a bug report; defaults are always meaningful.
    """
    g = case.graph
    for idx, node in enumerate(g.nodes):
        for key in sorted(node.attrs):
            value = node.attrs[key]
            cost = attr_cost(g.opset, node.op, key, value)
            if cost == 0:
                continue
            for new in attr_candidates(g.opset, node.op, key):
                if attr_cost(g.opset, node.op, key, new) >= cost:
                    continue
                c = case.copy()
                c.novel = True
                c.graph.nodes[idx].attrs[key] = new
                try:
                    yield retype(c, set(), {idx})
                except Rejected as e:
                    yield e


def attr_candidates(opset: int, op: str, key: str) -> list:
    """The ONNX default of an attribute, then its absence if the schema makes it optional."""
    if key.startswith("_"):
        return []
    out: list = []
    has, default = schema_default(opset, op, key)
    if has:
        out.append(default)
    schema = get(op).schema(opset)
    formal = schema.attributes.get(key) if schema is not None else None
    if formal is not None and not formal.required:
        out.append(None)
    return out


def simplify_values(case: Case) -> Iterator[Case | Rejected]:
    """Replace an input's or weight's values by zeros, ones, signs, their rounding, or zero half of them."""
    g = case.graph
    leaves = sorted((n for n, t in g.tensors.items() if t.role != "node"), key=lambda n: (-case.leaf(n).size, n))
    for name in leaves:
        arr = case.leaf(name)
        cost = value_cost(arr)
        if cost == 0:
            continue
        for new in value_candidates(arr):
            if value_cost(new) >= cost:
                continue
            if not in_domain(new, g.tensors[name].domain):
                yield Rejected(f"values of {name} outside its operators' domain")
                continue
            c = case.copy()
            c.set_leaf(name, new)
            yield c


def value_candidates(arr: np.ndarray) -> list[np.ndarray]:
    dt = arr.dtype
    if dt == np.bool_:
        flat = arr.reshape(-1)
        half = flat.size // 2
        return [np.zeros_like(arr), _zero(flat, slice(half, None), arr.shape), _zero(flat, slice(0, half), arr.shape)]
    f = arr.astype(np.float64)
    flat = f.reshape(-1)
    half = flat.size // 2
    out = [np.zeros(arr.shape), np.ones(arr.shape), np.sign(f), np.round(f)]
    if flat.size > 1:
        out += [_zero(flat, slice(half, None), arr.shape), _zero(flat, slice(0, half), arr.shape)]
    return [np.asarray(x, dtype=np.float64).astype(dt) for x in out]


def _zero(flat: np.ndarray, part: slice, shape) -> np.ndarray:
    out = flat.copy()
    out[part] = 0
    return out.reshape(shape)


def in_domain(arr: np.ndarray, domain: Domain) -> bool:
    if arr.dtype == np.bool_:
        return True
    f = arr.astype(np.float64)
    return bool(np.all((f >= domain.lo) & (f <= domain.hi)))
