"""The read API: buckets and findings as JSON, and the files of sample findings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from server.api.deps import SessionDep, SettingsDep, require_reader_api
from server.api.downloads import download
from server.api.schemas import BucketDetailOut, BucketListOut, BucketOut, EventOut, FindingOut, VersionOut
from server.crud import buckets as crud
from server.wire import API_PREFIX, Kind, Status

router = APIRouter(prefix=API_PREFIX, tags=["read"], dependencies=[Depends(require_reader_api)])


@router.get("/buckets", response_model=BucketListOut)
def list_buckets(
    session: SessionDep,
    settings: SettingsDep,
    backend: str | None = None,
    version: str | None = None,
    kind: Kind | None = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    op: str | None = None,
    q: str | None = None,
    sort: crud.Sort = "-last_seen",
    page: Annotated[int, Query(ge=1)] = 1,
) -> BucketListOut:
    """Buckets matching every given filter, one page at a time."""
    flt = crud.BucketFilter(backend, version, kind, status_, op, q)
    result = crud.list_buckets(session, flt, sort=sort, page=page, page_size=settings.page_size)
    rows = [BucketOut.model_validate(b) for b in result.rows]
    return BucketListOut(total=result.total, page=page, page_size=settings.page_size, buckets=rows)


@router.get("/buckets/{bucket_id}", response_model=BucketDetailOut)
def get_bucket(bucket_id: int, session: SessionDep) -> BucketDetailOut:
    detail = crud.bucket_detail(session, bucket_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"bucket {bucket_id} does not exist")
    return BucketDetailOut(
        bucket=BucketOut.model_validate(detail.bucket),
        titles=detail.titles,
        versions=[VersionOut.model_validate(v) for v in detail.versions],
        days=detail.days,
        samples=[FindingOut.model_validate(f) for f in detail.samples],
        recent=[FindingOut.model_validate(f) for f in detail.recent],
        events=[EventOut.model_validate(e) for e in detail.events],
    )


@router.get("/findings/{finding_id}", response_model=FindingOut)
def get_finding(finding_id: int, session: SessionDep) -> FindingOut:
    finding = crud.finding(session, finding_id)
    if finding is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"finding {finding_id} does not exist")
    return FindingOut.model_validate(finding)


@router.get("/findings/{finding_id}/files/{filename}", response_class=Response)
def get_file(finding_id: int, filename: str, session: SessionDep) -> Response:
    """model.onnx, inputs.npz, outputs.npz, original_model.onnx or repro.py of a sample finding."""
    return download(session, finding_id, filename)
