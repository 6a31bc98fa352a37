"""Enterprise fleet and batch endpoints (JSON): list lines, close many in one batch, per-line results.

Another company's admin gets 404 for this company's lines and batches, like ones that do not
exist; any other role gets 403 from deps.py whatever the id. State-changing calls need a bearer
token (deps.py reads the pages' cookie for GET only); should a cookie ever authenticate a POST here,
it must also carry the page's CSRF token in `X-CSRF-Token`.
"""
from __future__ import annotations

import hmac

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from canceldesk.service_layer import batch_export, batches
from canceldesk.service_layer.errors import Forbidden

from ..deps import ContainerDep, CurrentEnterpriseAdmin, Lang
from ..schemas import Strict

router = APIRouter(prefix="/v1/enterprise", tags=["enterprise"])


class BatchCreate(Strict):
    msisdns: list[str] = Field(min_length=1, max_length=batches.MAX_LINES)
    kind: str = Field("close_line", max_length=32)
    reason: str | None = Field(None, max_length=500)
    acknowledged_warnings: list[str] = Field(default_factory=list, max_length=20)
    submit: bool = Field(False, description="close the eligible lines as soon as they are pre-checked")


class BatchSubmit(Strict):
    acknowledged_warnings: list[str] = Field(default_factory=list, max_length=20)
    otp: str | None = Field(None, max_length=12, description="more than a handful of lines: the code sent to your admin number")
    confirm_count: int | None = Field(None, ge=0, le=batches.MAX_LINES,
                                      description="more than a handful of lines: the number of lines, typed back")


def _csrf_if_cookie(request: Request, c) -> None:
    if request.headers.get("authorization"):
        return
    token = request.cookies.get("cd_session") or ""
    given = request.headers.get("x-csrf-token", "")
    if not token or not given or not hmac.compare_digest(c.keyring.sign("csrf:" + token, 32), given):
        raise Forbidden("a cookie-authenticated POST needs the page's X-CSRF-Token header", code="CSRF_FAILED")


@router.get("/lines", summary="The company's lines, one page at a time")
def lines(p: CurrentEnterpriseAdmin, c: ContainerDep, q: str = Query("", max_length=20),
          filter: str = Query("", max_length=20), page: int = Query(1, ge=1), size: int = Query(50, ge=1, le=200)):
    return batches.fleet(c, p, q=q, flag=filter, page=page, size=size)


@router.post("/batches", status_code=202, summary="Pre-check many lines (and, with submit, close the eligible ones)")
def create_batch(body: BatchCreate, p: CurrentEnterpriseAdmin, c: ContainerDep, request: Request, lang: Lang,
                 background: BackgroundTasks):
    _csrf_if_cookie(request, c)
    b = batches.create(c, p, body.msisdns, body.kind, body.reason)
    if body.submit:
        background.add_task(batches.run_all, c, p, b["id"], body.acknowledged_warnings, lang)
    else:
        background.add_task(batches.run_prechecks, c, p, b["id"], lang)
    return JSONResponse(status_code=202, content=b, headers={"Location": f"/v1/enterprise/batches/{b['id']}"})


@router.post("/batches/{batch_id}/submit", status_code=202, summary="Close the eligible lines of a pre-checked batch")
def submit_batch(batch_id: str, body: BatchSubmit, p: CurrentEnterpriseAdmin, c: ContainerDep, request: Request, lang: Lang,
                 background: BackgroundTasks):
    _csrf_if_cookie(request, c)
    b = batches.submit(c, p, batch_id, body.acknowledged_warnings, body.otp, body.confirm_count)
    background.add_task(batches.run_submit, c, p, batch_id, lang)
    return JSONResponse(status_code=202, content=b)


@router.get("/batches/{batch_id}", summary="A batch: phase, progress, outcome (completed / partial / failed)")
def batch_status(batch_id: str, p: CurrentEnterpriseAdmin, c: ContainerDep):
    return batches.status(c, p, batch_id)


@router.get("/batches/{batch_id}/results", summary="Per-line results, one page at a time")
def batch_results(batch_id: str, p: CurrentEnterpriseAdmin, c: ContainerDep, show: str = Query("", max_length=20),
                  page: int = Query(1, ge=1), size: int = Query(50, ge=1, le=500)):
    return batches.results(c, p, batch_id, show=show, page=page, size=size)


@router.get("/batches/{batch_id}/results.csv", summary="Per-line results as CSV",
            responses={200: {"content": {"text/csv": {}}}})
def batch_results_csv(batch_id: str, p: CurrentEnterpriseAdmin, c: ContainerDep):
    text = batch_export.results_csv(c, p, batch_id)
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="batch-{batch_id[:8]}-results.csv"'})
