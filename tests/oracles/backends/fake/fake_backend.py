"""A test-only backend that misbehaves on request: the model bytes name what to do, and when.

`b"run:segfault"` segfaults in run, `b"prepare:hang"` hangs in prepare, and so on; any other model
runs fine and returns every input doubled. Standard library and numpy only, like a real backend.
"""

from __future__ import annotations

import ctypes
import os
import time

import numpy as np

NAME = "fake"


class Staged(Exception):
    def __init__(self, stage: str, msg: str):
        super().__init__(msg)
        self.stage = stage


def version() -> str:
    return f"fake {os.getpid()}"  # the pid tells a test whether the worker was restarted


def _act(what: str) -> None:
    if what == "segfault":
        ctypes.string_at(0)
    elif what == "abort":
        os.abort()
    elif what == "exit":
        os._exit(3)
    elif what == "hang":
        time.sleep(3600)
    elif what == "oom":
        hog = []
        while True:  # touch every page, so the memory is resident and the RSS watch sees it
            hog.append(np.ones(1 << 24, dtype=np.uint8))
    elif what == "raise":
        raise ValueError("fake failure")
    elif what == "load":
        raise Staged("load", "fake load failure")


def prepare(model: bytes, options: dict, extra: list[bytes]) -> str:
    when, _, what = model.decode(errors="replace").partition(":")
    if when == "prepare":
        _act(what)
    return what if when == "run" else ""


def run(what: str, inputs: dict) -> dict:
    _act(what)
    return {f"{name}.out": np.asarray(a) * 2 for name, a in inputs.items()} | {"pid": np.asarray(os.getpid())}
