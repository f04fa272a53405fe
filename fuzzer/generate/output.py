"""Write generated models to disk: `model.onnx` and `meta.json` per model."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

import tensorsmith
from fuzzer.generate.config import GenConfig
from fuzzer.generate.generator import GenStats
from fuzzer.graph.model import Graph


def graph_meta(graph: Graph, seed: int, config: GenConfig, stats: GenStats | None = None) -> dict:
    """Everything needed to reproduce and understand a model (JSON-serialisable)."""
    meta = {
        "seed": seed,
        "tensorsmith_version": tensorsmith.__version__,
        "config": config.to_json(),
        "opset": graph.opset,
        "ops": [n.op for n in graph.nodes],
        "inputs": graph.inputs,
        "weights": graph.weights,
        "outputs": graph.outputs,
        "tensors": {
            n: {
                "dtype": t.ttype.dtype.name,
                "shape": [int(x) for x in t.ttype.shape],
                "role": t.role,
                "domain": [t.domain.lo, t.domain.hi],
            }
            for n, t in graph.tensors.items()
        },
        "constant_nodes": len(graph.constant_nodes()),
    }
    if stats is not None:
        meta["stats"] = {
            "attempts": stats.attempts,
            "forward": stats.forward,
            "backward": stats.backward,
            "solver_calls": stats.solver.calls,
            "solver_checks": stats.solver.checks,
        }
    return meta


def write_model(out_dir: Path, model: onnx.ModelProto, meta: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.onnx").write_bytes(model.SerializeToString())
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
