"""The dashboard's pages: bucket list, bucket, campaigns, campaign, and the sample files as downloads."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from server.api.deps import SessionDep, SettingsDep, require_reader_page
from server.api.downloads import download
from server.crud import buckets as crud
from server.crud.campaigns import campaign_detail, list_campaigns, worker_alive
from server.graph_view import layout
from server.models import utcnow
from server.plots import time_plot
from server.uploads import parse_model
from server.wire import Status

router = APIRouter(tags=["dashboard"], include_in_schema=False, dependencies=[Depends(require_reader_page)])

Text = Annotated[str | None, Query(max_length=500)]


def _render(request: Request, name: str, **context: object) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/buckets", status.HTTP_303_SEE_OTHER)


@router.get("/buckets", response_class=HTMLResponse)
def buckets_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    backend: Text = None,
    version: Text = None,
    kind: Text = None,
    status_: Annotated[str | None, Query(alias="status", max_length=32)] = None,
    op: Text = None,
    q: Text = None,
    sort: crud.Sort = "-last_seen",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    flt = crud.BucketFilter(*(v or None for v in (backend, version, kind, status_, op, q)))
    result = crud.list_buckets(session, flt, sort=sort, page=page, page_size=settings.page_size)
    pages = max(1, -(-result.total // settings.page_size))
    return _render(
        request,
        "buckets.html",
        result=result,
        flt=flt,
        sort=sort,
        sorts=crud.SORTS,
        page=page,
        pages=pages,
        facets=crud.facets(session),
        statuses=[s.value for s in Status],
    )


@router.get("/buckets/{bucket_id}", response_class=HTMLResponse)
def bucket_page(request: Request, bucket_id: int, session: SessionDep) -> HTMLResponse:
    detail = crud.bucket_detail(session, bucket_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"bucket {bucket_id} does not exist")
    graph, graph_finding, graph_error = None, None, None
    for sample in detail.samples:
        data = crud.blob(session, sample.id, "model")
        if data is None:
            continue
        parsed = parse_model(data)
        graph_finding = sample
        if isinstance(parsed, str):
            graph_error = f"model {parsed}"
        else:
            graph = layout(parsed)
        break
    days = [(datetime.combine(d, time()), n) for d, n in detail.days]
    plot = time_plot(days, label="findings per day", bars=True)
    diffs_of = next((f for f in detail.samples if f.diffs), None)
    return _render(
        request,
        "bucket.html",
        d=detail,
        b=detail.bucket,
        plot=plot,
        graph=graph,
        graph_finding=graph_finding,
        graph_error=graph_error,
        diffs_of=diffs_of,
        statuses=[s.value for s in Status],
    )


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return _render(request, "campaigns.html", campaigns=list_campaigns(session, alive_s=settings.worker_alive_s))


@router.get("/campaigns/{campaign_id:path}", response_class=HTMLResponse)
def campaign_page(request: Request, campaign_id: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    now = utcnow()
    detail = campaign_detail(session, campaign_id, alive_s=settings.worker_alive_s, now=now)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"campaign {campaign_id!r} does not exist")
    minutes = detail.minutes
    plots = [
        time_plot([(m.minute, m.tests / 60) for m in minutes], label="tests per second (per-minute mean)"),
        time_plot([(m.minute, m.findings) for m in minutes], label="findings (running total)", cumulative=True),
        time_plot([(m.minute, m.new_buckets) for m in minutes], label="new buckets (running total)", cumulative=True),
    ]
    alive = {w.worker_id: worker_alive(w, alive_s=settings.worker_alive_s, now=now) for w in detail.workers}
    top = max((n for _, n in detail.op_coverage), default=1) or 1
    return _render(request, "campaign.html", c=detail, s=detail.summary, plots=plots, alive=alive, top=top)


@router.get("/findings/{finding_id}/{filename}", response_class=Response)
def finding_file(finding_id: int, filename: str, session: SessionDep) -> Response:
    return download(session, finding_id, filename)
