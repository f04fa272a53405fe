"""The tensor element types tensorsmith generates, and their ONNX, NumPy and torch names."""

from __future__ import annotations

import enum

import ml_dtypes
import numpy as np
import onnx
import torch


class DType(enum.Enum):
    """An element type; the value is the ONNX type string used in operator schemas."""

    float16 = "tensor(float16)"
    bfloat16 = "tensor(bfloat16)"
    float32 = "tensor(float)"
    float64 = "tensor(double)"
    int8 = "tensor(int8)"
    uint8 = "tensor(uint8)"
    int32 = "tensor(int32)"
    int64 = "tensor(int64)"
    bool = "tensor(bool)"

    @property
    def onnx(self) -> int:
        return _ONNX[self]

    @property
    def numpy(self) -> np.dtype:
        return _NUMPY[self]

    @property
    def torch(self) -> torch.dtype:
        return _TORCH[self]

    @property
    def is_float(self) -> bool:
        return self in FLOATS

    @property
    def is_int(self) -> bool:
        return self in INTS

    @classmethod
    def parse(cls, name: str) -> DType:
        """Parse a user-facing name such as ``float32``; raise ValueError naming the choices."""
        try:
            return cls[name]
        except KeyError:
            choices = ", ".join(d.name for d in cls)
            raise ValueError(f"unknown dtype {name!r}; expected one of: {choices}") from None

    @classmethod
    def from_onnx(cls, elem_type: int) -> DType:
        for d, v in _ONNX.items():
            if v == elem_type:
                return d
        raise ValueError(f"ONNX element type {elem_type} is not one tensorsmith generates")


_T = onnx.TensorProto
_ONNX = {
    DType.float16: _T.FLOAT16,
    DType.bfloat16: _T.BFLOAT16,
    DType.float32: _T.FLOAT,
    DType.float64: _T.DOUBLE,
    DType.int8: _T.INT8,
    DType.uint8: _T.UINT8,
    DType.int32: _T.INT32,
    DType.int64: _T.INT64,
    DType.bool: _T.BOOL,
}
_NUMPY = {
    DType.float16: np.dtype(np.float16),
    DType.bfloat16: np.dtype(ml_dtypes.bfloat16),
    DType.float32: np.dtype(np.float32),
    DType.float64: np.dtype(np.float64),
    DType.int8: np.dtype(np.int8),
    DType.uint8: np.dtype(np.uint8),
    DType.int32: np.dtype(np.int32),
    DType.int64: np.dtype(np.int64),
    DType.bool: np.dtype(np.bool_),
}
_TORCH = {
    DType.float16: torch.float16,
    DType.bfloat16: torch.bfloat16,
    DType.float32: torch.float32,
    DType.float64: torch.float64,
    DType.int8: torch.int8,
    DType.uint8: torch.uint8,
    DType.int32: torch.int32,
    DType.int64: torch.int64,
    DType.bool: torch.bool,
}

FLOATS = frozenset({DType.float16, DType.bfloat16, DType.float32, DType.float64})
INTS = frozenset({DType.int8, DType.uint8, DType.int32, DType.int64})
SIGNED = frozenset({DType.int8, DType.int32, DType.int64}) | FLOATS
NUMERIC = FLOATS | INTS
ALL = NUMERIC | {DType.bool}
BY_ONNX_STR = {d.value: d for d in DType}
