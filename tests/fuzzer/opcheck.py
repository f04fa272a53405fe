"""Run one generated graph three ways (torch specs, onnx.reference, ONNX Runtime) and compare."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx.reference import ReferenceEvaluator

from fuzzer.generate.generator import leaf_values
from fuzzer.graph.model import Graph
from fuzzer.graph.torch_run import run_torch
from fuzzer.spec.dtypes import DType

TOL = {
    DType.float16: (1e-2, 2e-3),
    DType.bfloat16: (4e-2, 2e-2),
    DType.float32: (2e-4, 1e-5),
    DType.float64: (1e-8, 1e-10),
}


def feeds_for(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: leaf_values(rng, graph.tensors[n]) for n in graph.inputs}


# onnx.reference computes float16/bfloat16 in that precision step by step (a sum of n values
# accumulates n roundings), where torch and ORT accumulate in float32; judge it more loosely there.
LOOSE = {DType.float16: (2e-2, 2e-2), DType.bfloat16: (8e-2, 8e-2)}


def assert_close(name: str, dtype: DType, want: np.ndarray, got: np.ndarray, what: str, loose=False) -> None:
    got = np.asarray(got)
    assert tuple(got.shape) == tuple(want.shape), f"{what}: {name} shape {got.shape} != {want.shape}"
    if dtype.is_float:
        rtol, atol = LOOSE[dtype] if loose and dtype in LOOSE else TOL[dtype]
        w, g = want.astype(np.float64), got.astype(np.float64)
        scale = max(1.0, float(np.nanmax(np.abs(w), initial=0.0)))
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * scale, equal_nan=True, err_msg=f"{what}: {name}")
    else:
        np.testing.assert_array_equal(got.astype(want.dtype), want, err_msg=f"{what}: {name}")


def ort_session(model: onnx.ModelProto):
    """An ORT session, or None when ORT has no kernel for this op/dtype (a support gap)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types; NOT_IMPLEMENTED is a gap
        if "NOT_IMPLEMENTED" in str(e) or "Could not find an implementation" in str(e):
            return None
        raise


def reference_bugs(graph: Graph) -> list[str]:
    """Known onnx.reference bugs this graph triggers (valid ONNX it computes wrongly or rejects)."""
    found = []
    for n in graph.nodes:
        if n.op == "Pad" and any(p < 0 for p in n.attrs["_pads"]):
            found.append("onnx.reference Pad: np.pad rejects negative (cropping) pads")
        if n.op == "Slice":
            shape = graph.tensors[n.inputs[0]].ttype.shape
            r = len(shape)
            axes = list(range(r)) if n.attrs["_axes"] is None else [a % r for a in n.attrs["_axes"]]
            steps = n.attrs["_steps"] or [1] * len(axes)
            if any(k < 0 and st < -shape[ax] for ax, st, k in zip(axes, n.attrs["_starts"], steps)):
                found.append("onnx.reference Slice: start below -dim with a negative step is not clamped")
        if n.op == "LRN":
            shape = graph.tensors[n.inputs[0]].ttype.shape
            if shape[0] != shape[1]:
                found.append("onnx.reference LRN: sums over the batch axis instead of channels (onnx#7805)")
        if n.op == "GlobalLpPool":
            found.append("onnx.reference has no GlobalLpPool")
        x = graph.tensors[n.inputs[0]].ttype if n.inputs else None
        if n.op in ("Softsign", "ReduceLogSumExp") and x is not None and x.rank == 0:
            found.append(f"onnx.reference {n.op}: a rank-0 input gives a NumPy scalar, not an array")
        if n.op in ("ReduceSumSquare", "ReduceL1") and x is not None and x.dtype.name == "int32":
            found.append(f"onnx.reference {n.op}: int32 input gives an int64 output")
    return found


def check_three_ways(graph: Graph, model: onnx.ModelProto, seed: int) -> dict[str, str]:
    """Compare torch specs with onnx.reference and ORT. Returns notes on support gaps."""
    notes = {}
    feeds = feeds_for(graph, seed)
    want = run_torch(graph, feeds)
    for n in graph.outputs:
        t = graph.tensors[n].ttype
        assert want[n].dtype == t.dtype.numpy, f"torch spec gives {want[n].dtype} for {n}, spec says {t.dtype}"
        assert tuple(want[n].shape) == tuple(t.shape), f"torch gives shape {want[n].shape} for {n}, spec {t.shape}"
    known = reference_bugs(graph)
    if known:
        notes["reference"] = "; ".join(known)
    else:
        ref = ReferenceEvaluator(model).run(None, feeds)
        for n, r in zip(graph.outputs, ref):
            assert_close(n, graph.tensors[n].ttype.dtype, want[n], r, "onnx.reference vs torch spec", loose=True)
    if any(graph.tensors[n].ttype.dtype == DType.bfloat16 for n in graph.inputs + graph.outputs):
        # ORT's Python API neither takes nor returns bfloat16 numpy arrays
        notes["ort"] = "bfloat16 at the graph boundary"
        return notes
    sess = ort_session(model)
    if sess is None:
        notes["ort"] = "no kernel"
        return notes
    got = sess.run(None, feeds)
    for n, r in zip(graph.outputs, got):
        assert_close(n, graph.tensors[n].ttype.dtype, want[n], r, "onnxruntime vs torch spec")
    return notes
