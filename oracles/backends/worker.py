"""A backend worker process: serves one backend module over stdin/stdout (standard library + numpy).

Run as `python worker.py MODULE OPTIONS_JSON` by any Python that has numpy, onnx and the backend, so
this file and the backend modules import nothing from tensorsmith (torch-based backends excepted,
which run in tensorsmith's own interpreter). A backend module defines:

    NAME: str
    version() -> str
    prepare(model: bytes, options: dict, extra: list[bytes]) -> handle   # may raise Staged
    run(handle, inputs: dict[str, ndarray]) -> dict[str, ndarray]

An exception is reported back as a value with its stage ("load", "compile", "run") and traceback; a
crash or hang of the process is seen by the parent as a signal or a timeout.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback

import wire

try:
    import ml_dtypes

    BF16 = ml_dtypes.bfloat16
except ImportError:  # an old environment: bfloat16 arrays stay as their uint16 bits
    BF16 = None


def _protocol_streams():
    """Keep the real stdout for the protocol and send everything printed to stderr instead."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return sys.stdin.buffer, out


def _error(stage: str, e: BaseException) -> dict:
    tb = traceback.format_exception(type(e), e, e.__traceback__)
    return {"ok": False, "stage": getattr(e, "stage", stage), "error": f"{type(e).__name__}: {e}", "trace": "".join(tb)}


def serve(mod, options: dict, inp, out) -> None:
    handle = None
    while True:
        try:
            header, blobs = wire.read_msg(inp)
        except EOFError:
            return
        cmd = header.get("cmd")
        t0 = time.perf_counter()
        if cmd == "hello":
            info = {"ok": True, "name": mod.NAME, "python": sys.version.split()[0]}
            try:
                info["version"] = mod.version()
            except Exception as e:  # a backend that cannot even report its version is unusable
                info = _error("load", e)
            wire.write_msg(out, info)
        elif cmd == "prepare":
            handle = None
            try:
                handle = mod.prepare(blobs[0], dict(options, **header.get("options", {})), blobs[1:])
                reply = {"ok": True}
            except Exception as e:
                reply = _error("compile", e)
            wire.write_msg(out, dict(reply, seconds=time.perf_counter() - t0))
        elif cmd == "run":
            try:
                feeds = wire.unpack_arrays(header["inputs"], blobs, BF16)
                res = mod.run(handle, feeds)
                metas, data = wire.pack_arrays(res)
                wire.write_msg(out, {"ok": True, "outputs": metas, "seconds": time.perf_counter() - t0}, data)
            except Exception as e:
                wire.write_msg(out, dict(_error("run", e), seconds=time.perf_counter() - t0))
        elif cmd == "exit":
            return
        else:
            wire.write_msg(out, {"ok": False, "stage": "protocol", "error": f"unknown command {cmd!r}"})


def main() -> None:
    inp, out = _protocol_streams()
    module, options = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    try:
        mod = importlib.import_module(module)
    except Exception as e:
        header, _ = wire.read_msg(inp)
        wire.write_msg(out, _error("load", e))
        return
    serve(mod, options, inp, out)


if __name__ == "__main__":
    main()
