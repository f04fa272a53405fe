"""Small pure parts of the server: version order, graph layout, plots, upload checks."""

from __future__ import annotations

from datetime import datetime, timedelta

import onnx

from server.graph_view import layout
from server.plots import MAX_POINTS, time_plot
from server.uploads import check_npz, op_types, parse_model
from server.versions import is_newer, version_key
from tests.server.factory import make_model, make_npz


def test_version_order() -> None:
    assert version_key("1.10.0") > version_key("1.9.2")
    assert version_key("2.0rc1") < version_key("2.0") < version_key("2.0.post1") < version_key("2.0.1")
    assert version_key("2.1.0.dev20250101") < version_key("2.1.0")
    assert is_newer("0.19.0", "0.18.0") and not is_newer("0.18.0", "0.18.0") and is_newer("0.1", None)


def test_layout_places_a_chain_top_down_with_one_edge_per_link() -> None:
    view = layout(onnx.load_from_string(make_model(("Relu", "Neg", "Abs"))))
    kinds = [b.kind for b in view.boxes]
    assert kinds == ["input", "op", "op", "op", "output"]
    ys = [b.y for b in view.boxes]
    assert ys == sorted(ys) and len(set(ys)) == 5
    assert len(view.edges) == 4 and all(e.startswith("M") for e in view.edges)


def test_layout_of_a_diamond_puts_branches_side_by_side() -> None:
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Neg", ["x"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["y"]),
    ]
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1])  # noqa: E731
    model = helper.make_model(helper.make_graph(nodes, "d", [vi("x")], [vi("y")]))
    view = layout(model)
    relu, neg = view.boxes[1], view.boxes[2]
    assert relu.y == neg.y and relu.x != neg.x and len(view.edges) == 5


def test_plots_bin_long_series_and_accumulate() -> None:
    t0 = datetime(2025, 1, 1)
    series = [(t0 + timedelta(minutes=k), 1.0) for k in range(1000)]
    plot = time_plot(series, label="x", cumulative=True)
    assert len(plot.points.split()) <= MAX_POINTS and plot.y_max == 1000
    assert time_plot([], label="x").empty
    bars = time_plot(series[:3], label="x", bars=True)
    assert len(bars.bars) == 3 and not bars.points


def test_upload_checks() -> None:
    model = parse_model(make_model(("Relu", "Neg")))
    assert not isinstance(model, str) and op_types(model) == ["Neg", "Relu"]
    assert parse_model(b"\xff") != model and isinstance(parse_model(b"\xff"), str)
    assert check_npz(make_npz()) is None and check_npz(b"PK\x03\x04") is not None
