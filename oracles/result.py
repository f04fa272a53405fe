"""What running one model on one backend gives: outputs, or a failure as a value."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# failure kinds
EXCEPTION = "exception"  # the backend raised (stage says where)
CRASH = "crash"  # the worker died by a signal (segfault, abort) or exited unexpectedly
TIMEOUT = "timeout"  # no answer within timeout_s
OOM = "oom"  # the worker went over its memory cap
KINDS = (EXCEPTION, CRASH, TIMEOUT, OOM)
STAGES = ("load", "compile", "run")


@dataclass
class Failure:
    """A backend's failure on one model (data, never an exception through the campaign)."""

    kind: str
    stage: str
    message: str  # one line: exception type and message, or what happened to the process
    log: str = ""  # traceback, stderr tail
    signal: int | None = None

    def to_json(self) -> dict:
        return {"kind": self.kind, "stage": self.stage, "message": self.message, "log": self.log, "signal": self.signal}


@dataclass
class Outcome:
    """A backend's answer for one model: outputs by name, or a failure."""

    backend: str
    version: str
    outputs: dict[str, np.ndarray] | None = None
    failure: Failure | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None
