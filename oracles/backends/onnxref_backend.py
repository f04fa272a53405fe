"""onnx.reference.ReferenceEvaluator, ONNX's executable specification in numpy (stdlib, numpy, onnx only).

Stage "load" is building the evaluator (it checks every node has an implementation); "run" is the
evaluation. It computes float16/bfloat16 step by step in that precision, so it is slow on large
tensors and rounds more than backends that accumulate in float32.
"""

from __future__ import annotations

import numpy as np
import onnx
from stage import stage

NAME = "reference"


def version() -> str:
    return onnx.__version__


def prepare(model: bytes, options: dict, extra: list[bytes]):
    from onnx.reference import ReferenceEvaluator

    with stage("load"):
        return ReferenceEvaluator(onnx.load_from_string(model))


def run(ref, inputs: dict) -> dict:
    outputs = ref.run(None, inputs)
    return {name: np.asarray(value) for name, value in zip(ref.output_names, outputs)}
