"""Checks of uploaded files: each returns an error message (a value) or ``None`` when the file is acceptable."""

from __future__ import annotations

import io
import zipfile

import onnx
from google.protobuf.message import DecodeError

NPZ_FIELDS = ("inputs", "outputs")
ONNX_FIELDS = ("model", "original_model")


def parse_model(data: bytes) -> onnx.ModelProto | str:
    """The parsed model, or why it is not one: a protobuf-level parse plus the fields a model must have.

    The full ``onnx.checker`` is not run: a backend bug can hide in a model the checker of this server's
    onnx version disagrees with, and the generator already checks every model it emits.
    """
    if not data:
        return "is empty"
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        return f"is not an ONNX ModelProto ({type(exc).__name__}: {exc})"
    if not model.HasField("graph"):
        return "has no graph"
    if not model.opset_import:
        return "has no opset_import"
    if not model.graph.output:
        return "has a graph without outputs"
    return model


def check_npz(data: bytes) -> str | None:
    """Whether ``data`` looks like numpy's .npz: a zip archive of ``.npy`` members (read without numpy)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError) as exc:
        return f"is not an .npz archive ({exc})"
    bad = [n for n in names if not n.endswith(".npy")]
    if bad:
        return f"is not an .npz archive: members {bad[:3]!r} are not .npy arrays"
    return None


def op_types(model: onnx.ModelProto) -> list[str]:
    """The op types of the main graph (with their domain when it is not the default one)."""
    return sorted(
        {f"{n.domain}:{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type for n in model.graph.node}
    )
