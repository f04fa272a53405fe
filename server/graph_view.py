"""A layered drawing of an ONNX graph, computed on the server and rendered as inline SVG by a template.

Layers are longest paths from the graph inputs; within a layer nodes are ordered by the mean position
of their producers (two barycentre sweeps), which removes most edge crossings of generated models
without a layout library (Graphviz was rejected: a system binary and a subprocess per page view).
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 132, 30, 18, 34, 10
MAX_NODES = 400


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    label: str
    kind: str  # "op", "input" or "output"
    tooltip: str


@dataclass(frozen=True)
class GraphView:
    width: int
    height: int
    boxes: list[Box]
    edges: list[str]  # SVG path data, numbers only
    box_w: int = BOX_W
    box_h: int = BOX_H
    omitted: int = 0


def _short(text: str, n: int = 20) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _vertices(graph: onnx.GraphProto) -> tuple[list[tuple[str, str, str]], dict[str, int], list[tuple[int, str]]]:
    initializers = {t.name for t in graph.initializer}
    vertices: list[tuple[str, str, str]] = []  # (kind, label, tooltip)
    producer: dict[str, int] = {}
    for value in graph.input:
        if value.name not in initializers:
            producer[value.name] = len(vertices)
            vertices.append(("input", _short(value.name), f"input {value.name}"))
    consumers: list[tuple[int, str]] = []
    for node in graph.node[:MAX_NODES]:
        index = len(vertices)
        tip = f"{node.op_type} {node.name}: ({', '.join(node.input)}) -> ({', '.join(node.output)})"
        vertices.append(("op", _short(node.op_type), tip))
        consumers += [(index, name) for name in node.input if name]
        for name in node.output:
            producer[name] = index
    for value in graph.output:
        consumers.append((len(vertices), value.name))
        vertices.append(("output", _short(value.name), f"output {value.name}"))
    return vertices, producer, consumers


def layout(model: onnx.ModelProto) -> GraphView:
    """Place the graph's inputs, nodes and outputs on layers and route the edges between them."""
    graph = model.graph
    vertices, producer, consumers = _vertices(graph)
    preds: list[list[int]] = [[] for _ in vertices]
    for index, name in consumers:
        if name in producer and producer[name] != index:
            preds[index].append(producer[name])
    layer = [0] * len(vertices)
    for i in range(len(vertices)):  # ONNX nodes are topologically sorted, so one pass suffices
        layer[i] = 1 + max((layer[p] for p in preds[i]), default=-1)
    last = max(layer, default=0)
    for i, (kind, _, _) in enumerate(vertices):
        if kind == "output":
            layer[i] = last
    rows: list[list[int]] = [[] for _ in range(last + 1)]
    for i in range(len(vertices)):
        rows[layer[i]].append(i)
    position = {i: float(k) for row in rows for k, i in enumerate(row)}
    for _ in range(2):
        for row in rows[1:]:
            row.sort(key=lambda i: sum(position[p] for p in preds[i]) / len(preds[i]) if preds[i] else position[i])
            position.update({i: float(k) for k, i in enumerate(row)})
    widest = max((len(r) for r in rows), default=1)
    width = 2 * MARGIN + widest * BOX_W + (widest - 1) * GAP_X
    xy: dict[int, tuple[int, int]] = {}
    for depth, row in enumerate(rows):
        offset = (width - (len(row) * BOX_W + (len(row) - 1) * GAP_X)) // 2
        for k, i in enumerate(row):
            xy[i] = (offset + k * (BOX_W + GAP_X), MARGIN + depth * (BOX_H + GAP_Y))
    height = 2 * MARGIN + len(rows) * BOX_H + (len(rows) - 1) * GAP_Y
    boxes = [Box(*xy[i], label, kind, tip) for i, (kind, label, tip) in enumerate(vertices)]
    edges = []
    for i, ps in enumerate(preds):
        for p in dict.fromkeys(ps):
            (x0, y0), (x1, y1) = xy[p], xy[i]
            x0, y0, x1 = x0 + BOX_W // 2, y0 + BOX_H, x1 + BOX_W // 2
            mid = (y0 + y1) // 2
            edges.append(f"M{x0},{y0} C{x0},{mid} {x1},{mid} {x1},{y1}")
    return GraphView(width, height, boxes, edges, omitted=max(0, len(graph.node) - MAX_NODES))
