"""Framing between the campaign and a backend worker process (standard library and numpy only).

This module is imported on the worker side, possibly by another Python with an older numpy, so it
uses nothing but the standard library and numpy. A message is a JSON header plus raw byte blobs:

    u32 header length | header (UTF-8 JSON, with "_blobs": [len, ...]) | blob 0 | blob 1 | ...

Arrays travel as raw bytes with dtype and shape in the header (bfloat16 as its uint16 bits), never as
pickles, so both sides may run different numpy releases.
"""

from __future__ import annotations

import json
import struct

import numpy as np

_LEN = struct.Struct(">I")
BF16 = "bfloat16"
# bfloat16 bits in an environment without ml_dtypes: uint16 tagged so that they travel as bfloat16
BF16_BITS = np.dtype(np.uint16, metadata={"dtype": BF16})


def write_msg(f, header: dict, blobs: list[bytes] = ()) -> None:
    blobs = list(blobs)
    head = json.dumps(dict(header, _blobs=[len(b) for b in blobs])).encode()
    f.write(_LEN.pack(len(head)))
    f.write(head)
    for b in blobs:
        f.write(b)
    f.flush()


def _read_exact(f, n: int) -> bytes:
    chunks, left = [], n
    while left:
        c = f.read(left)
        if not c:
            raise EOFError(f"stream closed with {left} of {n} bytes unread")
        chunks.append(c)
        left -= len(c)
    return b"".join(chunks)


def read_msg(f) -> tuple[dict, list[bytes]]:
    (n,) = _LEN.unpack(_read_exact(f, _LEN.size))
    header = json.loads(_read_exact(f, n))
    blobs = [_read_exact(f, k) for k in header.pop("_blobs", [])]
    return header, blobs


def dtype_name(a: np.ndarray) -> str:
    bf16 = a.dtype.name == BF16 or (a.dtype.metadata or {}).get("dtype") == BF16
    return BF16 if bf16 else a.dtype.str


def pack_arrays(arrays: dict[str, np.ndarray]) -> tuple[list[dict], list[bytes]]:
    """Array descriptions for a header, and their bytes as blobs (same order)."""
    metas, blobs = [], []
    for name, a in arrays.items():
        shape = list(np.shape(a))  # before ascontiguousarray, which turns a 0-d array into shape (1,)
        a = np.ascontiguousarray(a)
        metas.append({"name": name, "dtype": dtype_name(a), "shape": shape})
        blobs.append(a.view(np.uint16).tobytes() if dtype_name(a) == BF16 else a.tobytes())
    return metas, blobs


def unpack_arrays(metas: list[dict], blobs: list[bytes], bf16=None) -> dict[str, np.ndarray]:
    """Inverse of pack_arrays; bfloat16 becomes `bf16` (ml_dtypes.bfloat16) if given, else BF16_BITS."""
    out = {}
    for m, b in zip(metas, blobs):
        if m["dtype"] == BF16:
            a = np.frombuffer(b, dtype=np.uint16)
            a = a.view(bf16) if bf16 is not None else a.view(BF16_BITS)
        else:
            a = np.frombuffer(b, dtype=np.dtype(m["dtype"]))
        out[m["name"]] = a.reshape(m["shape"]).copy()
    return out
