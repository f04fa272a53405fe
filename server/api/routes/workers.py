"""The workers' write API: findings (multipart) and heartbeats (JSON), both behind the worker token."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Response, UploadFile, status
from pydantic import ValidationError

from server.api.deps import SettingsDep, TxDep, require_worker
from server.crud.campaigns import record_heartbeat
from server.crud.ingest import IngestLimits, ingest
from server.uploads import NPZ_FIELDS, ONNX_FIELDS, check_npz, op_types, parse_model
from server.wire import API_PREFIX, FindingAck, FindingIn, HeartbeatAck, HeartbeatIn

router = APIRouter(prefix=API_PREFIX, tags=["workers"], dependencies=[Depends(require_worker)])

UNPROCESSABLE = 422  # by number: its constant was renamed between Starlette versions

Upload = Annotated[UploadFile | None, File()]


def _finding(text: str) -> FindingIn:
    try:
        return FindingIn.model_validate_json(text)
    except ValidationError as exc:
        errors = json.loads(exc.json(include_url=False))
        for e in errors:
            e["loc"] = ["body", "finding", *e.get("loc", [])]
        raise HTTPException(UNPROCESSABLE, errors) from None


def _blobs(files: dict[str, UploadFile | None]) -> tuple[dict[str, bytes], list[str]]:
    """Read and check the uploaded files; also return the model's op types."""
    blobs = {name: f.file.read() for name, f in files.items() if f is not None}
    ops: list[str] = []
    for name in ONNX_FIELDS:
        if name in blobs:
            parsed = parse_model(blobs[name])
            if isinstance(parsed, str):
                raise HTTPException(UNPROCESSABLE, f"file {name!r} {parsed}")
            if name == "model":
                ops = op_types(parsed)
    for name in NPZ_FIELDS:
        if name in blobs and (problem := check_npz(blobs[name])):
            raise HTTPException(UNPROCESSABLE, f"file {name!r} {problem}")
    return blobs, ops


@router.post(
    "/findings",
    response_model=FindingAck,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "already uploaded (same finding_id): the earlier answer"}, 413: {}, 422: {}},
)
def upload_finding(
    response: Response,
    settings: SettingsDep,
    tx: TxDep,
    finding: Annotated[str, Form(description="a FindingIn (server.wire) as JSON")],
    model: Annotated[UploadFile, File(description="the reduced model.onnx")],
    inputs: Upload = None,
    outputs: Upload = None,
    original_model: Upload = None,
) -> FindingAck:
    """Store a finding in the bucket of its title; a retry with the same ``finding_id`` stores nothing new."""
    f = _finding(finding)
    blobs, ops = _blobs({"model": model, "inputs": inputs, "outputs": outputs, "original_model": original_model})
    if not f.op_types and ops:
        f = f.model_copy(update={"op_types": ops})
    limits = IngestLimits(settings.samples_per_bucket, settings.metadata_log_chars)
    result = tx.run(lambda session: ingest(session, f, blobs, limits=limits))
    if result.duplicate:
        response.status_code = status.HTTP_200_OK
    return FindingAck(
        finding_id=f.finding_id,
        id=result.finding_id,
        bucket_id=result.bucket_id,
        duplicate=result.duplicate,
        new_bucket=result.new_bucket,
        sampled=result.sampled,
        reopened=result.reopened,
    )


@router.post("/heartbeats", response_model=HeartbeatAck)
def heartbeat(hb: HeartbeatIn, tx: TxDep) -> HeartbeatAck:
    """Record a worker's cumulative statistics; replays add nothing."""
    added = tx.run(lambda session: record_heartbeat(session, hb))
    return HeartbeatAck(campaign_id=hb.campaign_id, worker_id=hb.worker_id, tests_added=added)
