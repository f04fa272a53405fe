"""Triage forms of the dashboard: status, notes, merge. Signed-in users only, CSRF-checked, 303 back on success."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, status
from fastapi.responses import RedirectResponse

from server.api.deps import TxDep, UserDep, check_csrf
from server.crud import triage
from server.wire import Status

router = APIRouter(tags=["triage"], include_in_schema=False, dependencies=[Depends(check_csrf)])


def _done(result: object, bucket_id: int) -> RedirectResponse:
    if isinstance(result, triage.Rejected):
        code = status.HTTP_404_NOT_FOUND if result.missing else status.HTTP_400_BAD_REQUEST
        raise HTTPException(code, result.reason)
    return RedirectResponse(f"/buckets/{bucket_id}", status.HTTP_303_SEE_OTHER)


def _optional_int(text: str, field: str) -> int | None:
    text = text.strip().lstrip("#")
    if not text:
        return None
    if not text.isdigit():
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{field} must be a bucket number, got {text!r}")
    return int(text)


@router.post("/buckets/{bucket_id}/status")
def set_status(
    bucket_id: int,
    user: UserDep,
    tx: TxDep,
    status_: Annotated[Status, Form(alias="status")],
    reported_url: Annotated[str, Form(max_length=1000)] = "",
    duplicate_of: Annotated[str, Form(max_length=20)] = "",
) -> RedirectResponse:
    target = _optional_int(duplicate_of, "duplicate_of")
    result = tx.run(
        lambda s: triage.set_status(
            s, bucket_id, status_, author=user, reported_url=reported_url.strip() or None, duplicate_of=target
        )
    )
    return _done(result, bucket_id)


@router.post("/buckets/{bucket_id}/notes")
def add_note(bucket_id: int, user: UserDep, tx: TxDep, text: Annotated[str, Form()]) -> RedirectResponse:
    return _done(tx.run(lambda s: triage.add_note(s, bucket_id, text, author=user)), bucket_id)


@router.post("/buckets/{bucket_id}/merge")
def merge(bucket_id: int, user: UserDep, tx: TxDep, other: Annotated[str, Form(max_length=20)]) -> RedirectResponse:
    """Merge bucket ``other`` into this one (its findings, titles and counts move here)."""
    source = _optional_int(other, "other")
    if source is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "name the bucket to merge in")
    return _done(tx.run(lambda s: triage.merge(s, source, bucket_id, author=user)), bucket_id)
