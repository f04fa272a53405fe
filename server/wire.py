"""Wire models shared by the server and the campaign's client (pydantic only, no server or fuzzer imports).

A finding travels as one multipart request: the form field ``finding`` holds a :class:`FindingIn` as JSON,
and the files ``model`` (model.onnx), ``inputs`` and ``outputs`` (.npz) and ``original_model`` carry the blobs.
A heartbeat is a plain JSON :class:`HeartbeatIn`. Both are idempotent: a retry of the same finding key is
recognised by the server, and heartbeat counters are cumulative, so a replayed heartbeat adds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

API_PREFIX = "/api/v1"
FINDINGS_PATH = f"{API_PREFIX}/findings"
HEARTBEATS_PATH = f"{API_PREFIX}/heartbeats"
TOKEN_HEADER = "Authorization"  # "Bearer <worker token>"

MAX_TITLE_CHARS = 500
MAX_LOG_CHARS = 64 * 1024
MAX_REPRO_CHARS = 256 * 1024
MAX_ALT_TITLES = 8
MAX_OP_TYPES = 512
FILE_FIELDS = ("model", "inputs", "outputs", "original_model")

Key = Annotated[str, StringConstraints(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE_CHARS)]
OpType = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Kind(StrEnum):
    """What went wrong in the backend."""

    crash = "crash"
    exception = "exception"
    timeout = "timeout"
    wrong_result = "wrong_result"
    wrong_shape = "wrong_shape"
    wrong_dtype = "wrong_dtype"
    nan_mismatch = "nan_mismatch"
    other = "other"


class Stage(StrEnum):
    """Where in the backend it went wrong."""

    load = "load"
    compile = "compile"
    run = "run"


class Status(StrEnum):
    """Triage status of a bucket."""

    new = "new"
    confirmed = "confirmed"
    reported = "reported"
    fixed = "fixed"
    duplicate = "duplicate"
    not_a_bug = "not_a_bug"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Backend(_Wire):
    """The backend a finding was seen on: its name, version and configuration (opt level, device, ...)."""

    name: Name
    version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    config: dict[str, Any] = Field(default_factory=dict)


class OutputDiff(_Wire):
    """How one output differs from the reference (for wrong_result / wrong_shape / nan_mismatch findings)."""

    output: Name
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    mismatched: int | None = Field(default=None, ge=0, description="elements outside the tolerance")
    total: int | None = Field(default=None, ge=0)
    expected_shape: list[int] | None = None
    actual_shape: list[int] | None = None
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class FindingIn(_Wire):
    """One failing test case as a worker reports it; ``finding_id`` is the client-made idempotency key."""

    finding_id: Key
    campaign_id: Name
    worker_id: Name
    seed: int = Field(ge=0, lt=2**63)
    tensorsmith_version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    backend: Backend
    kind: Kind
    stage: Stage
    title: Title
    alt_titles: list[Title] = Field(default_factory=list, max_length=MAX_ALT_TITLES)
    error_log: Annotated[str, StringConstraints(max_length=MAX_LOG_CHARS)] = ""
    op_types: list[OpType] = Field(default_factory=list, max_length=MAX_OP_TYPES)
    diffs: list[OutputDiff] = Field(default_factory=list, max_length=64)
    meta: dict[str, Any] = Field(default_factory=dict)
    repro_py: Annotated[str, StringConstraints(max_length=MAX_REPRO_CHARS)] = ""
    found_at: datetime | None = None


class FindingAck(_Wire):
    """The server's answer to an upload; ``duplicate`` is true when the key had been uploaded before."""

    finding_id: Key
    id: int
    bucket_id: int
    duplicate: bool
    new_bucket: bool = False
    sampled: bool = False
    reopened: bool = False


class HeartbeatIn(_Wire):
    """A worker's liveness and cumulative campaign statistics (totals since the worker started)."""

    campaign_id: Name
    worker_id: Name
    tensorsmith_version: Annotated[str, StringConstraints(max_length=64)] = ""
    backends: list[Name] = Field(default_factory=list, max_length=32)
    tests_total: int = Field(ge=0)
    findings_total: int = Field(default=0, ge=0)
    op_counts: dict[OpType, Annotated[int, Field(ge=0)]] = Field(default_factory=dict, max_length=MAX_OP_TYPES)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class HeartbeatAck(_Wire):
    """The server's answer to a heartbeat."""

    campaign_id: Name
    worker_id: Name
    tests_added: int
